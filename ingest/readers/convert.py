"""Text columns to the canonical cost columns: exact decimals, UTC timestamps, JSON tags,
with errors that name the file, line and column. Shared by every billing reader."""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import IngestError, quoted
from ingest.readers.tabular import TextBatch, normalize_header
from ingest.schema import COST_COLUMNS, COST_SCHEMA, TIMESTAMP, Column


# The longest text each canonical column stores (CostRecord's max_length; the database refuses
# longer values, and a refusal there would look like a failing database, not a bad file).
TEXT_MAX_LENGTHS = {
    "provider_name": 100,
    "billing_account_id": 200,
    "invoice_id": 200,
    "sub_account_id": 200,
    "service_name": 200,
    "service_category": 100,
    "service_subcategory": 100,
    "region_id": 100,
    "resource_id": 1000,
    "resource_name": 400,
    "resource_type": 200,
    "sku_id": 200,
    "charge_category": 32,
    "charge_class": 32,
    "consumed_unit": 100,
    "pricing_unit": 100,
    "billing_currency": 3,
}
# Dates outside these bounds are no billing date, and near datetime's own limits (years 1 and
# 9999) shifting them into the reporting time zone overflows.
EARLIEST_TIMESTAMP = pa.scalar(datetime(1900, 1, 1, tzinfo=UTC), TIMESTAMP)
LATEST_TIMESTAMP = pa.scalar(datetime(2200, 1, 1, tzinfo=UTC), TIMESTAMP)


def to_cost_batch(
    values: dict[str, pa.Array | None], *, batch: TextBatch, source: str, origin: dict[str, str]
) -> pa.RecordBatch:
    """Convert text columns (keyed by canonical name) into one COST_SCHEMA batch.

    `origin` maps each canonical name to the source header it came from, for error messages.
    """
    arrays = []
    for column in COST_COLUMNS:
        text = values.get(column.name)
        if text is None:
            text = pa.nulls(batch.num_rows, pa.string())
        arrays.append(
            _convert(column, text, batch=batch, source=source, header=origin.get(column.name, column.name))
        )
    return pa.RecordBatch.from_arrays(arrays, schema=COST_SCHEMA)


# Each check below first asks a cheap question of the whole column (its null count, the
# lengths in its offsets, its bytes), and only looks row by row for the one to report once the
# answer says something is wrong: a file with no problem pays the cheap question only. Per
# million rows, the row-by-row forms of these checks took ~3 s of the reader thread's CPU.


def _convert(column: Column, text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    text = pc.utf8_trim_whitespace(text)
    if column.required and (text.null_count or _has_empty(text)):
        missing = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
        row = pc.index(missing, True).as_py()
        raise IngestError("a value is required here", source=source, line=batch.first_line + row, column=header)
    if column.is_text:
        if column.name == "tags":
            return _tags(text, batch=batch, source=source, header=header)
        max_length = TEXT_MAX_LENGTHS.get(column.name)
        _check_storable(text, max_length=max_length, batch=batch, source=source, header=header)
        return pc.fill_null(text, "")
    if column.type == TIMESTAMP:
        timestamps = _timestamps(text, batch=batch, source=source, header=header)
        _check_plausible_dates(timestamps, shown=text, batch=batch, source=source, header=header)
        return timestamps
    return _decimals(text, column.type, batch=batch, source=source, header=header)


def _check_storable(
    text: pa.Array, *, max_length: int | None, batch: TextBatch, source: str, header: str
) -> None:
    """Text the database cannot store is an error in the file, located like any other."""
    has_nul = _bytes_hold(text, b"\x00") and pc.match_substring(text, "\x00")
    if has_nul and pc.any(has_nul).as_py():
        row = pc.index(has_nul, True).as_py()
        raise IngestError(
            "the value contains a NUL character (U+0000), which text cannot store",
            source=source,
            line=batch.first_line + row,
            column=header,
        )
    # A value no longer in bytes than max_length has at most max_length characters.
    if max_length is None or _longest(text) <= max_length:
        return
    too_long = pc.greater(pc.utf8_length(text), max_length)
    if pc.any(too_long).as_py():
        row = pc.index(too_long, True).as_py()
        raise IngestError(
            f"the value is {len(text[row].as_py())} characters long; at most {max_length} fit here "
            f"(it starts {quoted(text[row].as_py(), limit=40)})",
            source=source,
            line=batch.first_line + row,
            column=header,
        )


def _has_empty(text: pa.Array) -> bool:
    """Whether a value is "": asked of the lengths in the offsets, not of the values."""
    return pc.min(pc.binary_length(text)).as_py() == 0


def _longest(text: pa.Array) -> int:
    """Bytes in the longest value (0 for none), from the offsets."""
    return pc.max(pc.binary_length(text)).as_py() or 0


def _bytes_hold(text: pa.Array, byte: bytes) -> bool:
    """Whether any value may hold `byte`, asked of the column's data buffer at memchr speed.
    It can only err towards yes (a sliced array's buffer also holds values outside it)."""
    if not pa.types.is_string(text.type):
        return True
    data = text.buffers()[2]
    return data is not None and data.to_pybytes().find(byte) >= 0


def _check_plausible_dates(
    values: pa.Array, *, shown: pa.Array, batch: TextBatch, source: str, header: str
) -> None:
    # Compared as Arrow scalars: a year-0 timestamp has no Python datetime.
    span = pc.min_max(values)
    if not span["min"].is_valid or not (
        pc.less(span["min"], EARLIEST_TIMESTAMP).as_py() or pc.greater_equal(span["max"], LATEST_TIMESTAMP).as_py()
    ):
        return
    outside = pc.or_(pc.less(values, EARLIEST_TIMESTAMP), pc.greater_equal(values, LATEST_TIMESTAMP))
    if pc.any(outside).as_py():
        row = pc.index(outside, True).as_py()
        raise IngestError(
            f"{quoted(shown[row].as_py())} is outside the years 1900-2199",
            source=source,
            line=batch.first_line + row,
            column=header,
        )


def _timestamps(text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    # Most exports already write ISO 8601 with a zone, which the cast reads as it is. The
    # rewrites cost ~40% of converting a FOCUS file, so they run only when the cast fails. They
    # change no text the cast accepts: each one rewrites a spelling without a zone, or not in
    # ISO order, and the cast refuses both.
    try:
        return pc.cast(text, TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _cast_located(
            _iso_timestamps(text), TIMESTAMP, batch=batch, source=source, header=header, what="date/time"
        )


def _iso_timestamps(text: pa.Array) -> pa.Array:
    """Rewrite the date spellings real exports use into ISO 8601 with an explicit zone."""
    text = pc.replace_substring_regex(text, r" UTC$", "Z")
    # MM/DD/YYYY[ HH:MM:SS] as written by Azure EA and spreadsheet round-trips.
    text = pc.replace_substring_regex(text, r"^(\d)/", r"0\1/")
    text = pc.replace_substring_regex(text, r"^(\d\d)/(\d)/", r"\1/0\2/")
    text = pc.replace_substring_regex(text, r"^(\d\d)/(\d\d)/(\d{4})", r"\3-\1-\2")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d\d-\d\d)$", r"\1T00:00:00")
    return pc.replace_substring_regex(
        text, r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?)$", r"\1Z"
    )


def _decimals(text: pa.Array, target: pa.DataType, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    # Most columns hold plain numbers at or under the stored scale, which Arrow's cast to the
    # stored type reads exactly; it refuses, rather than wraps, anything it cannot hold
    # exactly (more decimals, too many digits, an exponent out of range, blanks, spaces).
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Otherwise parse wide, round half-even to the stored scale, then narrow: sub-1e-10
    # residue (some price sheets carry 12 decimals) must not fail a whole file.
    wide = parse_decimals(text, batch=batch, source=source, header=header)
    rounded = pc.round(wide, ndigits=target.scale, round_mode="half_to_even")
    return _cast_located(rounded, target, batch=batch, source=source, header=header, what="number in range")


def _cast_located(text: pa.Array, target: pa.DataType, *, batch: TextBatch, source: str, header: str, what: str) -> pa.Array:
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row, value = _first_failure(text, lambda one: pc.cast(one, target))
        raise IngestError(
            f"{quoted(value)} is not a valid {what}",
            source=source,
            line=batch.first_line + row,
            column=header,
        ) from exc


def _first_failure(values: pa.Array, convert: Callable[[pa.Array], object]) -> tuple[int, object]:
    for row, value in enumerate(values):
        try:
            convert(pa.array([value.as_py()], values.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return row, value.as_py()
    return 0, None


def _tags(text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    text = pc.fill_null(text, "{}")
    text = pc.if_else(pc.equal(text, ""), "{}", text)
    # Tags repeat heavily across rows: validate each distinct value once.
    for value in pc.unique(text).to_pylist():
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            parsed = None
        problem = "" if isinstance(parsed, dict) else f"tags must be a JSON object, got {value[:80]!r}"
        if not problem and (unstorable := _unstorable_json_text(parsed)):
            problem = f"tags {unstorable}"
        if problem:
            row = pc.index(text, value).as_py()
            raise IngestError(problem, source=source, line=batch.first_line + row, column=header)
    return text


def _unstorable_json_text(value: object) -> str:
    """Why a JSON column (PostgreSQL's jsonb) would refuse the parsed value, or ""."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "contain a NUL character (\\u0000), which JSON columns cannot store"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contain half of a surrogate pair (a lone \\ud800-style escape): no character"
    return ""


# --- helpers for readers that derive values ----------------------------------------------
# Provider formats spread one canonical value over several columns (tag columns, a cost plus
# its credits). These keep such derivations exact and their errors located.

WORK_DECIMAL = pa.decimal128(38, 18)
# No amount or quantity reaches a quintillion; the stored columns hold 14 and 18 integer digits.
MAX_INTEGER_DIGITS = 18
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Arrow's text -> decimal cast silently wraps around when the integer part has 19 digits or
# more (a 30-digit cost comes out as some other number); such text takes the exact path.
_MANY_INTEGER_DIGITS = rf"^[+-]?[0-9]{{{MAX_INTEGER_DIGITS + 1},}}"
_SEPARATOR = "\x1f"  # ASCII unit separator: never part of a tag value


def locate_columns(
    header: list[str], fields: dict[str, tuple[str, ...]], required, *, source: str, what: str
) -> dict[str, str]:
    """Map each field to the source column that spells it (first spelling found), or raise
    the error naming the first required one missing (`what` names the export, e.g. "CUR")."""
    index = HeaderIndex(header)
    origin = {field: name for field, spellings in fields.items() if (name := index.find(*spellings))}
    missing = next((fields[field][0] for field in required if field not in origin), None)
    if missing:
        raise IngestError(f"required {what} column {missing} is missing", source=source, line=1)
    return origin


class HeaderIndex:
    """Finds a source column by any spelling of its name (see normalize_header)."""

    def __init__(self, header: list[str]):
        self._by_normalized: dict[str, str] = {}
        for name in header:
            self._by_normalized.setdefault(normalize_header(name), name)

    def find(self, *candidates: str) -> str | None:
        """The first candidate spelling the file has, as the file spells it."""
        found = (self._by_normalized.get(normalize_header(name)) for name in candidates)
        return next((name for name in found if name), None)


def parse_decimals(text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    """Text to decimal128(38, 18), exactly, for readers that must add or choose amounts.

    Blank is null. Doubles written with more than 18 decimals (3.3333333333333335e-07, as
    Parquet floats render) are rounded half-even instead of rejected. A value of 10**18 or
    more is an error.
    """
    text = pc.utf8_trim_whitespace(text)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    # Arrow's cast wraps silently when an exponent or a long integer part overflows the type,
    # so those go the slow way.
    exponent = pc.match_substring(text, "e", ignore_case=True)
    long_integer = pc.match_substring_regex(text, _MANY_INTEGER_DIGITS)
    if not pc.any(pc.or_(exponent, long_integer)).as_py():
        try:
            return pc.cast(text, WORK_DECIMAL)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    encoded = text.dictionary_encode()
    exact = []
    for value in encoded.dictionary.to_pylist():
        try:
            exact.append(_exact_decimal(value))
        except (InvalidOperation, ValueError) as exc:
            row = pc.index(text, value).as_py()
            raise IngestError(
                f"{quoted(value)} is not a valid number",
                source=source,
                line=batch.first_line + row,
                column=header,
            ) from exc
    return pc.take(pa.array(exact, WORK_DECIMAL), encoded.indices)


def _exact_decimal(value: str) -> Decimal:
    if not _NUMBER.fullmatch(value):
        raise ValueError(value)
    number = Decimal(value)
    if number and number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(value)
    # A context wide enough that quantizing never rounds anything but the excess decimals.
    wide = Context(prec=WORK_DECIMAL.precision + 2)
    return number.quantize(Decimal(1).scaleb(-WORK_DECIMAL.scale), rounding=ROUND_HALF_EVEN, context=wide)


def decimal_text(values: pa.Array) -> pa.Array:
    """Decimals back to text for to_cost_batch (which parses them again, losslessly)."""
    return pc.cast(values, pa.string())


def parse_timestamps(text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    """Text to UTC timestamps, accepting the spellings to_cost_batch accepts."""
    return _timestamps(pc.utf8_trim_whitespace(text), batch=batch, source=source, header=header)


def timestamp_text(values: pa.Array) -> pa.Array:
    """UTC timestamps as ISO text ending in Z. Casting the zone away first is what makes this
    fast: values are already UTC, and zone-aware formatting costs ten times more."""
    naive = pc.cast(values.cast(pa.timestamp("us")), pa.string())
    return pc.binary_join_element_wise(naive, pa.scalar("Z"), "")


def calendar_month_bounds(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The UTC calendar month around each timestamp, as [start, end) text."""
    start = pc.floor_temporal(values, unit="month")
    end = pc.floor_temporal(pc.add(start, pa.scalar(timedelta(days=32), pa.duration("us"))), unit="month")
    return timestamp_text(start), timestamp_text(end)


def convert_distinct(
    text: pa.Array, convert: Callable[[str], str | None], *, batch: TextBatch, source: str, header: str
) -> pa.Array:
    """Apply `convert` once per distinct value (billing columns repeat heavily); null stays null.
    A ValueError from `convert` becomes an IngestError at the first row holding that value."""
    encoded = text.dictionary_encode()
    converted = []
    for value in encoded.dictionary.to_pylist():
        try:
            result = convert(value)
            if result is not None:
                _check_encodable(result)
        except ValueError as exc:
            row = pc.index(text, value).as_py()
            raise IngestError(str(exc), source=source, line=batch.first_line + row, column=header) from exc
        converted.append(result)
    return pc.take(pa.array(converted, pa.string()), encoded.indices)


def _check_encodable(text: str) -> None:
    # JSON may spell half a surrogate pair ("\ud800"), which decodes to no storable character.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "the value holds half of a surrogate pair (a lone \\ud800-style escape): no character"
        ) from None


def tags_from_columns(batch: TextBatch, keys: dict[str, str]) -> pa.Array:
    """One JSON object per row from tag columns ({source header: tag key}), skipping empty values.

    Exports spread tags over hundreds of sparse columns whose combinations repeat row after row,
    so each distinct combination is encoded once.
    """
    present = [(header, key) for header, key in keys.items() if header in batch.columns]
    if not present:
        return pa.nulls(batch.num_rows, pa.string())
    values = [pc.fill_null(pc.utf8_trim_whitespace(batch.columns[header]), "") for header, _ in present]
    combined = pc.binary_join_element_wise(*values, _SEPARATOR).dictionary_encode()
    objects = []
    for combination in combined.dictionary.to_pylist():
        values_by_key = zip((key for _, key in present), combination.split(_SEPARATOR), strict=True)
        tags = {key: value for key, value in values_by_key if value}
        objects.append(json.dumps(tags, sort_keys=True, ensure_ascii=False))
    return pc.take(pa.array(objects, pa.string()), combined.indices)
