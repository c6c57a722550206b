"""Idle GPU money machine by machine: each billed GPU resource (DailyResourceSpend) matched to
the host that sends its GPU samples (GpuDeviceDaily), so plain VMs and bare metal get their idle
waste whoever their samples are assigned to, and GPU instances no allocation rule claims show
theirs as unallocated.

How a host maps to a billed resource (`resource_host_names`), case-insensitively:
- the resource id or the resource name is the host name (bare metal and on-prem entries, OCI
  display names, AWS instances whose Name tag is the host name);
- the resource id ends in "/" + the host name (Azure .../virtualMachines/NAME, GCP
  projects/.../instances/NAME);
- the host name is an EC2 instance id (i-0abc...) found in the resource id (a bare id or an ARN),
  as DCGM and node exporters on EC2 often report.
Host names never contain "/", so the second rule is the id's last path segment.

Idle waste of a resource on a day = its GPU spend that day (cost records flagged is_gpu) × (1 −
the utilization of the host(s) it matches that day), utilization being the busy share of every
sample of every device on those hosts, whichever workload the samples are assigned to: the bill
pays for the whole machine. The waste is the resource's workload's (None: unallocated).
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Max, Min, QuerySet, Sum

from finops.models import DailyResourceSpend, GpuDeviceDaily
from finops.selectors.access import team_scoped
from finops.selectors.spend import SpendFilter

UNALLOCATED = "Unallocated"
# i- and 8 or 17 hex digits, on its own (not the tail of eni-..., not a prefix of a longer id).
EC2_INSTANCE_ID = re.compile(r"(?<![0-9a-z])i-(?:[0-9a-f]{17}|[0-9a-f]{8})(?![0-9a-z])")


def resource_host_names(resource_id: str, resource_name: str) -> frozenset[str]:
    """The host names (lowercase) whose GPU samples are this billed resource's."""
    lowered_id = resource_id.lower()
    last_segment = lowered_id.rsplit("/", 1)[-1]
    names = {lowered_id, resource_name.lower(), last_segment, *EC2_INSTANCE_ID.findall(lowered_id)}
    names.discard("")
    return frozenset(names)


def host_matches_resource(host: str, *, resource_id: str, resource_name: str) -> bool:
    return host.lower() in resource_host_names(resource_id, resource_name)


def resource_spend_for_user(user) -> QuerySet[DailyResourceSpend]:
    """The GPU resource rows a user may see: their teams' (the team of the resource's workload);
    unallocated resources belong to no team, so only those who see every team see them."""
    return team_scoped(DailyResourceSpend.objects.all(), user)


@dataclass(frozen=True)
class ResourceIdleWaste:
    """One billed GPU resource on one day, matched to the hosts whose samples are its own."""

    day: date
    resource_id: str
    resource_name: str
    hosts: tuple[str, ...]
    workload_id: int | None
    workload: str | None
    team_id: int | None
    billing_currency: str
    gpu_cost: Decimal
    utilization: float
    idle_waste: Decimal  # exact: round totals, not the parts


def idle_waste_by_resource_day(*, user, spend_filter: SpendFilter) -> list[ResourceIdleWaste]:
    """Idle waste of every GPU resource the user sees, per day it both was billed and matched a
    host with samples. Resources that match no sampled host that day are left out."""
    sampled = _sampled_hosts(start=spend_filter.start, end=spend_filter.end)
    if not sampled:
        return []
    # Only days with samples can match: a bill read over the whole period when the samples
    # cover part of it was most of this function's time (a year of resource-days for a month
    # of samples).
    first_day = min(host.first_day for host in sampled.values())
    last_day = max(host.last_day for host in sampled.values())
    scoped = spend_filter.apply(resource_spend_for_user(user)).filter(day__gte=first_day, day__lte=last_day)
    # Which resources can match is decided once per resource, not per resource-day: a month of
    # a fleet's bill is thousands of resource-days, most often of a few hundred resources.
    names = {
        resource: resource_host_names(*resource)
        for resource in scoped.order_by().values_list("resource_id", "resource_name").distinct()
    }
    candidates = {resource_id for (resource_id, _), host_names in names.items() if host_names & sampled.keys()}
    if not candidates:
        return []
    # The hosts any row of a candidate can match, as the samples spell them.
    matchable = set().union(*(host_names for (resource_id, _), host_names in names.items() if resource_id in candidates))
    spellings = set().union(*(sampled[name].spellings for name in matchable & sampled.keys()))
    hosts = _host_days(start=first_day, end=last_day, hosts=spellings)
    resources = list(
        scoped.filter(resource_id__in=candidates)
        .values("day", "resource_id", "resource_name", "workload_id", "workload__name", "team_id",
                "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .order_by("day", "resource_id", "resource_name", "workload_id", "billing_currency")
        .values_list("day", "resource_id", "resource_name", "workload_id", "workload__name", "team_id",
                     "billing_currency", "cost")
    )
    matches = []
    for day, resource_id, resource_name, workload_id, workload, team_id, currency, cost in resources:
        day_hosts = hosts.get(day)
        if not day_hosts:
            continue
        matched = sorted(name for name in names[(resource_id, resource_name)] if name in day_hosts)
        samples = sum(day_hosts[name][0] for name in matched)
        if not samples:
            continue
        utilization = sum(day_hosts[name][1] for name in matched) / samples / 100
        idle_share = Decimal(str(round(1 - utilization, 6)))
        matches.append(
            ResourceIdleWaste(
                day=day, resource_id=resource_id, resource_name=resource_name, hosts=tuple(matched),
                workload_id=workload_id, workload=workload, team_id=team_id, billing_currency=currency,
                gpu_cost=cost, utilization=utilization, idle_waste=cost * idle_share,
            )
        )
    return matches


@dataclass
class SampledHost:
    first_day: date
    last_day: date
    spellings: set[str]  # as the samples write it: hosts match resources whatever their case


def _sampled_hosts(*, start: date, end: date) -> dict[str, SampledHost]:
    """The hosts with samples in the period, by lowercase name."""
    sampled: dict[str, SampledHost] = {}
    rows = (
        GpuDeviceDaily.objects.filter(day__gte=start, day__lte=end)
        .values_list("host")
        .annotate(first=Min("day"), last=Max("day"))
        .order_by()
    )
    for host, first, last in rows:
        known = sampled.setdefault(host.lower(), SampledHost(first, last, set()))
        known.first_day, known.last_day = min(known.first_day, first), max(known.last_day, last)
        known.spellings.add(host)
    return sampled


def _host_days(*, start: date, end: date, hosts: set[str]) -> dict[date, dict[str, tuple[int, float]]]:
    """Samples and busy samples (utilization × samples) per day and lowercase host, over every
    device of the host and every workload its samples are assigned to; only `hosts`, spelled as
    the samples spell them."""
    days: dict[date, dict[str, tuple[int, float]]] = defaultdict(dict)
    rows = (
        GpuDeviceDaily.objects.filter(day__gte=start, day__lte=end, host__in=hosts)
        .values_list("day", "host")
        .annotate(samples=Sum("samples"), busy=Sum("busy_samples"))
        .order_by()
    )
    for day, host, samples, busy in rows:
        name = host.lower()
        known_samples, known_busy = days[day].get(name, (0, 0.0))
        days[day][name] = (known_samples + samples, known_busy + busy)
    return days


@dataclass
class ResourceMatchedWaste:
    """Idle waste per workload and currency found by matching resources to hosts, in the row
    shape of finops.selectors.gpu.idle_waste_by_workload (idle_waste not yet rounded), and the
    (workload_id, day) pairs it covers, which the per-workload match must then leave out."""

    totals: dict[tuple, dict] = field(default_factory=dict)
    workload_days: set[tuple[int | None, date]] = field(default_factory=set)


def resource_matched_waste(*, user, spend_filter: SpendFilter) -> ResourceMatchedWaste:
    matched = ResourceMatchedWaste()
    days: dict[tuple, set[date]] = defaultdict(set)
    for match in idle_waste_by_resource_day(user=user, spend_filter=spend_filter):
        key = (match.workload_id, match.billing_currency)
        total = matched.totals.setdefault(
            key, {"workload_id": match.workload_id, "workload": match.workload or UNALLOCATED,
                  "billing_currency": match.billing_currency, "gpu_cost": Decimal(0), "idle_waste": Decimal(0),
                  "days": 0}
        )
        total["gpu_cost"] += match.gpu_cost
        total["idle_waste"] += match.idle_waste
        days[key].add(match.day)
        total["days"] = len(days[key])
        matched.workload_days.add((match.workload_id, match.day))
    return matched
