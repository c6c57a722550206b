"""GPU samples from the matrices of Prometheus range queries over NVIDIA DCGM exporter metrics
(`ingest.prometheus.query_range`), one matrix per measurement:

    matrices = {"utilization": series, "memory_used": series, ...}
    batches = read(matrices, source="http://prometheus:9090 2026-11-01T00:00:00Z/...")
    for batch in batches: ...   # GPU_SAMPLE_SCHEMA
    batches.skipped             # e.g. Counter({"series without a UUID label": 2})

Measurements (every one optional, see MEASUREMENTS):
  * utilization (%; DCGM_FI_DEV_GPU_UTIL), else engine_active (a 0-1 ratio;
    DCGM_FI_PROF_GR_ENGINE_ACTIVE) x 100 - MIG instances only report the latter;
  * memory_used / memory_free (MiB; DCGM_FI_DEV_FB_USED / _FB_FREE): memory_used_mib, and
    memory_total_mib = used + free;
  * memory_utilization (%; DCGM_FI_DEV_MEM_COPY_UTIL), power (W; DCGM_FI_DEV_POWER_USAGE).

Labels map as in the DCGM text reader (`dcgm.LABELS`): UUID -> gpu_uuid, GPU_I_ID ->
mig_instance, gpu -> gpu_index, pci_bus_id, modelName, pod / namespace / container (or the
older pod_name / ...), Hostname -> host; a series without Hostname takes its host from the
scrape target's `instance` label, port removed (`10.0.0.7:9400` -> `10.0.0.7`).

The values of one (time, host, UUID, GPU_I_ID) are merged into one row; when two series give
the same measurement for it (two scrape jobs of one exporter), the last wins and the others are
counted. Skipped on purpose and counted in `skipped`: series without a UUID, or without a host;
series whose labels the database cannot store; DCGM's blank sentinels (see `dcgm`), NaN and
infinities; values out of range (negative, a percentage above 100, a ratio above 1); rows left
without utilization. An answer whose points are not `[unix seconds, "number"]`, or whose times
fall outside the years 1900-2199, is an IngestError. Nothing here touches the network or the ORM.
"""

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import IngestError, quoted
from ingest.gpu_readers import dcgm
from ingest.gpu_readers.shared import (
    EARLIEST_SAMPLE,
    LATEST_SAMPLE,
    TEXT_MAX_LENGTHS,
    SampleBatches,
    sample_batch,
    unstorable_text,
)
from ingest.gpu_schema import PERCENT
from ingest.prometheus import Series

FORMAT = "prometheus"
LABEL = "Prometheus range queries (DCGM exporter metrics)"

MEASUREMENTS = ("utilization", "engine_active", "memory_used", "memory_free", "memory_utilization", "power")
CEILINGS = {"utilization": 100.0, "engine_active": 1.0, "memory_utilization": 100.0}

NO_UUID = "series without a UUID label"
NO_HOST = "series without a Hostname or instance label"
UNSTORABLE = "series with a label the database cannot store"
BLANK = "blank values (DCGM sentinels, NaN, infinities)"
OUT_OF_RANGE = "values out of range"
NO_UTILIZATION = dcgm.NO_UTILIZATION
SUPERSEDED = dcgm.SUPERSEDED

LABELS = {**dcgm.LABELS, "host": (*dcgm.LABELS["host"], "instance")}
BATCH_ROWS = dcgm.BATCH_ROWS
_EARLIEST_SECONDS = EARLIEST_SAMPLE.timestamp()
_LATEST_SECONDS = LATEST_SAMPLE.timestamp()


def read(matrices: Mapping[str, Sequence[Series]], *, source: str) -> SampleBatches:
    """The samples of one window's matrices (measurement -> series), sorted by time; `source`
    names the pull in errors."""
    unknown = set(matrices) - set(MEASUREMENTS)
    if unknown:
        raise ValueError(f"unknown measurements {sorted(unknown)}; known: {MEASUREMENTS}")
    skipped: Counter[str] = Counter()
    devices = _Devices()
    parts = [
        _points(series, measurement=measurement, devices=devices, source=source, skipped=skipped)
        for measurement, matrix in matrices.items()
        for series in matrix
    ]
    parts = [part for part in parts if part is not None and part.num_rows]
    if not parts:
        return SampleBatches(iter(()), skipped)
    rows = _merge(pa.concat_tables(parts), skipped=skipped)
    batch = _sample_batch(rows, devices, skipped=skipped)
    return SampleBatches(iter(batch.to_batches(max_chunksize=BATCH_ROWS)), skipped)


def host_from_instance(instance: str) -> str:
    """A scrape target's host: `10.0.0.7:9400` -> `10.0.0.7`, `[fe80::1]:9400` -> `fe80::1`;
    a value without a port is the host itself."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    if instance.count(":") == 1:
        return instance.split(":", 1)[0]
    return instance


class _Devices:
    """The distinct label sets seen (as the text columns they give) and the sample key
    (host, UUID, GPU_I_ID) each belongs to."""

    def __init__(self):
        self._ids: dict[tuple[str, ...], int] = {}
        self._keys: dict[tuple[str, str, str], int] = {}
        self.text: dict[str, list[str]] = {name: [] for name in LABELS}
        self.key_of: list[int] = []

    def label_id(self, labels: dict[str, str], *, skipped: Counter[str]) -> int | None:
        found = {
            name: next((labels[label] for label in names if labels.get(label)), "")
            for name, names in LABELS.items()
        }
        if not found["gpu_uuid"]:
            skipped[NO_UUID] += 1
            return None
        if not any(labels.get(label) for label in dcgm.LABELS["host"]):
            found["host"] = host_from_instance(found["host"])  # it came from `instance`
        if not found["host"]:
            skipped[NO_HOST] += 1
            return None
        if any(unstorable_text(value, max_length=TEXT_MAX_LENGTHS[name]) for name, value in found.items()):
            skipped[UNSTORABLE] += 1
            return None
        values = tuple(found.values())
        if values not in self._ids:
            self._ids[values] = len(self._ids)
            for name, value in found.items():
                self.text[name].append(value)
            key = (found["host"], found["gpu_uuid"], found["mig_instance"])
            self.key_of.append(self._keys.setdefault(key, len(self._keys)))
        return self._ids[values]


def _points(
    series: Series, *, measurement: str, devices: _Devices, source: str, skipped: Counter[str]
) -> pa.Table | None:
    """One row per usable point: time (µs), key, label set, and the value in the column of
    its measurement (null in the others)."""
    label_id = devices.label_id(series.labels, skipped=skipped)
    if label_id is None or not series.values:
        return None
    seconds, values = _parse(series, measurement=measurement, source=source)
    blank = (
        ~np.isfinite(values)
        | (values >= dcgm.DCGM_FP64_BLANK)
        | ((values >= dcgm.DCGM_INT32_BLANK) & (values <= dcgm.INT32_MAX))
    )
    outside = ~blank & ((values < 0) | (values > CEILINGS.get(measurement, np.inf)))
    for reason, dropped in ((BLANK, int(blank.sum())), (OUT_OF_RANGE, int(outside.sum()))):
        if dropped:
            skipped[reason] += dropped
    kept = ~(blank | outside)
    count = int(kept.sum())
    columns = {
        "timestamp": pa.array(np.round(seconds[kept] * 1_000_000).astype(np.int64)),
        "key": pa.array(np.full(count, devices.key_of[label_id], dtype=np.int32)),
        "label": pa.array(np.full(count, label_id, dtype=np.int32)),
    }
    for name in MEASUREMENTS:
        columns[name] = pa.array(values[kept]) if name == measurement else pa.nulls(count, PERCENT)
    return pa.table(columns)


def _parse(series: Series, *, measurement: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    where = f"the {measurement} series {quoted(_describe(series.labels), limit=200)}"
    try:
        times, texts = zip(*series.values, strict=True)
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("values are text")
        seconds = np.array(times, dtype=np.float64)
        values = np.array(texts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise IngestError(
            f'{where} has a point that is not [unix seconds, "number"] ({exc})', source=source
        ) from exc
    outside = ~np.isfinite(seconds) | (seconds < _EARLIEST_SECONDS) | (seconds >= _LATEST_SECONDS)
    if outside.any():
        when = quoted(series.values[int(np.argmax(outside))][0])
        raise IngestError(
            f"{where} has a point at {when}, which is not a time in the years 1900-2199 (unix seconds)",
            source=source,
        )
    return seconds, values


def _describe(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{name}={value!r}" for name, value in sorted(labels.items())) + "}"


def _merge(points: pa.Table, *, skipped: Counter[str]) -> pa.Table:
    """One row per (time, key); per measurement the last value given wins."""
    merged = points.group_by(["timestamp", "key"], use_threads=False).aggregate(
        [("label", "last"), *((name, "last") for name in MEASUREMENTS)]
    )
    merged = merged.rename_columns([name.removesuffix("_last") for name in merged.column_names])
    given = sum(points[name].length() - points[name].null_count for name in MEASUREMENTS)
    kept = sum(merged[name].length() - merged[name].null_count for name in MEASUREMENTS)
    if given > kept:
        skipped[SUPERSEDED] += given - kept
    return merged.sort_by([("timestamp", "ascending"), ("key", "ascending")])


def _sample_batch(rows: pa.Table, devices: _Devices, *, skipped: Counter[str]) -> pa.Table:
    measured = {name: rows[name].combine_chunks() for name in MEASUREMENTS}
    label_ids = rows["label"].combine_chunks()
    columns = {
        name: pc.take(pa.array(values, pa.string()), label_ids) for name, values in devices.text.items()
    }
    columns["sampled_at"] = pc.cast(rows["timestamp"].combine_chunks(), pa.timestamp("us", tz="UTC"))
    columns["utilization"] = pc.coalesce(
        measured["utilization"], pc.multiply(measured["engine_active"], 100.0)
    )
    columns["memory_utilization"] = measured["memory_utilization"]
    columns["memory_used_mib"] = measured["memory_used"]
    columns["memory_total_mib"] = pc.add(measured["memory_used"], measured["memory_free"])
    columns["power_watts"] = measured["power"]
    batch = sample_batch(columns, rows.num_rows)
    usable = pc.is_valid(batch.column("utilization"))
    dropped = batch.num_rows - pc.sum(usable).as_py() if batch.num_rows else 0
    if dropped:
        skipped[NO_UTILIZATION] += dropped
        batch = batch.filter(usable)
    return pa.Table.from_batches([batch])
