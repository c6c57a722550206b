"""GPU efficiency read from the GPU rollups (finops.services.gpu_rollups): GPU-hours bought vs busy, the money idle GPUs
cost, and which workloads would be cheaper on shared or fewer GPUs.

Definitions (README.md "GPU efficiency" says the same):
- An observed device-hour counts as one bought GPU-hour, split between the workloads that
  shared the GPU that hour by their measured share of its samples.
- Busy GPU-hours = bought GPU-hours × average utilization.
- Idle waste of a workload on a day = its GPU compute spend that day × (1 − its utilization
  that day). GPU compute spend is the workload's Compute and AI-and-ML service spend on days
  it has GPU samples (self-hosted GPU instances); storage, egress and the rest are excluded.
  Where a billed GPU resource matches a sampled host (finops.selectors.gpu_resources), that
  machine-by-machine match counts instead for the workload (or unallocated) and day.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from finops.models import GpuDeviceDaily, GpuWorkloadHourly
from finops.models.gpu import HOURLY_BUSY_SAMPLES_DTYPE, HOURLY_SAMPLES_DTYPE, hourly_decode
from finops.selectors.access import team_scoped
from finops.selectors.gpu_resources import resource_matched_waste
from finops.selectors.spend import SpendFilter, daily_spend_for_user

GPU_COMPUTE_CATEGORIES = ("Compute", "AI and Machine Learning")
CENT = Decimal("0.01")


def _period_hours(user, spend_filter: SpendFilter, rows):
    # The hours of the period's days as a range on `hour` itself: a date cast of the column
    # (hour__date) hid it from the planner, which then guessed a few hundred rows out of
    # hundreds of thousands and sorted them on disk instead of hashing (2x slower), and could
    # never use the hour index.
    tz = timezone.get_current_timezone()
    rows = team_scoped(rows, user).filter(
        hour__gte=datetime.combine(spend_filter.start, time.min, tzinfo=tz),
        hour__lt=datetime.combine(spend_filter.end + timedelta(days=1), time.min, tzinfo=tz),
    )
    return _subject(rows, spend_filter)


def _subject(rows, spend_filter: SpendFilter):
    if spend_filter.team:
        rows = rows.filter(team=spend_filter.team)
    if spend_filter.workload:
        rows = rows.filter(workload=spend_filter.workload)
    return rows


def _workload_hours(user, spend_filter: SpendFilter):
    return _period_hours(user, spend_filter, GpuWorkloadHourly.objects.all())


def _bought_and_busy():
    return {"bought": Sum("gpu_hours"), "busy": Sum("busy_gpu_hours")}


def gpu_hours_by_workload(*, user, spend_filter: SpendFilter) -> list[dict]:
    """Bought and busy GPU-hours per workload (None = unassigned) and GPU model."""
    rows = (
        _workload_hours(user, spend_filter)
        .values("workload_id", "workload__name", "model_name")
        .annotate(**_bought_and_busy())
        .order_by("workload__name", "model_name")
    )
    return [row | {"utilization": (row["busy"] / row["bought"]) if row["bought"] else None} for row in rows]


def utilization_heatmap(*, user, spend_filter: SpendFilter, limit: int = 60) -> dict:
    """Average utilization per device (host / GPU / MIG slice) and hour, for at most `limit`
    devices: the least utilized over the period first (busy share of its samples), as they are
    the ones to act on. Hours without samples are left out; hours a device has no samples in
    are None."""
    grid = utilization_heatmap_grid(user=user, spend_filter=spend_filter, limit=limit)
    values = [[None if math.isnan(value) else value for value in row] for row in grid["values"].tolist()]
    return grid | {"values": values}


def utilization_heatmap_grid(*, user, spend_filter: SpendFilter, limit: int = 60) -> dict:
    """utilization_heatmap with its values as a float array of (device, hour), NaN where
    utilization_heatmap has None: what a figure takes, without a list of lists in between."""
    # Both the choice and the hours come from one row per device-day, which carries its hours.
    device_days = _subject(
        team_scoped(GpuDeviceDaily.objects.all(), user).filter(day__gte=spend_filter.start, day__lte=spend_filter.end),
        spend_filter,
    )
    chosen = list(
        device_days.values("host", "gpu_uuid", "mig_instance")
        .annotate(utilization=Sum("busy_samples") / Sum("samples"))
        .order_by("utilization", "host", "gpu_uuid", "mig_instance")[:limit]
    )
    keys = {(device["host"], device["gpu_uuid"], device["mig_instance"]): i for i, device in enumerate(chosen)}
    zone = timezone.get_current_timezone()
    first_hour = datetime.combine(spend_filter.start, time.min, tzinfo=zone).astimezone(UTC)
    end_hour = datetime.combine(spend_filter.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    period_hours = round((end_hour - first_hour).total_seconds() / 3600)
    devices, offsets, day_samples, day_busy = [], [], [], []
    midnights: dict[date, int] = {}
    for day, *key, hourly_samples, hourly_busy in device_days.filter(
        host__in={key[0] for key in keys}, gpu_uuid__in={key[1] for key in keys}
    ).values_list("day", "host", "gpu_uuid", "mig_instance", "hourly_samples", "hourly_busy_samples"):
        device = keys.get(tuple(key))
        if device is None:
            continue
        offset = midnights.get(day)
        if offset is None:
            midnight = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
            offset = midnights[day] = round((midnight - first_hour).total_seconds() / 3600)
        devices.append(device)
        offsets.append(offset)
        day_samples.append(hourly_samples)
        day_busy.append(hourly_busy)
    first_sampled, samples, busy = _device_hour_sums(
        devices=devices, offsets=offsets, day_samples=day_samples, day_busy=day_busy,
        device_count=len(keys), period_hours=period_hours,
    )
    sampled = samples.any(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(samples > 0, busy / samples, np.nan)[:, sampled]
    return {
        "hours": [first_hour + timedelta(hours=first_sampled + int(i)) for i in np.flatnonzero(sampled)],
        "devices": [_device_label(device) for device in chosen],
        "values": values,
    }


def _device_hour_sums(
    *, devices, offsets, day_samples, day_busy, device_count: int, period_hours: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """Samples and busy samples per (device, hour), from device-days whose hours start `offsets`
    hours into the period, over the hours from the first to the last with samples (a year's
    period with a month of samples needs a month of columns); and that first hour's index in
    the period. One pass over all the hours at once: a loop of array slices per device-day
    cost ~4 µs each, ~7 ms a month of 60 devices. bincount adds in the order given, as that
    loop did, so the float sums are the same to the last bit."""
    lengths = np.fromiter((len(data) for data in day_samples), dtype=np.int64, count=len(day_samples))
    counts = hourly_decode(b"".join(day_samples), HOURLY_SAMPLES_DTYPE)
    busy = hourly_decode(b"".join(day_busy), HOURLY_BUSY_SAMPLES_DTYPE)
    hours_per_day = lengths // HOURLY_SAMPLES_DTYPE.itemsize
    # Each stored hour's place in the period: its day's offset + its index within the day.
    starts = np.repeat(np.asarray(offsets, dtype=np.int64), hours_per_day)
    within_day = np.arange(len(counts)) - np.repeat(np.cumsum(hours_per_day) - hours_per_day, hours_per_day)
    hours = starts + within_day
    rows = np.repeat(np.asarray(devices, dtype=np.int64), hours_per_day)
    # Clipped to the period: rows built under another REPORTING_TIME_ZONE (until rebuild_rollups
    # runs) may not line up with its hours. A day that starts before the period is left out.
    inside = (starts >= 0) & (hours < period_hours)
    hours = hours[inside]
    first = int(hours.min()) if len(hours) else 0
    shape = (device_count, int(hours.max()) - first + 1 if len(hours) else 0)
    cells = rows[inside] * shape[1] + (hours - first)
    size = shape[0] * shape[1]
    return (
        first,
        np.bincount(cells, weights=counts[inside].astype(float), minlength=size).reshape(shape),
        np.bincount(cells, weights=busy[inside], minlength=size).reshape(shape),
    )


def _device_label(row: dict) -> str:
    mig = f" MIG {row['mig_instance']}" if row["mig_instance"] else ""
    return f"{row['host']} · {row['gpu_uuid'][:12]}{mig}"


def idle_waste_by_workload(*, user, spend_filter: SpendFilter) -> list[dict]:
    """GPU compute spend, utilization and idle waste per workload and currency over the period,
    with the number of days counted (days with both GPU samples and GPU compute spend).
    Workload-days a billed GPU resource matched to its host are counted from those matches
    only; workload_id None is GPU resources no allocation rule claims ("Unallocated")."""
    matched = resource_matched_waste(user=user, spend_filter=spend_filter)
    utilization = _daily_utilization(user, spend_filter)
    # Only the days with GPU samples count: a year of spend for a month of samples is ten times
    # the rows to read and skip.
    sampled_days = {day for _, day in utilization}
    spend = (
        spend_filter.apply(daily_spend_for_user(user))
        .filter(workload_id__in={workload for workload, _ in utilization}, service_category__in=GPU_COMPUTE_CATEGORIES)
        .filter(day__gte=min(sampled_days, default=spend_filter.start),
                day__lte=max(sampled_days, default=spend_filter.end))
        .values("workload_id", "workload__name", "day", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
    )
    totals: dict[tuple, dict] = matched.totals
    for row in spend:
        day_utilization = utilization.get((row["workload_id"], row["day"]))
        if day_utilization is None or (row["workload_id"], row["day"]) in matched.workload_days:
            continue
        key = (row["workload_id"], row["billing_currency"])
        total = totals.setdefault(
            key, {"workload_id": row["workload_id"], "workload": row["workload__name"], "billing_currency": row["billing_currency"],
                  "gpu_cost": Decimal(0), "idle_waste": Decimal(0), "days": 0}
        )
        total["days"] += 1
        total["gpu_cost"] += row["cost"]
        idle_share = Decimal(str(round(1 - day_utilization, 6)))
        total["idle_waste"] += row["cost"] * idle_share
    for total in totals.values():
        total["idle_waste"] = total["idle_waste"].quantize(CENT)
        total["utilization"] = 1 - float(total["idle_waste"] / total["gpu_cost"]) if total["gpu_cost"] else None
    return sorted(totals.values(), key=lambda total: total["idle_waste"], reverse=True)


def _daily_utilization(user, spend_filter: SpendFilter) -> dict[tuple[int, date], float]:
    """Busy share of bought GPU-hours per workload and reporting day."""
    rows = (
        _workload_hours(user, spend_filter)
        .exclude(workload=None)
        .annotate(day=TruncDate("hour"))
        .values("workload_id", "day")
        .annotate(**_bought_and_busy())
    )
    return {(row["workload_id"], row["day"]): row["busy"] / row["bought"] for row in rows if row["bought"]}


@dataclass(frozen=True)
class RightSizing:
    workload_id: int
    workload: str
    utilization_avg: float
    utilization_p95: float
    gpu_hours: float
    gpu_cost: Decimal
    gpu_cost_days: int  # days with both GPU samples and GPU compute spend, which gpu_cost sums
    billing_currency: str
    estimated_saving: Decimal
    advice: str


def right_sizing_suggestions(
    *, user, spend_filter: SpendFilter, idle_waste: list[dict] | None = None
) -> list[RightSizing]:
    """Workloads whose GPUs idle: average utilization under GPU_UNDERUSED_AVERAGE and the 95th
    percentile of hourly utilization under GPU_UNDERUSED_P95.

    The saving estimate assumes the same work packed onto GPUs that run at
    GPU_TARGET_UTILIZATION (by sharing GPUs: MIG, time-slicing, fractional GPUs; or by fewer or
    smaller instances): spend × (1 − average / target).

    Pass `idle_waste` (idle_waste_by_workload for the same user and filter) when you already
    have it: it scans the period's GPU-hours again.
    """
    average_limit = settings.GPU_UNDERUSED_AVERAGE
    p95_limit = settings.GPU_UNDERUSED_P95
    target = settings.GPU_TARGET_UTILIZATION
    # Per workload, each hour's busy share and GPU-hours bought, as two lists of floats rather
    # than a tuple an hour: fewer objects for the garbage collector to track.
    shares: dict[int, list[float]] = defaultdict(list)
    weights: dict[int, list[float]] = defaultdict(list)
    names = {}
    # Tuples, not dicts, grouped by hour without reading the hour back (parsing thousands of
    # timestamps), straight from the cursor: a month of a dozen workloads is thousands of
    # workload-hours.
    for workload_id, name, bought, busy in _cursor_rows(
        _workload_hours(user, spend_filter).exclude(workload=None)
        .values("workload_id", "workload__name", "hour")
        .annotate(**_bought_and_busy())
        .values_list("workload_id", "workload__name", "bought", "busy")
    ):
        if bought:
            shares[workload_id].append(busy / bought)
            weights[workload_id].append(bought)
            names[workload_id] = name
    if idle_waste is None:
        idle_waste = idle_waste_by_workload(user=user, spend_filter=spend_filter)
    costs = {w["workload_id"]: w for w in idle_waste}
    suggestions = []
    for workload_id, hour_shares in shares.items():
        hour_weights = weights[workload_id]
        bought = sum(hour_weights)
        average = sum(share * weight for share, weight in zip(hour_shares, hour_weights)) / bought
        p95 = _percentile(hour_shares, 0.95)
        if average >= average_limit or p95 >= p95_limit or workload_id not in costs:
            continue
        cost = costs[workload_id]
        saving = (cost["gpu_cost"] * Decimal(str(round(1 - average / target, 6)))).quantize(CENT)
        suggestions.append(
            RightSizing(
                workload_id=workload_id, workload=names[workload_id], utilization_avg=average, utilization_p95=p95,
                gpu_hours=bought, gpu_cost=cost["gpu_cost"], gpu_cost_days=cost["days"], billing_currency=cost["billing_currency"],
                estimated_saving=saving,
                advice=(
                    f"GPUs average {average:.0%} busy (95th percentile {p95:.0%}). Sharing GPUs (MIG, time-slicing, "
                    f"fractional GPUs) or fewer/smaller instances at {target:.0%} would need about "
                    f"{average / target:.0%} of today's GPU capacity."
                ),
            )
        )
    return sorted(suggestions, key=lambda suggestion: suggestion.estimated_saving, reverse=True)


def _cursor_rows(rows: QuerySet) -> list[tuple]:
    """The rows of a values_list() query as the database driver returns them, skipping Django's
    per-value converters: for sums of float columns (floats already) they only cost time,
    ~1.3 µs a row. Only for queries whose values need no conversion (numbers, text)."""
    try:
        sql, params = rows.query.get_compiler(rows.db).as_sql()
    except EmptyResultSet:
        return []
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]
