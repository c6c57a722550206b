"""The five-step checklist (white paper §8) for a team or a workload: what people said about
each step (ChecklistItem) beside what the data proves.

A step is proven when the data holds its evidence:
- audit_tco: all spend of the last full month is classified into TCO categories;
- benchmark_models: a benchmark was recorded;
- low_hanging_fruit: a right-sizing or batching initiative is done;
- assess_platforms: the workload was compared with a managed API's price (build vs buy);
- start_small_and_scale: an initiative on one workload showed a positive realized saving,
  and the same technique was then rolled out to other workloads.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from finops.models import (
    Benchmark,
    ChecklistItem,
    ChecklistStep,
    DailySpend,
    Initiative,
    ManagedApiPrice,
    Team,
    Workload,
)
from finops.models.tco import UNCLASSIFIED, TcoCategory
from finops.selectors.initiatives import initiative_results

LOW_HANGING_TECHNIQUES = (
    Initiative.Technique.RIGHT_SIZING,
    Initiative.Technique.BATCHING,
    Initiative.Technique.CONTINUOUS_BATCHING,
)
ROLLED_OUT = (Initiative.Status.APPROVED, Initiative.Status.IN_PROGRESS, Initiative.Status.DONE)


@dataclass(frozen=True)
class Evidence:
    summary: str
    # What the evidence is about, for a link: ("month", date), ("benchmark", id),
    # ("initiative", id) or ("workload", id).
    subject: tuple[str, object]


@dataclass(frozen=True)
class ChecklistEntry:
    step: str
    item: ChecklistItem | None
    evidence: Evidence | None

    @property
    def label(self) -> str:
        return ChecklistStep(self.step).label

    @property
    def proven(self) -> bool:
        return self.evidence is not None

    @property
    def status_label(self) -> str:
        return ChecklistItem.Status(self.status).label

    @property
    def status(self) -> str:
        if self.evidence is not None:
            return ChecklistItem.Status.DONE
        return self.item.status if self.item else ChecklistItem.Status.NOT_STARTED


@dataclass(frozen=True)
class _Scope:
    team: Team
    workload_ids: frozenset[int]
    workload: Workload | None = None

    def spend(self):
        if self.workload:
            return DailySpend.objects.filter(workload=self.workload)
        return DailySpend.objects.filter(team=self.team)

    def initiatives(self):
        touching = Q(workloads__in=self.workload_ids)
        if self.workload is None:
            touching |= Q(team=self.team)
        return Initiative.objects.filter(touching).distinct().prefetch_related("workloads")


def checklist_for_team(*, user, team: Team, as_of: date | None = None) -> list[ChecklistEntry]:
    """The team-level checklist; evidence from any of the team's workloads counts."""
    scope = _Scope(team, frozenset(team.workloads.values_list("pk", flat=True)))
    items = ChecklistItem.objects.filter(team=team, workload=None).select_related("owner")
    return _entries(user, scope, items, as_of or timezone.localdate())


def checklist_for_workload(*, user, workload: Workload, as_of: date | None = None) -> list[ChecklistEntry]:
    scope = _Scope(workload.team, frozenset([workload.pk]), workload)
    items = ChecklistItem.objects.filter(team=workload.team, workload=workload).select_related("owner")
    return _entries(user, scope, items, as_of or timezone.localdate())


def _entries(user, scope: _Scope, items, as_of: date) -> list[ChecklistEntry]:
    said = {item.step: item for item in items}
    evidence = {
        ChecklistStep.AUDIT_TCO: _tco_audited(scope, as_of),
        ChecklistStep.BENCHMARK_MODELS: _benchmarked(scope),
        ChecklistStep.LOW_HANGING_FRUIT: _low_hanging_fruit_picked(scope),
        ChecklistStep.ASSESS_PLATFORMS: _platforms_assessed(scope),
        ChecklistStep.START_SMALL_AND_SCALE: _piloted_then_scaled(user, scope, as_of),
    }
    return [ChecklistEntry(step.value, said.get(step.value), evidence[step]) for step in ChecklistStep]


def last_full_month(as_of: date) -> tuple[date, date]:
    end = as_of.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _tco_audited(scope: _Scope, as_of: date) -> Evidence | None:
    start, end = last_full_month(as_of)
    totals = defaultdict(lambda: {"all": Decimal(0), "hidden": Decimal(0), "unclassified": Decimal(0)})
    rows = (
        scope.spend()
        .filter(day__gte=start, day__lte=end)
        .values("billing_currency", "tco_category")
        .annotate(cost=Sum("effective_cost"), premium=Sum("managed_premium"))
        .order_by()
    )
    for row in rows:
        total = totals[row["billing_currency"]]
        total["all"] += row["cost"]
        if row["tco_category"] == UNCLASSIFIED:
            total["unclassified"] += row["cost"]
        elif row["tco_category"] != TcoCategory.COMPUTE:
            total["hidden"] += row["cost"]
        else:
            total["hidden"] += row["premium"]
    if not totals or any(t["unclassified"] for t in totals.values()) or not any(t["all"] for t in totals.values()):
        return None
    currency, total = max(totals.items(), key=lambda item: abs(item[1]["all"]))
    share = total["hidden"] / total["all"] * 100 if total["all"] else Decimal(0)
    return Evidence(
        f"All {total['all']:,.2f} {currency} of {start:%B %Y} is classified into TCO categories; "
        f"{share:.0f} % of it is hidden cost.",
        ("month", start),
    )


def _benchmarked(scope: _Scope) -> Evidence | None:
    benchmarks = Benchmark.objects.filter(workload__in=scope.workload_ids)
    latest = benchmarks.order_by("-measured_on", "-pk").first()
    if latest is None:
        return None
    count = benchmarks.count()
    runs = "1 benchmark" if count == 1 else f"{count} benchmarks"
    return Evidence(
        f"{runs}; the latest: {latest.workload} on {latest.instance_type}, {latest.measured_on:%Y-%m-%d}.",
        ("benchmark", latest.pk),
    )


def _low_hanging_fruit_picked(scope: _Scope) -> Evidence | None:
    done = (
        scope.initiatives()
        .filter(technique__in=LOW_HANGING_TECHNIQUES, status=Initiative.Status.DONE)
        .order_by("effective_on", "pk")
        .first()
    )
    if done is None:
        return None
    return Evidence(
        f"{done.get_technique_display()} “{done.title}” went live on {done.effective_on:%Y-%m-%d}.",
        ("initiative", done.pk),
    )


def _platforms_assessed(scope: _Scope) -> Evidence | None:
    price = (
        ManagedApiPrice.objects.filter(compared_workloads__in=scope.workload_ids)
        .distinct()
        .order_by("provider_name", "model_name")
        .first()
    )
    if price is None:
        return None
    workload = price.compared_workloads.filter(pk__in=scope.workload_ids).order_by("name").first()
    return Evidence(
        f"{workload} is compared with {price.provider_name} {price.model_name} (build vs buy).",
        ("workload", workload.pk),
    )


def _piloted_then_scaled(user, scope: _Scope, as_of: date) -> Evidence | None:
    initiatives = list(scope.initiatives())
    workloads_of = {i.pk: {w.pk for w in i.workloads.all()} for i in initiatives}
    pilots = [
        i for i in initiatives
        if i.status == Initiative.Status.DONE and i.effective_on and len(workloads_of[i.pk]) == 1
    ]
    if not pilots:
        return None
    results = initiative_results(user=user, initiatives=pilots, as_of=as_of - timedelta(days=1))
    for pilot in sorted(pilots, key=lambda i: i.effective_on):
        saving = results[pilot.pk].realized_saving
        if saving is None or saving <= 0:
            continue
        for wider in initiatives:
            started = wider.started_on or wider.effective_on or wider.created_at.date()
            if (
                wider.pk != pilot.pk
                and wider.technique == pilot.technique
                and wider.status in ROLLED_OUT
                and started >= pilot.effective_on
                and workloads_of[wider.pk] - workloads_of[pilot.pk]
            ):
                count = len(workloads_of[wider.pk])
                return Evidence(
                    f"Pilot “{pilot.title}” saved {saving:,.2f} {pilot.currency} on one workload; "
                    f"“{wider.title}” then took {pilot.get_technique_display().lower()} to "
                    f"{count} workload{'s' if count > 1 else ''}.",
                    ("initiative", wider.pk),
                )
    return None
