"""NVIDIA DCGM exporter metrics: the Prometheus text exposition format served on :9400/metrics,
one scrape or many concatenated, optionally gzip'd.

    # HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
    # TYPE DCGM_FI_DEV_GPU_UTIL gauge
    DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-...",Hostname="node-1",pod="llm-7d9f",...} 37 1793534400000

Metrics used (every other metric is skipped and counted in `skipped[UNKNOWN_METRIC]`):
  * utilization: DCGM_FI_DEV_GPU_UTIL (%), else DCGM_FI_PROF_GR_ENGINE_ACTIVE (a 0-1 ratio)
    x 100 - MIG instances only report the latter;
  * memory_used_mib: DCGM_FI_DEV_FB_USED; memory_total_mib: FB_USED + DCGM_FI_DEV_FB_FREE (MiB);
  * memory_utilization: DCGM_FI_DEV_MEM_COPY_UTIL (%); power_watts: DCGM_FI_DEV_POWER_USAGE (W).
Labels: Hostname -> host (else the file name, see `shared.host_from_source`), UUID ->
gpu_uuid, GPU_I_ID -> mig_instance, gpu -> gpu_index, pci_bus_id, modelName, and pod /
namespace / container (or the older pod_name / pod_namespace / container_name).

The metrics of one (timestamp, Hostname, UUID, GPU_I_ID) are merged into one row; if that
sample gets one metric twice (concatenated scrapes without timestamps all take
`observed_at`), the last value wins and the earlier ones are counted in
`skipped[SUPERSEDED]`. Rows are emitted as soon as a later timestamp shows up, which assumes
the lines of one scrape share their timestamp (they share it when a collector stamps the
scrape, and when there is none); the rows of the latest timestamp are held back, so a scrape
split across read blocks is still merged. Memory stays bounded by one block of lines plus one
scrape's rows.

DCGM blank sentinels, NaN and infinities become null; a sample line without a UUID label is
skipped and counted in `skipped[NO_UUID]`, a merged row without utilization in
`skipped[NO_UTILIZATION]`. A line that is not `name{labels} value [timestamp]`, a label set
that does not parse (escapes included), a value or timestamp of a metric used here that is not
a number, a negative value or a share above its ceiling (100 %, or 1 for a ratio), a
timestamp outside the years 1900-2199, and a label the database cannot store (too long for
its column, or with a NUL) are IngestErrors naming the line.

Speed: lines are cut and converted by Arrow compute functions a block at a time; each distinct
series (`name{labels`) is parsed in Python once per file, as a scrape repeats the same ones.
"""

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import IngestError, quoted
from ingest.gpu_readers.shared import (
    EARLIEST_SAMPLE,
    LATEST_SAMPLE,
    TEXT_MAX_LENGTHS,
    SampleBatches,
    host_from_source,
    iter_lines,
    observed_timestamp,
    parse_located,
    sample_batch,
    unstorable_text,
)
from ingest.gpu_schema import PERCENT

FORMAT = "dcgm"
LABEL = "DCGM exporter metrics (Prometheus text)"

UNKNOWN_METRIC = "lines of metrics not used"
NO_UUID = "lines without a UUID label"
NO_UTILIZATION = "samples without GPU utilization"
SUPERSEDED = "values repeated for one sample (the last one is kept)"

GPU_UTIL, GR_ENGINE_ACTIVE, FB_USED, FB_FREE, MEM_COPY_UTIL, POWER_USAGE = range(6)
UNUSED, COMMENT = -1, -2  # codes of lines of other metrics, and of comments that contain "}"
METRICS = {
    "DCGM_FI_DEV_GPU_UTIL": GPU_UTIL,
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": GR_ENGINE_ACTIVE,
    "DCGM_FI_DEV_FB_USED": FB_USED,
    "DCGM_FI_DEV_FB_FREE": FB_FREE,
    "DCGM_FI_DEV_MEM_COPY_UTIL": MEM_COPY_UTIL,
    "DCGM_FI_DEV_POWER_USAGE": POWER_USAGE,
}
METRIC_COLUMNS = [f"m{code}" for code in range(len(METRICS))]
METRIC_NAMES = {code: name for name, code in METRICS.items()}
# Every metric used is a non-negative amount; these are shares, so they also have a ceiling.
METRIC_CEILINGS = {GPU_UTIL: 100.0, GR_ENGINE_ACTIVE: 1.0, MEM_COPY_UTIL: 100.0}
_CEILINGS = pa.array([METRIC_CEILINGS.get(code, float("inf")) for code in range(len(METRICS))], PERCENT)
EARLIEST_MS = int(EARLIEST_SAMPLE.timestamp() * 1000)
LATEST_MS = int(LATEST_SAMPLE.timestamp() * 1000)

# DCGM's "no value" sentinels, as defined in dcgmlib/dcgm_structs.h (NVIDIA/DCGM; also in the
# DCGM API reference, "Enums and Macros"):
#   DCGM_INT32_BLANK 0x7ffffff0 (2147483632), DCGM_INT32_IS_BLANK(val) is val >= DCGM_INT32_BLANK
#   DCGM_INT64_BLANK 0x7ffffffffffffff0 (9223372036854775792), DCGM_INT64_IS_BLANK: val >= it
#   DCGM_FP64_BLANK 140737488355328.0 (2 ** 47), DCGM_FP64_IS_BLANK: val >= it
# plus NOT_FOUND / NOT_SUPPORTED / NOT_PERMISSIONED at BLANK + 1, + 2, + 3. The exporter prints
# them as plain numbers (9223372036854775794 is INT64 NOT_SUPPORTED). Values are read as
# float64, so anything >= 2 ** 47 (which covers the INT64 blanks) or from INT32_BLANK up to
# INT32_MAX (2147483647) is a sentinel; no real utilization, MiB or watt reading comes near.
DCGM_INT32_BLANK = 0x7FFFFFF0
INT32_MAX = 0x7FFFFFFF
DCGM_FP64_BLANK = 140737488355328.0
DCGM_INT64_BLANK = 0x7FFFFFFFFFFFFFF0  # >= DCGM_FP64_BLANK: covered by the FP64 test

BATCH_ROWS = 50_000
# Arrow's CSV reader (which splits the lines) holds tens of times its block size: 4 MB keeps a
# read under ~400 MB; 8 MB is ~25% faster for ~150 MB more.
LINE_BLOCK_BYTES = 4 << 20

_COMMENT_OR_BLANK = r"^[ \t]*(#|$)"
# A line up to its last "}", whose label set is then parsed by _LABEL.
_SERIES = re.compile(r"[ \t]*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]*\{(?P<labels>.*)", re.DOTALL)
_UNLABELLED_LINE = (
    r"^[ \t]*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]+(?P<value>[^ \t]+)(?:[ \t]+[^ \t]+)?[ \t]*$"
)
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"\\": "\\", '"': '"', "n": "\n"}
_DETECT = re.compile(rb"^(# (HELP|TYPE) )?DCGM_FI_[A-Z0-9_]+[ \t{]", re.MULTILINE)

# Canonical text column -> the labels that feed it, first present wins.
LABELS = {
    "host": ("Hostname", "hostname"),
    "gpu_uuid": ("UUID", "uuid"),
    "mig_instance": ("GPU_I_ID",),
    "gpu_index": ("gpu",),
    "pci_bus_id": ("pci_bus_id",),
    "model_name": ("modelName",),
    "pod": ("pod", "pod_name"),
    "namespace": ("namespace", "pod_namespace"),
    "container": ("container", "container_name"),
}


def detect(head: bytes) -> bool:
    return bool(_DETECT.search(head.lstrip(b"\xef\xbb\xbf")))


def read(stream: BinaryIO, *, source: str, observed_at: datetime) -> SampleBatches:
    skipped: Counter[str] = Counter()
    batches = _batches(stream, source=source, observed_at=observed_at, skipped=skipped)
    return SampleBatches(_rebatch(batches), skipped)


def parse_labels(inner: str) -> dict[str, str]:
    """`a="1",b="x\\"y"` (what is inside the braces) -> {"a": "1", "b": 'x"y'}, by the text
    format's escaping rules (backslash, double quote and line feed are escaped as \\\\, \\"
    and \\n)."""
    labels, position = {}, 0
    while inner[position:].strip():
        match = _LABEL.match(inner, position)
        if not match:
            raise ValueError(f"malformed label set at {inner[position : position + 40]!r}")
        labels[match[1]] = _ESCAPE.sub(_unescape, match[2])
        position = match.end()
        if not match[3]:
            break
    return labels


def _unescape(match: re.Match) -> str:
    try:
        return _ESCAPED[match[1]]
    except KeyError:
        raise ValueError(f"invalid escape \\{match[1]} in a label value") from None


NO_LABELS = 0  # the id of the empty label set


class _Series:
    """Every distinct series (`name{labels`, the part of a line before its last "}") seen so far,
    parsed once: its metric code (UNUSED, COMMENT or a METRICS code) and label set id; and per
    label set the sample key (Hostname, UUID, GPU_I_ID) it belongs to (-1: no UUID) and its
    text columns. A scrape repeats the same few thousand series, so this stays small."""

    def __init__(self, *, source: str):
        self._source = source
        self._heads: list[str] = []  # per series: its text, metric code and label set id
        self._codes: list[int] = []
        self._series_labels: list[int] = []
        self._label_ids: dict[str, int] = {}
        self._keys: dict[tuple[str, str, str], int] = {}
        self._key_of: list[int] = []  # per label set: its key and text columns
        self._text: dict[str, list[str]] = {name: [] for name in LABELS}
        self._arrays: dict[str, pa.Array] = {}
        self._label_ids[""] = self._add_labels({})  # NO_LABELS

    def codes_and_labels(self, heads: pa.Array, numbers: pa.Array) -> tuple[pa.Array, pa.Array]:
        """The metric code and label set id of each line's series. Lines are looked up in Arrow;
        only series not seen before reach Python."""
        series = pc.index_in(heads, value_set=self._array("heads", self._heads, pa.string()))
        if series.null_count:
            for head in pc.unique(heads.filter(pc.is_null(series))).to_pylist():
                try:
                    self._add_series(head)
                except ValueError as exc:
                    row = pc.index(heads, head).as_py()
                    raise IngestError(str(exc), source=self._source, line=numbers[row].as_py()) from exc
            series = pc.index_in(heads, value_set=self._array("heads", self._heads, pa.string()))
        return (
            pc.take(self._array("codes", self._codes, pa.int8()), series),
            pc.take(self._array("series_labels", self._series_labels, pa.int32()), series),
        )

    def keys(self, label_ids: pa.Array) -> pa.Array:
        return pc.take(self._array("key", self._key_of, pa.int32()), label_ids)

    def text(self, label_ids: pa.Array) -> dict[str, pa.Array]:
        return {
            name: pc.take(self._array(name, values, pa.string()), label_ids)
            for name, values in self._text.items()
        }

    def _add_series(self, head: str) -> None:
        if head.lstrip().startswith("#"):
            code, label_id = COMMENT, NO_LABELS
        else:
            match = _SERIES.fullmatch(head)
            if not match:
                raise ValueError(
                    f"not a Prometheus sample line (name{{labels}} value [timestamp]): {head[:120]!r}"
                )
            label_id = self._label_ids.get(match["labels"])
            if label_id is None:
                label_id = self._label_ids[match["labels"]] = self._add_labels(parse_labels(match["labels"]))
            code = METRICS.get(match["name"], UNUSED)
        self._heads.append(head)
        self._codes.append(code)
        self._series_labels.append(label_id)
        self._arrays.clear()

    def _add_labels(self, labels: dict[str, str]) -> int:
        found = {
            name: next((labels[label] for label in names if labels.get(label)), "")
            for name, names in LABELS.items()
        }
        key = -1
        if found["gpu_uuid"]:
            found["host"] = found["host"] or host_from_source(self._source)
            # Only label sets with a UUID feed samples: only their text must fit the columns.
            for name, value in found.items():
                if problem := unstorable_text(value, max_length=TEXT_MAX_LENGTHS[name]):
                    raise ValueError(f"the {' or '.join(LABELS[name])} label {problem}")
            key = self._keys.setdefault(
                (found["host"], found["gpu_uuid"], found["mig_instance"]), len(self._keys)
            )
        self._key_of.append(key)
        for name, value in found.items():
            self._text[name].append(value)
        self._arrays.clear()
        return len(self._key_of) - 1

    def _array(self, name: str, values: list, type: pa.DataType) -> pa.Array:
        if name not in self._arrays:
            self._arrays[name] = pa.array(values, type)
        return self._arrays[name]


def _batches(
    stream: BinaryIO, *, source: str, observed_at: datetime, skipped: Counter[str]
) -> Iterator[pa.RecordBatch]:
    observed_us = observed_timestamp(observed_at).cast(pa.int64())
    series = _Series(source=source)
    pending: pa.Table | None = None
    for lines in iter_lines(stream, source=source, block_bytes=LINE_BLOCK_BYTES):
        samples = _samples(lines.text, lines.numbers(), series, observed_us, source=source, skipped=skipped)
        if samples.num_rows == 0:
            continue
        latest = samples["timestamp"][-1]
        merged = _merge(samples if pending is None else pa.concat_tables([pending, samples]), skipped=skipped)
        held = pc.equal(merged["timestamp"], latest)
        pending = merged.filter(held)
        ready = merged.filter(pc.invert(held))
        if ready.num_rows:
            yield _sample_batch(ready, series, skipped=skipped)
    if pending is not None and pending.num_rows:
        yield _sample_batch(pending, series, skipped=skipped)


def _samples(
    text: pa.Array,
    numbers: pa.Array,
    series: _Series,
    observed_us: pa.Scalar,
    *,
    source: str,
    skipped: Counter[str],
) -> pa.Table:
    """One row per sample line of a metric used here: timestamp (µs), key, label set, and the
    value in the column of its metric (null in the others).

    Each line is cut at its last "}" (a value or timestamp cannot contain one) into its series,
    parsed once per distinct series, and its value and timestamp. Arrow copies strings slowly
    out of list arrays (list_element, take), so the halves are picked with filters instead."""
    halves = pc.split_pattern(text, "}", max_splits=1, reverse=True)
    offsets = halves.offsets.to_numpy()
    labelled = np.diff(offsets) == 2
    if not labelled.all():  # comments, blank lines, and samples without labels
        unlabelled = pa.array(~labelled)
        _skip_unlabelled(text.filter(unlabelled), numbers.filter(unlabelled), source=source, skipped=skipped)
    head_at = offsets[:-1][labelled]
    heads = _pick(halves.values, head_at)
    tails = _pick(halves.values, head_at + 1)
    numbers = numbers.filter(pa.array(labelled))

    codes, label_ids = series.codes_and_labels(heads, numbers)
    keys = series.keys(label_ids)
    _count(skipped, UNKNOWN_METRIC, pc.not_equal(codes, UNUSED))
    _count(skipped, NO_UUID, pc.or_(pc.less(codes, 0), pc.greater_equal(keys, 0)))
    used = pc.and_(pc.greater_equal(codes, 0), pc.greater_equal(keys, 0))
    tails, numbers, codes, label_ids, keys = (
        array.filter(used) for array in (tails, numbers, codes, label_ids, keys)
    )

    value_text, stamp_text = _value_and_timestamp(tails, numbers, source=source)
    values = parse_located(
        value_text, PERCENT, numbers=numbers, source=source, column="value", what="sample value"
    )
    sentinel = pc.or_(
        pc.greater_equal(values, DCGM_FP64_BLANK),
        pc.and_(pc.greater_equal(values, DCGM_INT32_BLANK), pc.less_equal(values, INT32_MAX)),
    )
    values = pc.if_else(
        pc.or_kleene(sentinel, pc.invert(pc.is_finite(values))), pa.scalar(None, PERCENT), values
    )
    _check_in_range(values, codes, value_text, numbers, source=source)
    milliseconds = parse_located(
        stamp_text,
        pa.int64(),
        numbers=numbers,
        source=source,
        column="timestamp",
        what="timestamp in milliseconds",
    )
    # Checked before scaling: a huge millisecond count would wrap around in microseconds.
    outside = pc.or_(pc.less(milliseconds, EARLIEST_MS), pc.greater_equal(milliseconds, LATEST_MS))
    if pc.any(pc.fill_null(outside, False)).as_py():
        row = pc.index(pc.fill_null(outside, False), True).as_py()
        raise IngestError(
            f"{quoted(stamp_text[row].as_py())} is not a time in the years 1900-2199 "
            "(milliseconds since 1970)",
            source=source,
            line=numbers[row].as_py(),
            column="timestamp",
        )
    timestamps = pc.fill_null(pc.multiply(milliseconds, 1000), observed_us)

    columns = {"timestamp": timestamps, "key": keys, "label": label_ids}
    for code, name in enumerate(METRIC_COLUMNS):
        columns[name] = pc.if_else(pc.equal(codes, code), values, pa.scalar(None, PERCENT))
    return pa.table(columns)


def _check_in_range(
    values: pa.Array, codes: pa.Array, text: pa.Array, numbers: pa.Array, *, source: str
) -> None:
    ceilings = pc.take(_CEILINGS, codes)
    outside = pc.fill_null(pc.or_(pc.less(values, 0.0), pc.greater(values, ceilings)), False)
    if pc.any(outside).as_py():
        row = pc.index(outside, True).as_py()
        code = codes[row].as_py()
        expected = f"0 to {METRIC_CEILINGS[code]:g}" if code in METRIC_CEILINGS else "0 or more"
        raise IngestError(
            f"{quoted(text[row].as_py())} is out of range for {METRIC_NAMES[code]} (expected {expected})",
            source=source,
            line=numbers[row].as_py(),
            column="value",
        )


def _pick(values: pa.Array, positions: np.ndarray) -> pa.Array:
    """values[positions] for increasing positions, by a filter: Arrow's take and list_element
    copy long strings out of a list array's values several times slower."""
    mask = np.zeros(len(values), dtype=bool)
    mask[positions] = True
    return values.filter(pa.array(mask))


def _value_and_timestamp(tails: pa.Array, numbers: pa.Array, *, source: str) -> tuple[pa.Array, pa.Array]:
    """` 37 1793534400000` -> ("37", "1793534400000"); ` 37` -> ("37", null)."""
    trimmed = pc.ascii_trim_whitespace(tails)
    words = pc.ascii_split_whitespace(trimmed)
    counts = pc.list_value_length(words)
    wrong = pc.or_(pc.equal(trimmed, ""), pc.greater(counts, 2))
    if pc.any(wrong).as_py():
        row = pc.index(wrong, True).as_py()
        raise IngestError(
            f"expected a value and an optional timestamp after the labels, found {tails[row].as_py()[:80]!r}",
            source=source,
            line=numbers[row].as_py(),
        )
    values = pc.list_element(words, 0)
    stamped = pc.equal(counts, 2)
    if stamped.true_count == len(words):
        return values, pc.list_element(words, 1)
    stamps = pa.nulls(len(words), pa.string())
    if stamped.true_count:
        stamps = pc.replace_with_mask(stamps, stamped, pc.list_element(words.filter(stamped), 1))
    return values, stamps


def _skip_unlabelled(text: pa.Array, numbers: pa.Array, *, source: str, skipped: Counter[str]) -> None:
    """Lines without a label set have no UUID: check their syntax, then count them."""
    samples = pc.invert(pc.match_substring_regex(text, _COMMENT_OR_BLANK))
    if not samples.true_count:
        return
    text, numbers = text.filter(samples), numbers.filter(samples)
    parts = pc.extract_regex(text, _UNLABELLED_LINE)
    if parts.null_count:
        row = pc.index(pc.is_null(parts), True).as_py()
        raise IngestError(
            f"not a Prometheus sample line (name{{labels}} value [timestamp]): {text[row].as_py()[:120]!r}",
            source=source,
            line=numbers[row].as_py(),
        )
    parse_located(
        parts.field("value"), PERCENT, numbers=numbers, source=source, column="value", what="sample value"
    )
    known = pc.is_in(parts.field("name"), value_set=pa.array(list(METRICS)))
    _count(skipped, UNKNOWN_METRIC, known)
    _count(skipped, NO_UUID, pc.invert(known))


def _merge(samples: pa.Table, *, skipped: Counter[str]) -> pa.Table:
    """One row per (timestamp, key); per metric the last value given wins."""
    merged = samples.group_by(["timestamp", "key"], use_threads=False).aggregate(
        [("label", "last"), *((name, "last") for name in METRIC_COLUMNS)]
    )
    merged = merged.rename_columns([name.removesuffix("_last") for name in merged.column_names])
    merged = merged.select(samples.column_names)  # so that it concatenates with the next block
    given = sum(samples[name].length() - samples[name].null_count for name in METRIC_COLUMNS)
    kept = sum(merged[name].length() - merged[name].null_count for name in METRIC_COLUMNS)
    if given > kept:
        skipped[SUPERSEDED] += given - kept
    return merged


def _sample_batch(rows: pa.Table, series: _Series, *, skipped: Counter[str]) -> pa.RecordBatch:
    metric = {code: rows[f"m{code}"].combine_chunks() for code in METRICS.values()}
    columns = series.text(rows["label"].combine_chunks())
    columns["sampled_at"] = pc.cast(rows["timestamp"].combine_chunks(), pa.timestamp("us", tz="UTC"))
    columns["utilization"] = pc.coalesce(metric[GPU_UTIL], pc.multiply(metric[GR_ENGINE_ACTIVE], 100.0))
    columns["memory_utilization"] = metric[MEM_COPY_UTIL]
    columns["memory_used_mib"] = metric[FB_USED]
    columns["memory_total_mib"] = pc.add(metric[FB_USED], metric[FB_FREE])
    columns["power_watts"] = metric[POWER_USAGE]
    batch = sample_batch(columns, rows.num_rows)
    measured = pc.is_valid(batch.column("utilization"))
    if _count(skipped, NO_UTILIZATION, measured):
        batch = batch.filter(measured)
    return batch


def _count(skipped: Counter[str], reason: str, kept: pa.Array) -> int:
    """Count the rows `kept` drops under `reason`; returns how many."""
    dropped = len(kept) - (pc.sum(kept).as_py() or 0)
    if dropped:
        skipped[reason] += dropped
    return dropped


def _rebatch(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Batches of about BATCH_ROWS rows, however the blocks and scrapes fell."""
    buffered: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        buffered.append(batch)
        rows += batch.num_rows
        if rows >= BATCH_ROWS:
            yield from pa.Table.from_batches(buffered).combine_chunks().to_batches(max_chunksize=BATCH_ROWS)
            buffered, rows = [], 0
    if buffered:
        yield from pa.Table.from_batches(buffered).combine_chunks().to_batches(max_chunksize=BATCH_ROWS)
