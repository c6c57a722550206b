"""Pulls from a Prometheus server: GPU samples (DCGM exporter metrics) and inference volumes,
for data sources whose format is "prometheus" and whose `uri` is the server's base URL. The
queries and how to read them are the source's `options` (README "Prometheus"); every pull is an
IngestRun, failures included.

GPU samples: the window runs from where the last successful pull of the source ended (else
`lookback_minutes` ago; never further back than that) to now, evaluated every `step` at
multiples of `step` since 1970, in pieces under Prometheus's 11,000 points per series. The
samples load like a file delivery: an overlapping pull replaces the same hosts' samples over its
span, samples are assigned to workloads and the hourly rollup is rebuilt.

Inference volumes: each query is evaluated at the end of each of the last `days` whole
reporting days (settings.TIME_ZONE midnights), with `$__range` replaced by that day's length
(`86400s`, or 23 / 25 hours across a daylight-saving change), and sets the day's requests and
tokens per workload.

All queries are answered before anything is written: a server that fails half-way leaves the
data loaded before untouched.
"""

import hashlib
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
from django.utils import timezone

from finops.models import DataSource, InferenceVolume, IngestRun, Workload
from finops.services.volumes import VolumeRow, inference_volumes_upsert
from ingest.errors import IngestError, SourceUnavailable, quoted
from ingest.gpu_loader import GpuLoadResult, gpu_batches_write
from ingest.gpu_readers import prometheus as gpu_prometheus
from ingest.gpu_schema import GPU_SAMPLE_SCHEMA
from ingest.prometheus import (
    DEFAULT_TIMEOUT_SECONDS,
    aligned_window,
    parse_duration,
    query_range,
    query_windows,
)
from ingest.services.gpu import _loaded_samples_settle
from ingest.services.runs import delivery_run
from ingest.sources import Delivery, SourceFile

logger = logging.getLogger(__name__)

PROMETHEUS = "prometheus"  # DataSource.format of a Prometheus server

GPU_QUERIES = {
    "utilization": "DCGM_FI_DEV_GPU_UTIL",
    "engine_active": "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "memory_used": "DCGM_FI_DEV_FB_USED",
    "memory_free": "DCGM_FI_DEV_FB_FREE",
    "memory_utilization": "DCGM_FI_DEV_MEM_COPY_UTIL",
    "power": "DCGM_FI_DEV_POWER_USAGE",
}
GPU_DEFAULT_STEP = "60s"
GPU_DEFAULT_LOOKBACK_MINUTES = 24 * 60

# `{label}` is the workload label; `$__range` the length of the day evaluated.
VOLUME_QUERIES = {
    "requests": "sum by ({label}) (increase(vllm:request_success_total[$__range]))",
    "input_tokens": "sum by ({label}) (increase(vllm:prompt_tokens_total[$__range]))",
    "output_tokens": "sum by ({label}) (increase(vllm:generation_tokens_total[$__range]))",
}
VOLUME_DEFAULT_LABEL = "workload"
VOLUME_DEFAULT_DAYS = 7
VOLUME_MAX_DAYS = 366
RANGE_PLACEHOLDER = "$__range"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class GpuPullOptions:
    queries: dict[str, str]  # measurement -> PromQL, the enabled ones
    step: timedelta
    lookback: timedelta
    timeout: float


@dataclass(frozen=True)
class VolumePullOptions:
    queries: dict[str, str]  # requests / input_tokens / output_tokens -> PromQL, the enabled ones
    workload_label: str
    days: int
    timeout: float


def prometheus_pull(*, data_source: DataSource) -> IngestRun:
    """The scheduled pull of a Prometheus data source, by its kind."""
    if data_source.kind == IngestRun.Kind.GPU:
        return prometheus_gpu_pull(data_source=data_source)
    if data_source.kind == IngestRun.Kind.VOLUMES:
        return prometheus_volumes_pull(data_source=data_source)
    return _failed_run(
        kind=data_source.kind,
        data_source=data_source,
        source=data_source.uri,
        error=f"a Prometheus source gives GPU metrics or inference volumes, not "
        f"{data_source.get_kind_display().lower()}: set its kind to one of those",
    )


def prometheus_gpu_pull(
    *, data_source: DataSource, start: datetime | None = None, end: datetime | None = None
) -> IngestRun:
    """Pull GPU samples between `start` (default: where the last successful pull ended, or
    `lookback_minutes` ago, whichever is later) and `end` (default: now), and load them as
    one idempotent run."""
    label = data_source.uri
    try:
        options = gpu_pull_options(data_source.options)
        start, end = _gpu_window(data_source, options, start=start, end=end)
        label = f"{data_source.uri} {_iso(start)}/{_iso(end)}"
        samples, skipped = _gpu_samples(data_source.uri, options, start=start, end=end, label=label)
    except IngestError as exc:
        return _failed_run(
            kind=IngestRun.Kind.GPU, data_source=data_source, source=label, error=_located(exc, label)
        )
    except SourceUnavailable as exc:
        _failed_run(kind=IngestRun.Kind.GPU, data_source=data_source, source=label, error=str(exc))
        raise
    if not samples.num_rows:
        found = "".join(f", skipped {count} {reason}" for reason, count in sorted(skipped.items()))
        return _failed_run(
            kind=IngestRun.Kind.GPU,
            data_source=data_source,
            source=label,
            error=f"{label}: the queries returned no GPU samples{found}",
        )

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, GPU_SAMPLE_SCHEMA) as writer:
        writer.write_table(samples)
    fingerprint = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    pulled = SourceFile(name=label, fingerprint=fingerprint, modified_at=end, open=None)

    def load(run: IngestRun) -> None:
        result = GpuLoadResult()
        gpu_batches_write(
            run_id=run.pk, batches=samples.to_batches(max_chunksize=gpu_prometheus.BATCH_ROWS), result=result
        )
        result.skipped.update(skipped)
        run.files.append(
            {
                "name": label,
                "fingerprint": fingerprint,
                "rows": result.samples_loaded,
                "start": _iso(start),
                "end": _iso(end),
            }
        )
        _loaded_samples_settle(run, result, formats=[gpu_prometheus.FORMAT], label=label)

    return delivery_run(
        delivery=Delivery(label=label, files=(pulled,)),
        kind=IngestRun.Kind.GPU,
        data_source=data_source,
        load=load,
    )


def prometheus_volumes_pull(
    *, data_source: DataSource, start: datetime | None = None, end: datetime | None = None
) -> IngestRun:
    """Set the requests and tokens per workload of whole reporting days: the last `days` before
    `end` (default: now), or every whole day from `start` on."""
    run = IngestRun.objects.create(
        kind=IngestRun.Kind.VOLUMES, data_source=data_source, source=data_source.uri, format=PROMETHEUS
    )
    try:
        options = volume_pull_options(data_source.options)
        days = reporting_days(start=start, end=end or timezone.now(), count=options.days)
        run.source = f"{data_source.uri} {days[0]}/{days[-1]}"
        totals, notes = _volume_totals(data_source.uri, options, days=days, source=run.source)
        rows = _volume_rows(totals, notes=notes)
        if not rows:
            raise IngestError(
                f"the queries returned no volumes of a known workload{_skipped_text(notes)}",
                source=run.source,
            )
        written = inference_volumes_upsert(rows=rows, source=InferenceVolume.Source.PROMETHEUS)
    except IngestError as exc:
        _run_finish(run, status=IngestRun.Status.FAILED, error=_located(exc, run.source))
        return run
    except SourceUnavailable as exc:
        _run_finish(run, status=IngestRun.Status.FAILED, error=str(exc))
        raise
    except Exception as exc:
        logger.exception("Prometheus volumes pull of %s failed", data_source.uri)
        _run_finish(run, status=IngestRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    workloads = len({row.workload.pk for row in rows})
    run.rows_loaded = written
    run.message = (
        f"{written} workload-days of {workloads} workload{'s' if workloads != 1 else ''} "
        f"from {days[0]} to {days[-1]}{_skipped_text(notes)}"
    )
    run.files = [
        {
            "name": run.source,
            "rows": written,
            "first_day": days[0].isoformat(),
            "last_day": days[-1].isoformat(),
        }
    ]
    _run_finish(run, status=IngestRun.Status.SUCCEEDED)
    return run


def gpu_pull_options(options: object) -> GpuPullOptions:
    """A GPU source's options, defaults filled in. A measurement set to "" or null is not
    queried; unknown keys are refused, so a misspelt one does not silently fall back."""
    given = _options_dict(options, known=(*GPU_QUERIES, "step", "lookback_minutes", "timeout_seconds"))
    queries = {}
    for measurement, default in GPU_QUERIES.items():
        query = given.get(measurement, default)
        if query is not None and not isinstance(query, str):
            raise IngestError(f"option {measurement!r} must be a PromQL query (text), not {quoted(query)}")
        if query and query.strip():
            queries[measurement] = query.strip()
    if "utilization" not in queries and "engine_active" not in queries:
        raise IngestError(
            "options 'utilization' and 'engine_active' are both off: nothing measures GPU utilization"
        )
    return GpuPullOptions(
        queries=queries,
        step=parse_duration(given.get("step", GPU_DEFAULT_STEP), name="option 'step'"),
        lookback=timedelta(minutes=_positive_number(given, "lookback_minutes", GPU_DEFAULT_LOOKBACK_MINUTES)),
        timeout=_positive_number(given, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
    )


def volume_pull_options(options: object) -> VolumePullOptions:
    given = _options_dict(options, known=(*VOLUME_QUERIES, "workload_label", "days", "timeout_seconds"))
    label = given.get("workload_label", VOLUME_DEFAULT_LABEL)
    if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
        raise IngestError(f"option 'workload_label' must be a Prometheus label name, not {quoted(label)}")
    queries = {}
    for figure, default in VOLUME_QUERIES.items():
        query = given.get(figure, default.format(label=label))
        if query is not None and not isinstance(query, str):
            raise IngestError(f"option {figure!r} must be a PromQL query (text), not {quoted(query)}")
        if query and query.strip():
            queries[figure] = query.strip()
    if "requests" not in queries:
        raise IngestError("option 'requests' is off: a volume needs its requests")
    days = given.get("days", VOLUME_DEFAULT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= VOLUME_MAX_DAYS:
        raise IngestError(
            f"option 'days' must be a whole number from 1 to {VOLUME_MAX_DAYS}, not {quoted(days)}"
        )
    return VolumePullOptions(
        queries=queries,
        workload_label=label,
        days=days,
        timeout=_positive_number(given, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
    )


def reporting_days(*, start: datetime | None, end: datetime, count: int) -> list[date]:
    """The whole reporting days (settings.TIME_ZONE) that end at or before `end`: from the
    first one that starts at or after `start`, else the last `count` of them."""
    tz = timezone.get_default_timezone()
    last = end.astimezone(tz).date() - timedelta(days=1)
    if start is None:
        first = last - timedelta(days=count - 1)
    else:
        local = start.astimezone(tz)
        first = local.date() if local == _midnight(local.date()) else local.date() + timedelta(days=1)
    if first > last:
        raise IngestError(f"no whole reporting day ({tz}) lies between {_iso(start or end)} and {_iso(end)}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _gpu_window(
    data_source: DataSource, options: GpuPullOptions, *, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    end = end or timezone.now()
    if start is None:
        start = end - options.lookback
        pulled_until = _gpu_pulled_until(data_source)
        if pulled_until and pulled_until > start:
            start = pulled_until
    first, last = aligned_window(start=start, end=end, step=options.step)
    if last < first:
        raise IngestError(
            f"the window {_iso(start)}/{_iso(end)} holds no multiple of the step "
            f"({options.step.total_seconds():g}s)"
        )
    return first, last


def _gpu_pulled_until(data_source: DataSource) -> datetime | None:
    """Where the source's last successful GPU pull ended (its run's `files` record it)."""
    run = (
        IngestRun.objects.filter(
            data_source=data_source, kind=IngestRun.Kind.GPU, status=IngestRun.Status.SUCCEEDED
        )
        .order_by("-started_at", "-id")
        .first()
    )
    ends = [
        item["end"]
        for item in (run.files if run else [])
        if isinstance(item, dict) and isinstance(item.get("end"), str)
    ]
    return max(datetime.fromisoformat(value) for value in ends) if ends else None


def _gpu_samples(
    base_url: str, options: GpuPullOptions, *, start: datetime, end: datetime, label: str
) -> tuple[pa.Table, Counter[str]]:
    """Every enabled query over the window, a piece at a time, as GPU_SAMPLE_SCHEMA rows."""
    tables, skipped = [], Counter()
    for first, last in query_windows(start=start, end=end, step=options.step):
        matrices = {
            measurement: query_range(
                base_url=base_url,
                query=query,
                start=first,
                end=last,
                step=options.step,
                timeout=options.timeout,
            )
            for measurement, query in options.queries.items()
        }
        batches = gpu_prometheus.read(matrices, source=label)
        tables.extend(pa.Table.from_batches([batch]) for batch in batches)
        skipped.update(batches.skipped)
    return (pa.concat_tables(tables) if tables else GPU_SAMPLE_SCHEMA.empty_table()), skipped


@dataclass
class _VolumeNotes:
    unknown: Counter[str]  # workload label value -> series
    unlabelled: int = 0  # day values
    not_counts: int = 0


def _volume_totals(
    base_url: str, options: VolumePullOptions, *, days: list[date], source: str
) -> tuple[dict[tuple[str, date], dict[str, float]], _VolumeNotes]:
    """(workload label value, day) -> figure -> the sum of its series' values. Series that
    share a workload label value (one per pod, when the query does not sum them) add up."""
    totals: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: dict.fromkeys(VOLUME_QUERIES, 0.0))
    notes = _VolumeNotes(unknown=Counter())
    for length, group in _days_by_length(days):
        day_at = {round(_day_end(day).timestamp()): day for day in group}
        for figure, query in options.queries.items():
            matrix = query_range(
                base_url=base_url,
                query=query.replace(RANGE_PLACEHOLDER, f"{int(length.total_seconds())}s"),
                start=_day_end(group[0]),
                end=_day_end(group[-1]),
                step=length,
                timeout=options.timeout,
            )
            for series in matrix:
                workload = series.labels.get(options.workload_label, "")
                if not workload:
                    notes.unlabelled += len(series.values)
                    continue
                for point in series.values:
                    day, value = _day_value(point, day_at=day_at, figure=figure, source=source)
                    if value >= 0 and value != float("inf"):
                        totals[(workload, day)][figure] += value
                    else:
                        notes.not_counts += 1
    return totals, notes


def _day_value(point: object, *, day_at: dict[int, date], figure: str, source: str) -> tuple[date, float]:
    try:
        seconds, text = point
        return day_at[round(float(seconds))], float(text)
    except (TypeError, ValueError, KeyError) as exc:
        raise IngestError(
            f'a point of the {figure} query is not [a day\'s end, "number"]: {quoted(point)}', source=source
        ) from exc


def _volume_rows(totals: dict[tuple[str, date], dict[str, float]], *, notes: _VolumeNotes) -> list[VolumeRow]:
    slugs = {slug for slug, _ in totals}
    workloads = {workload.slug: workload for workload in Workload.objects.filter(slug__in=slugs)}
    rows = []
    for (slug, day), figures in sorted(totals.items(), key=lambda item: (item[0][1], item[0][0])):
        workload = workloads.get(slug)
        if workload is None:
            notes.unknown[slug] += 1
            continue
        rows.append(
            VolumeRow(
                workload=workload, day=day, **{figure: _whole(value) for figure, value in figures.items()}
            )
        )
    return rows


def _skipped_text(notes: _VolumeNotes) -> str:
    parts = []
    if notes.unknown:
        names = ", ".join(sorted(notes.unknown))
        parts.append(
            f"{sum(notes.unknown.values())} workload-days of {len(notes.unknown)} unknown "
            f"workload{'s' if len(notes.unknown) != 1 else ''} ({quoted(names, limit=200)})"
        )
    if notes.unlabelled:
        parts.append(f"{notes.unlabelled} values without the workload label")
    if notes.not_counts:
        parts.append(f"{notes.not_counts} values that are not counts (negative, NaN or infinite)")
    return f"; skipped {', '.join(parts)}" if parts else ""


def _whole(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _days_by_length(days: list[date]) -> list[tuple[timedelta, list[date]]]:
    """Consecutive days of equal length (23, 24 or 25 hours) grouped: one range query with
    that step evaluates each group at its days' ends."""
    groups: list[tuple[timedelta, list[date]]] = []
    for day in days:
        # In UTC: between two times of one zone Python subtracts wall clocks, 24 hours always.
        length = _day_end(day).astimezone(UTC) - _midnight(day).astimezone(UTC)
        if groups and groups[-1][0] == length:
            groups[-1][1].append(day)
        else:
            groups.append((length, [day]))
    return groups


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def _day_end(day: date) -> datetime:
    return _midnight(day + timedelta(days=1))


def _options_dict(options: object, *, known: tuple[str, ...]) -> dict:
    if options in (None, ""):
        return {}
    if not isinstance(options, dict):
        raise IngestError(f"the source's options must be a JSON object, not {quoted(options)}")
    unknown = sorted(set(options) - set(known))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise IngestError(
            f"unknown option{plural} {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
        )
    return options


def _positive_number(given: dict, name: str, default: float) -> float:
    value = given.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise IngestError(f"option {name!r} must be a positive number, not {quoted(value)}")
    return value


def _located(exc: IngestError, source: str) -> str:
    """The error, naming the pull when it does not already name a place (bad options)."""
    return str(exc if exc.source else exc.located(source=source))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _failed_run(*, kind: str, data_source: DataSource, source: str, error: str) -> IngestRun:
    return IngestRun.objects.create(
        kind=kind,
        data_source=data_source,
        source=source,
        format=PROMETHEUS,
        status=IngestRun.Status.FAILED,
        error=error,
        finished_at=timezone.now(),
    )


def _run_finish(run: IngestRun, *, status: str, error: str = "") -> None:
    if status == IngestRun.Status.FAILED:
        run.rows_loaded, run.files, run.message = 0, [], ""
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save()
