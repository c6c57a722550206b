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

    def touches(self, initiative: Initiative, workload_ids: set[int]) -> bool:
        return bool(workload_ids & self.workload_ids) or (self.workload is None and initiative.team_id == self.team.pk)


class _Facts:
    """Everything the five steps read about a set of teams, fetched once (a handful of
    queries), so that a page listing every team and workload does not query per subject."""

    def __init__(self, user, teams: list[Team], as_of: date):
        team_ids = [team.pk for team in teams]
        workloads = Workload.objects.filter(team__in=team_ids)
        self.month = last_full_month(as_of)
        self.spend = list(
            DailySpend.objects.filter(team__in=team_ids, day__gte=self.month[0], day__lte=self.month[1])
            .values("team_id", "workload_id", "billing_currency", "tco_category")
            .annotate(cost=Sum("effective_cost"), premium=Sum("managed_premium"))
            .order_by()
        )
        self.benchmarks = defaultdict(list)
        for benchmark in Benchmark.objects.filter(workload__in=workloads).select_related("workload"):
            self.benchmarks[benchmark.workload_id].append(benchmark)
        self.initiatives = list(
            Initiative.objects.filter(Q(team__in=team_ids) | Q(workloads__in=workloads)).distinct().prefetch_related("workloads")
        )
        self.workloads_of = {i.pk: {w.pk for w in i.workloads.all()} for i in self.initiatives}
        self.comparisons = list(
            ManagedApiPrice.compared_workloads.through.objects.filter(workload__in=workloads)
            .select_related("managedapiprice", "workload")
        )
        pilots = [i for i in self.initiatives if _is_pilot(i, self.workloads_of[i.pk])]
        self.results = initiative_results(user=user, initiatives=pilots, as_of=as_of - timedelta(days=1)) if pilots else {}

    def initiatives_of(self, scope: _Scope) -> list[Initiative]:
        return [i for i in self.initiatives if scope.touches(i, self.workloads_of[i.pk])]


def checklists(*, user, teams, workloads, as_of: date | None = None) -> dict[tuple[str, int], list[ChecklistEntry]]:
    """The checklist of each team and each workload given, keyed ("team", id) and
    ("workload", id); a team's evidence from any of its workloads counts."""
    as_of = as_of or timezone.localdate()
    teams, workloads = list(teams), list(workloads)
    facts = _Facts(user, teams + [w.team for w in workloads], as_of)
    team_workloads = defaultdict(set)
    for workload_id, team_id in Workload.objects.filter(team__in=teams).values_list("pk", "team_id"):
        team_workloads[team_id].add(workload_id)
    said = defaultdict(dict)
    items = ChecklistItem.objects.filter(Q(team__in=teams, workload=None) | Q(workload__in=workloads)).select_related("owner")
    for item in items:
        said[("workload", item.workload_id) if item.workload_id else ("team", item.team_id)][item.step] = item
    scopes = {("team", team.pk): _Scope(team, frozenset(team_workloads[team.pk])) for team in teams}
    scopes |= {("workload", w.pk): _Scope(w.team, frozenset([w.pk]), w) for w in workloads}
    return {key: _entries(facts, scope, said[key]) for key, scope in scopes.items()}


def checklist_for_team(*, user, team: Team, as_of: date | None = None) -> list[ChecklistEntry]:
    """The team-level checklist; evidence from any of the team's workloads counts."""
    return checklists(user=user, teams=[team], workloads=[], as_of=as_of)[("team", team.pk)]


def checklist_for_workload(*, user, workload: Workload, as_of: date | None = None) -> list[ChecklistEntry]:
    return checklists(user=user, teams=[], workloads=[workload], as_of=as_of)[("workload", workload.pk)]


def _entries(facts: _Facts, scope: _Scope, said: dict[str, ChecklistItem]) -> list[ChecklistEntry]:
    evidence = {
        ChecklistStep.AUDIT_TCO: _tco_audited(facts, scope),
        ChecklistStep.BENCHMARK_MODELS: _benchmarked(facts, scope),
        ChecklistStep.LOW_HANGING_FRUIT: _low_hanging_fruit_picked(facts, scope),
        ChecklistStep.ASSESS_PLATFORMS: _platforms_assessed(facts, scope),
        ChecklistStep.START_SMALL_AND_SCALE: _piloted_then_scaled(facts, scope),
    }
    return [ChecklistEntry(step.value, said.get(step.value), evidence[step]) for step in ChecklistStep]


def last_full_month(as_of: date) -> tuple[date, date]:
    end = as_of.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _tco_audited(facts: _Facts, scope: _Scope) -> Evidence | None:
    totals = defaultdict(lambda: {"all": Decimal(0), "hidden": Decimal(0), "unclassified": Decimal(0)})
    for row in facts.spend:
        if (row["workload_id"] != scope.workload.pk) if scope.workload else (row["team_id"] != scope.team.pk):
            continue
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
    start = facts.month[0]
    return Evidence(
        f"All {total['all']:,.2f} {currency} of {start:%B %Y} is classified into TCO categories; "
        f"{share:.0f} % of it is hidden cost.",
        ("month", start),
    )


def _benchmarked(facts: _Facts, scope: _Scope) -> Evidence | None:
    benchmarks = [b for workload_id in scope.workload_ids for b in facts.benchmarks[workload_id]]
    if not benchmarks:
        return None
    latest = max(benchmarks, key=lambda b: (b.measured_on, b.pk))
    runs = "1 benchmark" if len(benchmarks) == 1 else f"{len(benchmarks)} benchmarks"
    return Evidence(
        f"{runs}; the latest: {latest.workload} on {latest.instance_type}, {latest.measured_on:%Y-%m-%d}.",
        ("benchmark", latest.pk),
    )


def _low_hanging_fruit_picked(facts: _Facts, scope: _Scope) -> Evidence | None:
    done = [
        i for i in facts.initiatives_of(scope)
        if i.technique in LOW_HANGING_TECHNIQUES and i.status == Initiative.Status.DONE
    ]
    if not done:
        return None
    first = min(done, key=lambda i: (i.effective_on, i.pk))
    return Evidence(
        f"{first.get_technique_display()} “{first.title}” went live on {first.effective_on:%Y-%m-%d}.",
        ("initiative", first.pk),
    )


def _platforms_assessed(facts: _Facts, scope: _Scope) -> Evidence | None:
    compared = [c for c in facts.comparisons if c.workload_id in scope.workload_ids]
    if not compared:
        return None
    price = min((c.managedapiprice for c in compared), key=lambda p: (p.provider_name, p.model_name, p.pk))
    workload = min((c.workload for c in compared if c.managedapiprice_id == price.pk), key=lambda w: (w.name, w.pk))
    return Evidence(
        f"{workload} is compared with {price.provider_name} {price.model_name} (build vs buy).",
        ("workload", workload.pk),
    )


def _is_pilot(initiative: Initiative, workload_ids: set[int]) -> bool:
    return initiative.status == Initiative.Status.DONE and bool(initiative.effective_on) and len(workload_ids) == 1


def _piloted_then_scaled(facts: _Facts, scope: _Scope) -> Evidence | None:
    initiatives = facts.initiatives_of(scope)
    workloads_of = facts.workloads_of
    pilots = [i for i in initiatives if _is_pilot(i, workloads_of[i.pk])]
    for pilot in sorted(pilots, key=lambda i: (i.effective_on, i.pk)):
        saving = facts.results[pilot.pk].realized_saving
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
