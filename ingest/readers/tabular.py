"""Shared machinery for readers of tabular billing files (CSV, gzip'd CSV, Parquet, and
newline-delimited JSON as BigQuery exports it).

A format module only says which source column feeds which canonical column; this module
streams the file as batches of text (`convert` turns text into exact types). Nothing here
touches the ORM or settings.
"""

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.errors import IngestError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
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
        except UnicodeDecodeError as exc:  # a corrupt footer can name a column in invalid UTF-8
            raise IngestError(
                "not a readable Parquet file (a column name is not UTF-8)", source=source
            ) from exc
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
    head = head.removeprefix(UTF8_BOM)
    if not head.strip():
        raise IngestError("the file is empty", source=source)
    first_line = head.split(b"\n", 1)[0]
    if b"\x00" in first_line:
        raise IngestError(
            "the header is not UTF-8 text: it has NUL bytes, as UTF-16 text does "
            "(re-export the file as UTF-8)",
            source=source,
            line=1,
        )
    if len(first_line) >= BLOCK_SIZE:
        raise IngestError(
            f"the first line is longer than {BLOCK_SIZE >> 20} MiB: not the header of a billing export",
            source=source,
            line=1,
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The peek may end inside a multi-byte character; only the header line matters.
        text = head[: exc.start].decode("utf-8")
        if "\n" not in text:
            raise IngestError(
                "the header is not UTF-8 text (re-export the file as UTF-8)",
                source=source,
                line=1,
            ) from exc
    if text.lstrip(" \t\r\n").startswith("{"):
        return _ndjson_header(text, source=source)
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:  # a NUL byte, or a line end inside an unquoted field
        raise IngestError(f"the first line is not a CSV header ({exc})", source=source, line=1) from exc
    if not any(name.strip() for name in header):
        raise IngestError("the first line is not a CSV header", source=source, line=1)
    return [name.lstrip("\ufeff") for name in header]


def iter_text_batches(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[TextBatch]:
    """Stream the file as text batches of about BLOCK_SIZE bytes, whatever its size."""
    if sniff(stream) == PARQUET_MAGIC:
        yield from _parquet_text_batches(stream, source=source)
    elif _is_ndjson(stream):
        yield from _ndjson_text_batches(stream, source=source)
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
        try:
            reader = pacsv.open_csv(
                input_stream,
                read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return  # a header without a line end: no rows, as read_header found the header
            raise
        # Closed however reading ends: a reader dropped with its read-ahead thread still
        # running aborts the whole process when it is garbage-collected.
        with reader:
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                columns = dict(zip(batch.schema.names, batch.columns, strict=True))
                yield TextBatch(columns=columns, first_line=line, num_rows=batch.num_rows)
                line += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as exc:
        if _RAGGED_ROW.search(str(exc)):
            line = _first_ragged_line(stream, columns=len(header)) or line
        raise IngestError(_explain_arrow_error(exc), source=source, line=line) from exc


# Arrow's CSV error for a row whose number of values differs from the header's.
_RAGGED_ROW = re.compile(r"Expected (\d+) columns, got (\d+)")


def _first_ragged_line(stream: BinaryIO, *, columns: int) -> int | None:
    """The line of the first row without `columns` values. Arrow's streaming reader does not
    say, so the file is read again, only once it has been found faulty."""
    stream.seek(0)
    raw = gzip.GzipFile(fileobj=stream) if sniff(stream)[:2] == GZIP_MAGIC else stream
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    rows = csv.reader(text)
    try:
        for row in rows:
            if row and len(row) != columns:
                return rows.line_num
    except (csv.Error, OSError, EOFError, zlib.error):
        return None  # the row is past something Python's reader refuses; keep Arrow's location
    finally:
        text.detach()
    return None


def _parquet_text_batches(stream: BinaryIO, *, source: str) -> Iterator[TextBatch]:
    line = 1  # Parquet has no header line; report row numbers from 1.
    try:
        for batch in pq.ParquetFile(stream).iter_batches(batch_size=65536):
            # Parquet readers trust the file's bytes; a corrupt string page would surface
            # later as a UnicodeDecodeError far from its cause.
            batch.validate(full=True)
            # Typed Parquet columns go through text too, so one exact conversion path
            # serves every format (doubles render as their shortest round-trip text).
            columns = {
                name: _as_text(column) for name, column in zip(batch.schema.names, batch.columns, strict=True)
            }
            yield TextBatch(columns=columns, first_line=line, num_rows=batch.num_rows)
            line += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"cannot read Parquet data ({exc})", source=source, line=line) from exc
    except UnicodeDecodeError as exc:  # a corrupt footer: a time zone or key name in invalid UTF-8
        raise IngestError(
            f"cannot read Parquet data (metadata that is not UTF-8: {exc})", source=source, line=line
        ) from exc


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


# --- newline-delimited JSON ------------------------------------------------------------------
# BigQuery exports nested records (GCP billing) as one JSON object per line. Arrow's JSON reader
# infers types per block and fails on real exports (an empty `credits: []` first, objects
# later), so lines are parsed here: nested objects flatten to dotted names ("service.description",
# as a flattened CSV export names them), arrays stay JSON text, and numbers keep their literal
# text so money stays exact.

NDJSON_BATCH_ROWS = 20_000
# Real records are a few kB; a longer line is not a billing record, and reading it whole would
# let one endless line (a gzip bomb without line ends) take all the memory there is.
NDJSON_MAX_LINE_BYTES = 16 << 20
# BigQuery's billing records nest three levels deep; far deeper is not a billing record.
NDJSON_MAX_DEPTH = 32
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _is_ndjson(stream: BinaryIO) -> bool:
    try:
        if sniff(stream)[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=stream) as unzipped:
                head = unzipped.read(256)
        else:
            head = stream.read(256)
    except (OSError, EOFError, zlib.error):
        return False  # the CSV path reports the corrupt data with its location
    finally:
        stream.seek(0)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _ndjson_header(text: str, *, source: str) -> list[str]:
    """Every flattened key seen in the peeked lines, in order of first appearance: the first
    record may lack keys whose value was null."""
    header: dict[str, None] = {}
    lines = text.lstrip("\ufeff").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _flatten(_json_record(line))
        except ValueError as exc:
            if not header:
                raise IngestError(f"not a JSON object per line ({exc})", source=source, line=number) from exc
            continue  # possibly the peek cut this line short; the batch reader reports real errors
        header.update(dict.fromkeys(record))
    return list(header)


def _ndjson_text_batches(stream: BinaryIO, *, source: str) -> Iterator[TextBatch]:
    if sniff(stream)[:2] == GZIP_MAGIC:
        with gzip.GzipFile(fileobj=stream) as unzipped:
            yield from _ndjson_lines_as_batches(unzipped, source=source)
    else:
        yield from _ndjson_lines_as_batches(stream, source=source)


def _ndjson_lines_as_batches(stream: BinaryIO, *, source: str) -> Iterator[TextBatch]:
    rows: list[dict[str, object]] = []
    first_line = number = 0
    try:
        for number, raw in _numbered_lines(stream, source=source):
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            if not line.strip():
                continue
            try:
                record = _flatten(_json_record(line))
            except ValueError as exc:
                raise IngestError(f"not a JSON object ({exc})", source=source, line=number) from exc
            if not rows:
                first_line = number
            rows.append(record)
            if len(rows) == NDJSON_BATCH_ROWS:
                yield _rows_as_text_batch(rows, first_line=first_line)
                rows = []
        if rows:
            yield _rows_as_text_batch(rows, first_line=first_line)
    except UnicodeDecodeError as exc:
        raise IngestError("the file is not UTF-8 text (re-export it as UTF-8)", source=source, line=number) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"the gzip data is truncated or corrupt ({exc})", source=source, line=number) from exc


def _numbered_lines(stream: BinaryIO, *, source: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for each line, read a block at a time: memory stays at a block plus
    one line however the file is shaped."""
    number, pending = 0, b""
    while block := stream.read(BLOCK_SIZE):
        if not pending and not block.strip():  # a run of blank lines, as in a gzip bomb
            number += block.count(b"\n")
            continue
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        if len(pending) > NDJSON_MAX_LINE_BYTES:
            raise IngestError(
                f"a line is longer than {NDJSON_MAX_LINE_BYTES >> 20} MiB: not a billing record",
                source=source,
                line=number + len(lines) + 1,
            )
        for line in lines:
            number += 1
            yield number, line
    if pending:
        yield number + 1, pending


def _json_record(line: str) -> dict:
    # Numbers stay the text they were written as: Decimal-exact, whatever their size.
    try:
        record = json.loads(line, parse_float=str, parse_int=str)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected an object, got {type(record).__name__}")
    if _LONE_SURROGATE_ESCAPE.search(line):
        # A \ud800-style escape without its pair decodes to no character text can store.
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a \\u escape names half of a surrogate pair: no character") from None
    return record


def _flatten(record: dict, prefix: str = "", depth: int = 0) -> dict[str, object]:
    if depth > NDJSON_MAX_DEPTH:
        raise ValueError(f"objects nested more than {NDJSON_MAX_DEPTH} deep")
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}.", depth + 1))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _rows_as_text_batch(rows: list[dict[str, object]], *, first_line: int) -> TextBatch:
    columns = {}
    for name in dict.fromkeys(name for row in rows for name in row):
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values, pa.string())  # the common case: text and nulls only
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([_json_text(value) for value in values], pa.string())
    return TextBatch(columns=columns, first_line=first_line, num_rows=len(rows))


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # arrays and empty objects, e.g. GCP labels and credits


def _explain_arrow_error(exc: Exception) -> str:
    text = str(exc)
    if "straddling object" in text:
        return f"a row is longer than {BLOCK_SIZE >> 20} MiB, or a quote is never closed"
    if ragged := _RAGGED_ROW.search(text):
        expected, found = ragged.groups()
        return f"expected {expected} comma-separated values as in the header, found {found}"
    if "invalid UTF8" in text or "UTF8" in text:
        return "the file is not UTF-8 text (re-export it as UTF-8)"
    if isinstance(exc, (EOFError, zlib.error)) or "gzip" in text.lower() or "decompress" in text.lower():
        return f"the gzip data is truncated or corrupt ({text})"
    return f"malformed CSV ({text})"
