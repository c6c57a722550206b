"""GPU samples assigned again after a GpuAssignmentRule is created, changed or deleted, and the
hourly rollup of what moved rebuilt.

A rule decides the workload of a sample only if it matches the sample, so a change can move
only the samples the rule matched before it or matches after it: those are the ones assigned
again, by every enabled rule as at load time (`gpu_samples_assign`). Every sample is looked at
when no criteria are given.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Min, Q

from finops.models import GpuSample
from finops.services.gpu import gpu_hourly_refresh, gpu_samples_assign, gpu_samples_matching
from finops.services.gpu_rollups import gpu_fleet_rollups_refresh
# One transaction assigns and rebuilds this many hosts, so a fleet-wide rule never holds one
# transaction over every sample, and an interrupted run leaves each host group consistent.
HOSTS_PER_TRANSACTION = 50


@dataclass(frozen=True)
class GpuReassignment:
    hosts: list[str]  # the hosts whose samples were assigned again and rollup rebuilt
    assigned: int  # how many of those samples a rule now assigns
    hourly_rows: int


def gpu_samples_reassign(*, criteria: list[dict[str, str]] | None = None) -> GpuReassignment:
    """Assign again the samples any of `criteria` matches (a changed rule's old and new ones)
    by the enabled rules, then rebuild the hourly rollup of their hosts over the span of those
    samples. With `criteria` None, every sample. Idempotent."""
    scope = Q() if criteria is None else _any_of(criteria)
    hosts = sorted(GpuSample.objects.filter(scope).values_list("host", flat=True).distinct().order_by())
    assigned = hourly_rows = 0
    first_hour = last_hour = None
    for i in range(0, len(hosts), HOSTS_PER_TRANSACTION):
        group = hosts[i : i + HOSTS_PER_TRANSACTION]
        with transaction.atomic():
            samples = GpuSample.objects.filter(scope, host__in=group)
            span = samples.aggregate(earliest=Min("sampled_at"), latest=Max("sampled_at"))
            if span["earliest"] is None:  # deleted since the hosts were listed
                continue
            assigned += gpu_samples_assign(samples=samples)
            hourly_rows += gpu_hourly_refresh(
                hosts=group, earliest=span["earliest"], latest=span["latest"], fleet_rollups=False
            )
            first_hour = min(filter(None, (first_hour, span["earliest"])))
            last_hour = max(filter(None, (last_hour, span["latest"])))
    if first_hour is not None:
        # Once for all host groups: each group's refresh would rebuild the same days again.
        gpu_fleet_rollups_refresh(first_hour=first_hour, end=last_hour + timedelta(hours=1))
    return GpuReassignment(hosts=hosts, assigned=assigned, hourly_rows=hourly_rows)


def _any_of(criteria: list[dict[str, str]]) -> Q:
    # Q(pk__in=[]) matches nothing: a change with no criteria (none can exist, the model's
    # constraint asks for one) moves nothing.
    scope = Q(pk__in=[])
    for one in criteria:
        scope |= gpu_samples_matching(one)
    return scope
