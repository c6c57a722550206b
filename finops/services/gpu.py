from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Avg, Count, Max, Q, QuerySet
from django.db.models.functions import TruncHour

from finops.models import GpuAssignmentRule, GpuHourly, GpuSample
from finops.services.allocation import glob_to_regex
from finops.services.gpu_rollups import gpu_fleet_rollups_refresh


# What a GpuAssignmentRule matches on.
RULE_CRITERIA = ("host_pattern", "namespace", "pod_pattern", "gpu_uuid", "mig_instance")


def gpu_samples_assign(*, samples: QuerySet[GpuSample]) -> int:
    """Assign samples to workloads by the enabled rules, first matching rule wins; returns how
    many were assigned. Samples no rule matches stay unassigned (and show as such)."""
    samples.exclude(workload=None).update(workload=None)
    assigned = 0
    for rule in GpuAssignmentRule.objects.filter(enabled=True).order_by("priority", "id"):
        assigned += samples.filter(workload=None).filter(gpu_samples_matching(gpu_rule_criteria(rule))).update(
            workload_id=rule.workload_id
        )
    return assigned


def gpu_rule_criteria(rule: GpuAssignmentRule) -> dict[str, str]:
    """What the rule matches on, JSON-ready (read it before a change to keep the old)."""
    return {name: getattr(rule, name) for name in RULE_CRITERIA}


def gpu_samples_matching(criteria: dict[str, str]) -> Q:
    """The samples a rule with these criteria matches; nothing when no criterion is given."""
    given = {name: criteria.get(name, "") for name in RULE_CRITERIA}
    if not any(given.values()):
        return Q(pk__in=[])
    match = Q()
    if given["host_pattern"]:
        match &= Q(host__regex=glob_to_regex(given["host_pattern"]))
    if given["namespace"]:
        match &= Q(namespace=given["namespace"])
    if given["pod_pattern"]:
        match &= Q(pod__regex=glob_to_regex(given["pod_pattern"]))
    if given["gpu_uuid"]:
        match &= Q(gpu_uuid=given["gpu_uuid"])
    if given["mig_instance"]:
        match &= Q(mig_instance=given["mig_instance"])
    return match


# One pass holds the groups of 50 hosts over one day in memory (50 × 8 GPUs × 24 h ≈ 10k),
# whatever the span a delivery covers.
HOSTS_PER_PASS = 50
HOURS_PER_PASS = 24


def gpu_hourly_refresh(*, hosts: list[str], earliest: datetime, latest: datetime, fleet_rollups: bool = True) -> int:
    """Rebuild the hourly (UTC) rollup of these hosts over the hours between two sample
    times, then (unless the caller will, once for several calls) the fleet rollups of the
    days they touch; returns the number of hourly rows written."""
    first_hour = earliest.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = latest.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hosts = sorted(set(hosts))
    written = 0
    for i in range(0, len(hosts), HOSTS_PER_PASS):
        window_start = first_hour
        while window_start < end:
            window_end = min(window_start + timedelta(hours=HOURS_PER_PASS), end)
            written += _refresh_hosts(hosts[i : i + HOSTS_PER_PASS], first_hour=window_start, end=window_end)
            window_start = window_end
    if fleet_rollups and first_hour < end:
        gpu_fleet_rollups_refresh(first_hour=first_hour, end=end)
    return written


def _refresh_hosts(hosts: list[str], *, first_hour: datetime, end: datetime) -> int:
    groups = list(
        GpuSample.objects.filter(host__in=hosts, sampled_at__gte=first_hour, sampled_at__lt=end)
        .annotate(hour=TruncHour("sampled_at", tzinfo=UTC))
        .values("hour", "host", "gpu_uuid", "mig_instance", "model_name", "workload_id", "workload__team_id")
        .annotate(count=Count("id"), average=Avg("utilization"), peak=Max("utilization"))
        .order_by()
    )
    per_gpu_hour: dict[tuple, int] = defaultdict(int)
    for group in groups:
        per_gpu_hour[(group["hour"], group["host"], group["gpu_uuid"])] += group["count"]
    with transaction.atomic():
        GpuHourly.objects.filter(host__in=hosts, hour__gte=first_hour, hour__lt=end).delete()
        rows = GpuHourly.objects.bulk_create(
            (
                GpuHourly(
                    hour=group["hour"],
                    host=group["host"],
                    gpu_uuid=group["gpu_uuid"],
                    mig_instance=group["mig_instance"],
                    model_name=group["model_name"],
                    workload_id=group["workload_id"],
                    team_id=group["workload__team_id"],
                    samples=group["count"],
                    utilization_avg=group["average"],
                    utilization_max=group["peak"],
                    gpu_samples=per_gpu_hour[(group["hour"], group["host"], group["gpu_uuid"])],
                )
                for group in groups
            ),
            batch_size=5000,
        )
    return len(rows)
