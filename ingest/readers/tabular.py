"""Shared machinery for readers of tabular billing files (CSV, gzip'd CSV, Parquet).

A format module only says which source column feeds which canonical column; this module
streams the file as batches of text, and converts text to exact types with errors that name
the file, line and column. Nothing here touches the ORM or settings.
"""

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.errors import IngestError
from ingest.schema import COST_COLUMNS, COST_SCHEMA, TEXT, TIMESTAMP, Column

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BLOCK_SIZE = 1 << 20
NULL_MARKERS = ["", "NULL", "null", "Null", "None"]
HEADER_PEEK_BYTES = 4 << 20


def normalize_header(name: str) -> str:
    """ChargePeriodStart, charge_period_start and chargePeriodStart name one column."""
    return re.sub(r"[^0-9a-z]", "", name.lstrip("\ufeff").lower())


@dataclass(frozen=True)
class TextBatch:
    """Rows of a source file as text columns keyed by their original header names."""

    columns: dict[str, pa.Array]
    first_line: int
    num_rows: int

    def column(self, header: str | None) -> pa.Array | None:
        return self.columns.get(header) if header else None


def sniff(stream: BinaryIO) -> bytes:
    head = stream.read(4)
    stream.seek(0)
    return head


def read_header(stream: BinaryIO, *, source: str) -> list[str]:
    """The column names of a CSV or Parquet file, leaving the stream at its start."""
    magic = sniff(stream)
    if magic == PARQUET_MAGIC:
        try:
            names = pq.ParquetFile(stream).schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            raise IngestError(f"not a readable Parquet file ({exc})", source=source) from exc
        stream.seek(0)
        return names
    try:
        if magic[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=stream) as unzipped:
                head = unzipped.read(HEADER_PEEK_BYTES)
        else:
            head = stream.read(HEADER_PEEK_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"cannot decompress gzip data ({exc})", source=source) from exc
    finally:
        stream.seek(0)
    if not head.strip():
        raise IngestError("the file is empty", source=source)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # The peek may end inside a multi-byte character; only the header line matters.
        text = head[: exc.start].decode("utf-8-sig")
        if "\n" not in text:
            raise IngestError(
                "the header is not UTF-8 text (re-export the file as UTF-8)",
                source=source,
                line=1,
            ) from exc
    header = next(csv.reader(io.StringIO(text)), [])
    if not any(name.strip() for name in header):
        raise IngestError("the first line is not a CSV header", source=source, line=1)
    return [name.lstrip("\ufeff") for name in header]


def iter_text_batches(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[TextBatch]:
    """Stream the file as text batches of about BLOCK_SIZE bytes, whatever its size."""
    if sniff(stream) == PARQUET_MAGIC:
        yield from _parquet_text_batches(stream, source=source)
    else:
        yield from _csv_text_batches(stream, source=source, header=header)


def _csv_text_batches(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[TextBatch]:
    compression = "gzip" if sniff(stream)[:2] == GZIP_MAGIC else None
    raw = pa.PythonFile(stream, mode="r")
    input_stream = pa.CompressedInputStream(raw, compression) if compression else raw
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=NULL_MARKERS,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    line = 2
    try:
        reader = pacsv.open_csv(
            input_stream,
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )
        for batch in reader:
            if batch.num_rows == 0:
                continue
            columns = dict(zip(batch.schema.names, batch.columns, strict=True))
            yield TextBatch(columns=columns, first_line=line, num_rows=batch.num_rows)
            line += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as exc:
        raise IngestError(_explain_arrow_error(exc), source=source, line=line) from exc


def _parquet_text_batches(stream: BinaryIO, *, source: str) -> Iterator[TextBatch]:
    line = 1  # Parquet has no header line; report row numbers from 1.
    try:
        for batch in pq.ParquetFile(stream).iter_batches(batch_size=65536):
            # Typed Parquet columns go through text too, so one exact conversion path
            # serves every format (doubles render as their shortest round-trip text).
            columns = {
                name: _as_text(column) for name, column in zip(batch.schema.names, batch.columns, strict=True)
            }
            yield TextBatch(columns=columns, first_line=line, num_rows=batch.num_rows)
            line += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"cannot read Parquet data ({exc})", source=source, line=line) from exc


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type) or pa.types.is_dictionary(column.type):
        return column.cast(pa.string())
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        # Arrow's %S already carries the fractional seconds of a microsecond timestamp.
        return pc.strftime(column.cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    if pa.types.is_map(column.type) or pa.types.is_struct(column.type):
        return pa.array([None if v is None else json.dumps(_map_to_dict(v)) for v in column.to_pylist()], pa.string())
    return column.cast(pa.string())


def _map_to_dict(value):
    return dict(value) if isinstance(value, list) else value


def _explain_arrow_error(exc: Exception) -> str:
    text = str(exc)
    if "invalid UTF8" in text or "UTF8" in text:
        return "the file is not UTF-8 text (re-export it as UTF-8)"
    if isinstance(exc, (EOFError, zlib.error)) or "gzip" in text.lower() or "decompress" in text.lower():
        return f"the gzip data is truncated or corrupt ({text})"
    return f"malformed CSV ({text})"


# --- text → canonical types -------------------------------------------------------------


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


def _convert(column: Column, text: pa.Array, *, batch: TextBatch, source: str, header: str) -> pa.Array:
    text = pc.utf8_trim_whitespace(text)
    if column.required:
        missing = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
        if pc.any(missing).as_py():
            row = pc.index(missing, True).as_py()
            raise IngestError("a value is required here", source=source, line=batch.first_line + row, column=header)
    if column.is_text:
        if column.name == "tags":
            return _tags(text, batch=batch, source=source, header=header)
        return pc.fill_null(text, "")
    if column.type == TIMESTAMP:
        return _cast_located(_iso_timestamps(text), column.type, batch=batch, source=source, header=header, what="date/time")
    return _decimals(text, column.type, batch=batch, source=source, header=header)


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
    # Parse wide, round half-even to the stored scale, then narrow: sub-1e-10 residue
    # (some price sheets carry 12 decimals) must not fail a whole file.
    wide = _cast_located(text, pa.decimal128(38, 18), batch=batch, source=source, header=header, what="number")
    rounded = pc.round(wide, ndigits=target.scale, round_mode="half_to_even")
    return _cast_located(rounded, target, batch=batch, source=source, header=header, what="number in range")


def _cast_located(text: pa.Array, target: pa.DataType, *, batch: TextBatch, source: str, header: str, what: str) -> pa.Array:
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row, value = _first_failure(text, lambda one: pc.cast(one, target))
        raise IngestError(
            f"{value!r} is not a valid {what}", source=source, line=batch.first_line + row, column=header
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
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            row = pc.index(text, value).as_py()
            raise IngestError(
                f"tags must be a JSON object, got {value[:80]!r}",
                source=source,
                line=batch.first_line + row,
                column=header,
            )
    return text

