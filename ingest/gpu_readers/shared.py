"""What the GPU-metrics readers share: a file (plain or gzip'd) as batches of numbered text
lines, the host a file name names, the assembly of GPU_SAMPLE_SCHEMA batches, and the
`SampleBatches` result that also reports what was skipped. Nothing here touches the ORM or
settings."""

import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.errors import IngestError, quoted
from ingest.gpu_schema import GPU_SAMPLE_COLUMNS, GPU_SAMPLE_SCHEMA
from ingest.schema import TIMESTAMP

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 64 * 1024
LINE_BLOCK_BYTES = 4 << 20
# The longest text each column stores (GpuSample's max_length; the database refuses longer).
TEXT_MAX_LENGTHS = {
    "host": 255,
    "gpu_uuid": 100,
    "mig_instance": 50,
    "gpu_index": 20,
    "pci_bus_id": 50,
    "model_name": 200,
    "pod": 255,
    "namespace": 255,
    "container": 255,
}
# As for billing dates: outside these years a timestamp is garbage, and near datetime's own
# limits shifting it into the reporting time zone overflows.
EARLIEST_SAMPLE = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_SAMPLE = datetime(2200, 1, 1, tzinfo=UTC)
# Measurements that are shares of something: 0-100 %.
PERCENT_RANGE = (0.0, 100.0)
# Lines are read as one CSV column split on this byte, which text metrics never contain.
_NO_DELIMITER = "\x1f"


class SampleBatches(Iterator[pa.RecordBatch]):
    """What `read()` returns: an iterator of GPU_SAMPLE_SCHEMA batches, plus `skipped`, a
    count per reason of the input the reader passed over on purpose (a row without GPU
    utilization, an unknown metric). The counts grow while the batches are consumed and are
    final once the iterator is exhausted, so the caller can record them with the run."""

    def __init__(self, batches: Iterator[pa.RecordBatch], skipped: Counter[str]):
        self._batches = batches
        self.skipped = skipped

    def __next__(self) -> pa.RecordBatch:
        return next(self._batches)

    def close(self) -> None:
        """Stop early (closes the decompressor and the reader threads)."""
        self._batches.close()


def read_head(stream: BinaryIO, *, source: str) -> bytes:
    """The first HEAD_BYTES of the file, decompressed if gzip'd, leaving the stream at its start."""
    try:
        return plain_head(stream.read(HEAD_BYTES))
    finally:
        stream.seek(0)


def plain_head(head: bytes) -> bytes:
    """`head` itself, or as much of it as decompresses when it starts with the gzip magic."""
    if head[:2] != GZIP_MAGIC:
        return head
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""  # not gzip after all: no reader will recognise it, and the error says so


@dataclass(frozen=True)
class Lines:
    """Consecutive physical lines of the file (without their line ends), blank ones included,
    so that `first_line + i` is the line number of `text[i]`."""

    text: pa.StringArray
    first_line: int

    def numbers(self) -> pa.Array:
        return pa.array(np.arange(self.first_line, self.first_line + len(self.text), dtype=np.int64))


def iter_lines(stream: BinaryIO, *, source: str, block_bytes: int = LINE_BLOCK_BYTES) -> Iterator[Lines]:
    """Stream the file as batches of lines; gzip'd files are decompressed as they are read.

    Arrow's CSV reader does the splitting (in C++, on several threads) on a delimiter that never
    occurs; it also drops a leading UTF-8 byte order mark and accepts LF, CRLF and CR line ends.
    """
    magic = stream.read(2)
    stream.seek(0)
    raw = pa.PythonFile(stream, mode="r")
    input_stream = pa.CompressedInputStream(raw, "gzip") if magic == GZIP_MAGIC else raw
    line = 1
    try:
        try:
            reader = pacsv.open_csv(
                input_stream,
                read_options=pacsv.ReadOptions(column_names=["line"], block_size=block_bytes),
                parse_options=pacsv.ParseOptions(
                    delimiter=_NO_DELIMITER, quote_char=False, ignore_empty_lines=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={"line": pa.binary()}, strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise
        # Close the reader however the caller stops, so no read-ahead thread outlives it.
        with reader:
            for batch in reader:
                raw_lines = batch.column(0)
                try:
                    text = raw_lines.cast(pa.string())
                except pa.ArrowInvalid as exc:
                    row = first_failure(raw_lines, lambda part: part.cast(pa.string()))
                    raise IngestError("the line is not UTF-8 text", source=source, line=line + row) from exc
                yield Lines(text, first_line=line)
                line += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as exc:
        raise IngestError(_explain(exc), source=source, line=line) from exc


def _explain(exc: Exception) -> str:
    text = str(exc)
    if "straddling object" in text:
        return f"a line is longer than {LINE_BLOCK_BYTES >> 20} MiB: not metrics text"
    if "Expected 1 columns" in text:
        return "a line contains the control character U+001F, which no metrics text has"
    if isinstance(exc, (OSError, EOFError, zlib.error)):
        return f"the gzip data is truncated or corrupt ({text})"
    return f"unreadable text ({text})"


def first_failure(values: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """The index of the first value `convert` rejects, found by bisection: O(log n) vectorised
    calls instead of one per row. Only called once a whole-array conversion has failed."""
    low, high = 0, len(values)  # the first failure lies in values[low:high]
    while high - low > 1:
        middle = (low + high) // 2
        try:
            convert(values.slice(low, middle - low))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
        else:
            low = middle
    return low


def parse_located(
    text: pa.Array,
    target: pa.DataType,
    *,
    numbers: pa.Array,
    source: str,
    column: str,
    what: str,
    shown: pa.Array | None = None,
) -> pa.Array:
    """Cast text to `target`; a value that does not parse raises an IngestError naming its line
    (and quoting `shown`, the value as the file wrote it, when `text` was rewritten)."""
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row = first_failure(text, lambda part: pc.cast(part, target))
        raise IngestError(
            f"{quoted((text if shown is None else shown)[row].as_py())} is not a valid {what}",
            source=source,
            line=numbers[row].as_py(),
            column=column,
        ) from exc


def unstorable_text(value: str, *, max_length: int) -> str:
    """Why the database could not store this text value, or ""."""
    if "\x00" in value:
        return "contains a NUL character (U+0000), which text cannot store"
    if len(value) > max_length:
        return f"is {len(value)} characters long; at most {max_length} fit ({quoted(value, limit=40)})"
    return ""


def check_text(text: pa.Array, *, role: str, numbers: pa.Array, source: str, column: str) -> None:
    """An IngestError at the first value of `text` the `role` column cannot store."""
    has_nul = pc.fill_null(pc.match_substring(text, "\x00"), False)
    too_long = pc.fill_null(pc.greater(pc.utf8_length(text), TEXT_MAX_LENGTHS[role]), False)
    bad = pc.or_(has_nul, too_long)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise IngestError(
            f"the value {unstorable_text(text[row].as_py(), max_length=TEXT_MAX_LENGTHS[role])}",
            source=source,
            line=numbers[row].as_py(),
            column=column,
        )


def check_sample_times(
    values: pa.Array, *, numbers: pa.Array, source: str, column: str, shown: pa.Array
) -> None:
    outside = pc.or_(
        pc.less(values, pa.scalar(EARLIEST_SAMPLE, values.type)),
        pc.greater_equal(values, pa.scalar(LATEST_SAMPLE, values.type)),
    )
    if pc.any(outside).as_py():
        row = pc.index(outside, True).as_py()
        raise IngestError(
            f"{quoted(shown[row].as_py())} is outside the years 1900-2199",
            source=source,
            line=numbers[row].as_py(),
            column=column,
        )


def check_measurements(
    values: pa.Array,
    *,
    low: float,
    high: float,
    numbers: pa.Array,
    source: str,
    column: str,
    shown: pa.Array,
) -> None:
    """An IngestError at the first value outside [low, high] (nulls pass)."""
    outside = pc.fill_null(pc.or_(pc.less(values, low), pc.greater(values, high)), False)
    if pc.any(outside).as_py():
        row = pc.index(outside, True).as_py()
        bounds = f"between {low:g} and {high:g}" if high != float("inf") else f"at least {low:g}"
        raise IngestError(
            f"{quoted(shown[row].as_py())} is out of range (expected a value {bounds})",
            source=source,
            line=numbers[row].as_py(),
            column=column,
        )


def finite_or_null(values: pa.Array) -> pa.Array:
    """NaN and infinities measure nothing: they become no value, as a `[N/A]` would."""
    return pc.if_else(pc.fill_null(pc.is_finite(values), True), values, pa.scalar(None, values.type))


# Hostnames cannot contain "_" (RFC 952/1123), so the first "_" ends the host part of a name.
_COMPRESSION_AND_FORMAT_SUFFIX = re.compile(r"\.(gz|csv|txt|log|prom|metrics|out)$", re.IGNORECASE)


def host_from_source(source: str) -> str:
    """The host a file name names, for files whose samples carry no host of their own.

    Rule: take the last path component, strip the suffixes .gz .csv .txt .log .prom .metrics
    .out (repeatedly, in any case), then cut at the first "_". So `gpu-node-07.csv`,
    `gpu-node-07_2026-11-01.csv.gz` and `logs/gpu-node-07.example.com_1.txt` name
    `gpu-node-07`, `gpu-node-07` and `gpu-node-07.example.com`.
    """
    name = re.split(r"[/\\]", source)[-1]
    while (stripped := _COMPRESSION_AND_FORMAT_SUFFIX.sub("", name)) != name:
        name = stripped
    host = name.split("_", 1)[0].strip()
    if not host:
        raise IngestError(
            "the samples name no host and neither does the file name (name files <host>.csv or "
            "<host>_<anything>.csv, or add a host column)",
            source=source,
        )
    if problem := unstorable_text(host, max_length=TEXT_MAX_LENGTHS["host"]):
        raise IngestError(f"the host the file name names {problem}", source=source)
    return host


def observed_timestamp(observed_at: datetime) -> pa.Scalar:
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    return pa.scalar(observed_at, TIMESTAMP)


def sample_batch(columns: dict[str, pa.Array], num_rows: int) -> pa.RecordBatch:
    """One GPU_SAMPLE_SCHEMA batch; absent text columns are "", absent measurements null."""
    arrays = []
    for column in GPU_SAMPLE_COLUMNS:
        values = columns.get(column.name)
        if column.is_text:
            values = pc.fill_null(pa.nulls(num_rows, pa.string()) if values is None else values, "")
        elif values is None:
            values = pa.nulls(num_rows, column.type)
        arrays.append(values.cast(column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=GPU_SAMPLE_SCHEMA)
