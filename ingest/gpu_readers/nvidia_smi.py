"""`nvidia-smi --query-gpu=... --format=csv` output, as `nvidia-smi -l` loops and collectors
concatenate it.

Accepted shapes:
  * `--format=csv`: a header such as `timestamp, name, pci.bus_id, uuid, utilization.gpu [%],
    ...` and values with units (`37 %`, `81920 MiB`, `70.50 W`);
  * `--format=csv,nounits`: the same without units;
  * `--format=csv,noheader[,nounits]`: no header, so the columns must be in the order of
    DEFAULT_QUERY (timestamp,name,pci.bus_id,uuid,utilization.gpu,utilization.memory,
    memory.total,memory.used,power.draw).
With a header, columns may come in any order, unknown query fields are ignored, `index` and
`memory.free` are used when present, and a `host` or `hostname` column (added by collectors
that merge many hosts) names each row's host. Without one, the host comes from the file name
(see `shared.host_from_source`).

Timestamps: nvidia-smi prints the host's local time with no zone (`2026/11/01 12:00:01.123`).
They are taken as UTC: run nvidia-smi with TZ=UTC (the default in most GPU containers).

Quirks handled: a leading UTF-8 BOM, CRLF, blank lines, spaces after commas, header lines
repeated mid-file (they must match the first one), and `[N/A]`, `[Not Supported]` or any
other `[...]` marker, `N/A`, an empty value, NaN or an infinity as no value. A row without GPU
utilization is skipped and counted in `skipped[NO_UTILIZATION]` (see `shared.SampleBatches`);
a missing timestamp or UUID, a wrong number of values, a value that does not parse, a
percentage outside 0-100 or a negative amount, a timestamp outside the years 1900-2199, and
text the database cannot store (too long for its column, or with a NUL) are IngestErrors
naming the line and column. nvidia-smi --query-gpu reports whole GPUs only, so mig_instance
is always "".

Lines are split and converted by Arrow compute functions a block (~4 MB) at a time: no
Python per row.
"""

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import IngestError
from ingest.gpu_readers.shared import (
    PERCENT_RANGE,
    SampleBatches,
    check_measurements,
    check_sample_times,
    check_text,
    finite_or_null,
    host_from_source,
    iter_lines,
    observed_timestamp,
    parse_located,
    sample_batch,
)
from ingest.gpu_schema import PERCENT
from ingest.schema import TIMESTAMP

FORMAT = "nvidia-smi"
LABEL = "nvidia-smi --query-gpu CSV"

NO_UTILIZATION = "rows without GPU utilization"

DEFAULT_QUERY = (
    "timestamp",
    "name",
    "pci.bus_id",
    "uuid",
    "utilization.gpu",
    "utilization.memory",
    "memory.total",
    "memory.used",
    "power.draw",
)

# Query field (as the header prints it, or its nvidia-smi alias) -> what it feeds. The first
# column of a row feeding one role wins (power.draw before power.draw.average, say).
FIELDS = {
    "timestamp": "sampled_at",
    "host": "host",
    "hostname": "host",
    "uuid": "gpu_uuid",
    "gpu_uuid": "gpu_uuid",
    "index": "gpu_index",
    "pci.bus_id": "pci_bus_id",
    "gpu_bus_id": "pci_bus_id",
    "name": "model_name",
    "gpu_name": "model_name",
    "utilization.gpu": "utilization",
    "utilization.memory": "memory_utilization",
    "memory.used": "memory_used_mib",
    "memory.total": "memory_total_mib",
    "memory.free": "memory_free_mib",  # only to derive the total when memory.total is not queried
    "power.draw": "power_watts",
    "power.draw.average": "power_watts",
    "power.draw.instant": "power_watts",
}
TEXT_ROLES = ("host", "gpu_uuid", "gpu_index", "pci_bus_id", "model_name")
MEASUREMENT_ROLES = (
    "utilization",
    "memory_utilization",
    "memory_used_mib",
    "memory_total_mib",
    "memory_free_mib",
    "power_watts",
)
PERCENT_ROLES = ("utilization", "memory_utilization")
# Units nvidia-smi appends to values ("37 %", "81920 MiB", "70.50 W"), trimmed from the right.
UNIT_CHARACTERS = " %MiBW"
NO_VALUE = pa.array(["", "N/A"])
LINE_BLOCK_BYTES = 4 << 20

_NOHEADER_ROW = re.compile(
    r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?\s*,[^,]*,\s*[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]\s*,"
    r"\s*GPU-"
)


def detect(head: bytes) -> bool:
    first = next(
        (line for line in head.decode("utf-8", "replace").lstrip("\ufeff").splitlines() if line.strip()), ""
    )
    keys = {_normalize(name) for name in first.split(",")}
    if "utilization.gpu" in keys and keys & {"uuid", "gpu_uuid"}:
        return True
    return bool(_NOHEADER_ROW.match(first.strip()))


def read(stream: BinaryIO, *, source: str, observed_at: datetime) -> SampleBatches:
    skipped: Counter[str] = Counter()
    return SampleBatches(_batches(stream, source=source, observed_at=observed_at, skipped=skipped), skipped)


@dataclass(frozen=True)
class _Layout:
    names: tuple[str, ...]  # as the header spells them, for error messages
    keys: tuple[str, ...]  # normalized: lower case, no unit
    positions: dict[str, int]  # role -> column position

    @property
    def header_pattern(self) -> str:
        """Matches a header line of this layout (and no data line): its first field's name."""
        return rf"^{re.escape(self.keys[0])}\s*(\[[^\]]*\])?\s*(,|$)"


def _normalize(name: str) -> str:
    """`utilization.gpu [%]` (csv) and `utilization.gpu` (csv,nounits) name one field."""
    return re.sub(r"\s*\[[^\]]*\]$", "", name.strip().lstrip("\ufeff").strip()).lower()


def _layout(names: list[str], *, source: str, line: int) -> _Layout:
    names = [name.strip().lstrip("\ufeff").strip() for name in names]
    keys = tuple(_normalize(name) for name in names)
    positions: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key in FIELDS:
            positions.setdefault(FIELDS[key], position)
    for role, field in (("gpu_uuid", "uuid"), ("utilization", "utilization.gpu")):
        if role not in positions:
            raise IngestError(
                f"the header has no {field} column (query it with --query-gpu)", source=source, line=line
            )
    return _Layout(tuple(names), keys, positions)


DEFAULT_LAYOUT = _layout(list(DEFAULT_QUERY), source="", line=0)


def _batches(
    stream: BinaryIO, *, source: str, observed_at: datetime, skipped: Counter[str]
) -> Iterator[pa.RecordBatch]:
    observed = observed_timestamp(observed_at)
    layout: _Layout | None = None
    for lines in iter_lines(stream, source=source, block_bytes=LINE_BLOCK_BYTES):
        text = pc.utf8_trim(lines.text, characters=" \t\ufeff")
        numbers = lines.numbers()
        content = pc.not_equal(text, "")
        if layout is None:
            if not pc.any(content).as_py():
                continue
            first = pc.index(content, True).as_py()
            fields = text[first].as_py().split(",")
            if any(_normalize(name) in FIELDS for name in fields):
                layout = _layout(fields, source=source, line=numbers[first].as_py())
            else:
                layout = DEFAULT_LAYOUT
        headers = pc.match_substring_regex(text, layout.header_pattern, ignore_case=True)
        if pc.any(headers).as_py():
            _check_repeated_headers(text.filter(headers), numbers.filter(headers), layout, source=source)
            content = pc.and_(content, pc.invert(headers))
        rows = _rows(text.filter(content), numbers.filter(content), layout, source=source)
        if rows is None:
            continue
        batch = _sample_batch(rows, layout, source=source, observed=observed, skipped=skipped)
        if batch.num_rows:
            yield batch


def _check_repeated_headers(text: pa.Array, numbers: pa.Array, layout: _Layout, *, source: str) -> None:
    for header in pc.unique(text).to_pylist():
        if tuple(_normalize(name) for name in header.split(",")) != layout.keys:
            row = pc.index(text, header).as_py()
            raise IngestError(
                f"this header differs from the first one ({', '.join(layout.names)})",
                source=source,
                line=numbers[row].as_py(),
            )


@dataclass(frozen=True)
class _Rows:
    fields: pa.ListArray
    numbers: pa.Array

    def __len__(self) -> int:
        return len(self.numbers)


def _rows(text: pa.Array, numbers: pa.Array, layout: _Layout, *, source: str) -> _Rows | None:
    if len(text) == 0:
        return None
    fields = pc.split_pattern(text, ",")
    counts = pc.list_value_length(fields)
    wrong = pc.not_equal(counts, len(layout.keys))
    if pc.any(wrong).as_py():
        row = pc.index(wrong, True).as_py()
        shape = "the header" if layout is not DEFAULT_LAYOUT else "the default --query-gpu order"
        raise IngestError(
            f"expected {len(layout.keys)} comma-separated values as in {shape}, found {counts[row].as_py()}",
            source=source,
            line=numbers[row].as_py(),
        )
    return _Rows(fields, numbers)


def _sample_batch(
    rows: _Rows,
    layout: _Layout,
    *,
    source: str,
    observed: pa.Scalar,
    skipped: Counter[str],
) -> pa.RecordBatch:
    def values(role: str) -> pa.Array | None:
        position = layout.positions.get(role)
        if position is None:
            return None
        text = pc.utf8_trim_whitespace(pc.list_element(rows.fields, position))
        no_value = pc.or_(pc.starts_with(text, "["), pc.is_in(text, value_set=NO_VALUE))
        return pc.if_else(no_value, pa.scalar(None, pa.string()), text)

    def column_name(role: str) -> str:
        return layout.names[layout.positions[role]]

    def require(role: str, text: pa.Array, what: str) -> None:
        if text.null_count:
            row = pc.index(pc.is_null(text), True).as_py()
            raise IngestError(
                f"{what} is required", source=source, line=rows.numbers[row].as_py(), column=column_name(role)
            )

    columns: dict[str, pa.Array] = {}
    timestamps = values("sampled_at")
    if timestamps is None:
        columns["sampled_at"] = pc.fill_null(pa.nulls(len(rows), TIMESTAMP), observed)
    else:
        require("sampled_at", timestamps, "a timestamp")
        columns["sampled_at"] = parse_located(
            pc.replace_substring(timestamps, "/", "-"),
            pa.timestamp("us"),
            shown=timestamps,
            numbers=rows.numbers,
            source=source,
            column=column_name("sampled_at"),
            what="date/time",
        ).cast(TIMESTAMP)  # zone-less: taken as UTC
        check_sample_times(
            columns["sampled_at"],
            numbers=rows.numbers,
            source=source,
            column=column_name("sampled_at"),
            shown=timestamps,
        )

    for role in TEXT_ROLES:
        text = values(role)
        if text is not None:
            check_text(text, role=role, numbers=rows.numbers, source=source, column=column_name(role))
            columns[role] = text
    require("gpu_uuid", columns["gpu_uuid"], "a GPU UUID")
    host = columns.get("host", pa.nulls(len(rows), pa.string()))
    if host.null_count:  # only then may the file name have to name the host
        columns["host"] = pc.fill_null(host, host_from_source(source))

    for role in MEASUREMENT_ROLES:
        text = values(role)
        if text is not None:
            measured = finite_or_null(
                parse_located(
                    pc.utf8_rtrim(text, characters=UNIT_CHARACTERS),
                    PERCENT,
                    shown=text,
                    numbers=rows.numbers,
                    source=source,
                    column=column_name(role),
                    what="number",
                )
            )
            low, high = PERCENT_RANGE if role in PERCENT_ROLES else (0.0, float("inf"))
            check_measurements(
                measured,
                low=low,
                high=high,
                numbers=rows.numbers,
                source=source,
                column=column_name(role),
                shown=text,
            )
            columns[role] = measured
    if "memory_total_mib" not in columns and "memory_free_mib" in columns and "memory_used_mib" in columns:
        columns["memory_total_mib"] = pc.add(columns["memory_used_mib"], columns["memory_free_mib"])

    batch = sample_batch(columns, len(rows))
    measured = pc.is_valid(batch.column("utilization"))
    missing = len(rows) - pc.sum(measured).as_py() if len(rows) else 0
    if missing:
        skipped[NO_UTILIZATION] += missing
        batch = batch.filter(measured)
    return batch
