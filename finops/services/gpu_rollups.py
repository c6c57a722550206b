"""The fleet-level GPU rollups the pages read, rebuilt from GpuHourly for whole reporting days.

GpuHourly holds one row per device-hour (and workload sharing it): 12k rows a day for a
500-GPU fleet, 360k a month. The pages ask per workload and hour (GPU-hours bought and busy,
daily utilization, right-sizing percentiles) or per device over a period (which devices the
heatmap shows); these two rollups answer each with a few thousand rows instead.
"""

from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, FloatField, Max, Min, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from finops.models import GpuDeviceDaily, GpuHourly, GpuWorkloadHourly
from finops.models.gpu import HOURLY_BUSY_SAMPLES_DTYPE, HOURLY_SAMPLES_DTYPE, hourly_encode


def gpu_fleet_rollups_refresh(*, first_hour: datetime, end: datetime) -> None:
    """Rebuild both rollups over every reporting day that touches [first_hour, end)."""
    zone = timezone.get_default_timezone()
    day = first_hour.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last_day:
        day_start = datetime.combine(day, time.min, tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        hours = GpuHourly.objects.filter(hour__gte=day_start, hour__lt=day_end)
        with transaction.atomic():
            _workload_hours_rebuild(hours, day_start=day_start, day_end=day_end)
            _device_day_rebuild(hours, day=day, day_start=day_start, day_end=day_end)
        day += timedelta(days=1)


def gpu_fleet_rollups_rebuild() -> None:
    """Rebuild both rollups over every stored GPU-hour, e.g. after REPORTING_TIME_ZONE changed
    (which moves the bounds of every reporting day)."""
    span = GpuHourly.objects.aggregate(first=Min("hour"), last=Max("hour"))
    GpuWorkloadHourly.objects.all().delete()
    GpuDeviceDaily.objects.all().delete()
    if span["first"] is not None:
        gpu_fleet_rollups_refresh(first_hour=span["first"], end=span["last"] + timedelta(hours=1))


def gpu_share():
    """A GpuHourly row's share of its physical GPU's hour."""
    return Cast(F("samples"), FloatField()) / Cast(F("gpu_samples"), FloatField())


def _workload_hours_rebuild(hours, *, day_start: datetime, day_end: datetime) -> None:
    GpuWorkloadHourly.objects.filter(hour__gte=day_start, hour__lt=day_end).delete()
    groups = (
        hours.values("hour", "workload_id", "team_id", "model_name")
        .annotate(bought=Sum(gpu_share()), busy=Sum(gpu_share() * F("utilization_avg") / 100.0))
        .order_by()
    )
    GpuWorkloadHourly.objects.bulk_create(
        (
            GpuWorkloadHourly(
                hour=group["hour"], workload_id=group["workload_id"], team_id=group["team_id"],
                model_name=group["model_name"], gpu_hours=group["bought"], busy_gpu_hours=group["busy"],
            )
            for group in groups
        ),
        batch_size=5000,
    )


def _device_day_rebuild(hours, *, day, day_start: datetime, day_end: datetime) -> None:
    GpuDeviceDaily.objects.filter(day=day).delete()
    # 23 or 25 when clocks change; in UTC, as subtracting times of one zone ignores its offsets.
    hour_count = round((day_end.astimezone(UTC) - day_start.astimezone(UTC)).total_seconds() / 3600)
    devices: dict[tuple, tuple[list[int], list[float]]] = {}
    for row in hours.values_list(
        "hour", "host", "gpu_uuid", "mig_instance", "workload_id", "team_id", "samples", "utilization_avg"
    ).iterator(chunk_size=5000):
        hour, *key, samples, utilization = row
        counts, busy = devices.setdefault(tuple(key), ([0] * hour_count, [0.0] * hour_count))
        i = round((hour - day_start).total_seconds() / 3600)
        counts[i] += samples
        busy[i] += samples * utilization
    GpuDeviceDaily.objects.bulk_create(
        (
            GpuDeviceDaily(
                day=day, host=host, gpu_uuid=gpu_uuid, mig_instance=mig_instance, workload_id=workload_id,
                team_id=team_id, samples=sum(counts), busy_samples=sum(busy),
                hourly_samples=hourly_encode(counts, HOURLY_SAMPLES_DTYPE),
                hourly_busy_samples=hourly_encode(busy, HOURLY_BUSY_SAMPLES_DTYPE),
            )
            for (host, gpu_uuid, mig_instance, workload_id, team_id), (counts, busy) in devices.items()
        ),
        batch_size=2000,
    )
