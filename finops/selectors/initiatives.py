"""Realized savings of optimization initiatives, measured from the data, never typed in.

For each workload of an initiative, the cost per inference in a baseline window before the
change (`baseline_days` days before `effective_on`) is compared with the cost per inference
from `effective_on` on:

    realized saving = (cost per inference before − cost per inference after) × inferences after
                    = cost before × inferences after / inferences before − cost after

so a workload whose traffic grew is credited for serving more for less, not blamed for a bigger
bill. Only days with both spend and a reported volume count: a day without a volume has no
cost per inference. An inference is a token for token-priced workloads, else a request.

Confidence comes from the spread of the daily cost per inference in each window: the 95 %
interval of the saving is ± 1.96 × inferences after × √(se_before² + se_after²), where se is the
standard error of a window's mean daily cost per inference.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from finops.models import DailySpend, InferenceVolume, Initiative, Workload
from finops.selectors.access import team_scoped, visible_teams

CENT = Decimal("0.01")
DAYS_PER_MONTH = Decimal("30.4375")  # 365.25 / 12
Z_95 = Decimal("1.96")
# A window needs this many measured days before its figure is more than a first reading.
DAYS_FOR_MEDIUM, DAYS_FOR_HIGH = 7, 14


def initiatives_for_user(user) -> QuerySet[Initiative]:
    return team_scoped(Initiative.objects.select_related("team", "owner").prefetch_related("workloads"), user)


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    days_measured: int
    cost: Decimal
    inferences: int
    daily_cost_per_inference: tuple[Decimal, ...]

    @property
    def cost_per_inference(self) -> Decimal | None:
        return self.cost / self.inferences if self.inferences else None

    @property
    def standard_error(self) -> Decimal | None:
        """Of the mean daily cost per inference; None below two measured days."""
        if len(self.daily_cost_per_inference) < 2:
            return None
        spread = statistics.stdev(self.daily_cost_per_inference)
        return spread / Decimal(len(self.daily_cost_per_inference)).sqrt()


@dataclass(frozen=True)
class WorkloadSaving:
    workload_id: int
    workload: str
    inference_unit: str
    baseline: Window
    after: Window
    daily_saving: tuple[tuple[date, Decimal], ...] = ()

    @property
    def realized_saving(self) -> Decimal | None:
        if not (self.baseline.inferences and self.after.inferences):
            return None
        return self.baseline.cost * self.after.inferences / self.baseline.inferences - self.after.cost

    @property
    def margin(self) -> Decimal | None:
        """Half width of the 95 % interval of the realized saving."""
        before, after = self.baseline.standard_error, self.after.standard_error
        if before is None or after is None:
            return None
        return Z_95 * self.after.inferences * (before**2 + after**2).sqrt()


@dataclass(frozen=True)
class InitiativeResult:
    initiative: Initiative
    workloads: tuple[WorkloadSaving, ...] = ()
    reason: str = ""  # why there is no figure, when there is none
    currency: str = ""
    days_after: int = 0
    implementation_cost: Decimal = Decimal(0)
    expected_monthly_saving: Decimal = Decimal(0)

    @property
    def measured(self) -> tuple[WorkloadSaving, ...]:
        """The workloads with a figure on both sides of the change."""
        return tuple(w for w in self.workloads if w.realized_saving is not None)

    @property
    def realized_saving(self) -> Decimal | None:
        if not self.measured:
            return None
        return sum((w.realized_saving for w in self.measured), Decimal(0)).quantize(CENT)

    @property
    def monthly_realized_saving(self) -> Decimal | None:
        realized = self.realized_saving
        days = max((w.after.days_measured for w in self.measured), default=0)
        if realized is None or not days:
            return None
        return (realized / days * DAYS_PER_MONTH).quantize(CENT)

    @property
    def roi(self) -> Decimal | None:
        """Realized saving to date net of what the change cost, per unit of that cost."""
        realized = self.realized_saving
        if realized is None or not self.implementation_cost:
            return None
        return ((realized - self.implementation_cost) / self.implementation_cost).quantize(Decimal("0.0001"))

    @property
    def payback_months(self) -> Decimal | None:
        monthly = self.monthly_realized_saving
        if monthly is None or monthly <= 0:
            return None
        return (self.implementation_cost / monthly).quantize(Decimal("0.1"))

    @property
    def interval(self) -> tuple[Decimal, Decimal] | None:
        margins = [w.margin for w in self.measured]
        realized = self.realized_saving
        if realized is None or any(m is None for m in margins):
            return None
        margin = sum((m**2 for m in margins), Decimal(0)).sqrt()
        return (realized - margin).quantize(CENT), (realized + margin).quantize(CENT)

    @property
    def confidence(self) -> str:
        """none: no figure; low: under a week of data on a side, or the interval spans zero;
        medium: under two weeks on a side; high: otherwise."""
        if not self.measured:
            return "none"
        fewest_days = min(min(w.baseline.days_measured, w.after.days_measured) for w in self.measured)
        interval = self.interval
        if fewest_days < DAYS_FOR_MEDIUM or interval is None or interval[0] <= 0 <= interval[1]:
            return "low"
        return "medium" if fewest_days < DAYS_FOR_HIGH else "high"

    def cumulative_series(self) -> list[dict]:
        """Expected and realized cumulative saving per day since the change went live."""
        per_day: dict[date, Decimal] = defaultdict(Decimal)
        for saving in self.measured:
            for day, amount in saving.daily_saving:
                per_day[day] += amount
        effective_on = self.initiative.effective_on
        expected_per_day = self.expected_monthly_saving / DAYS_PER_MONTH
        realized, rows = Decimal(0), []
        for day in sorted(per_day):
            realized += per_day[day]
            rows.append(
                {
                    "day": day,
                    "realized": realized.quantize(CENT),
                    "expected": (expected_per_day * ((day - effective_on).days + 1)).quantize(CENT),
                }
            )
        return rows


def initiative_results(
    *, user, initiatives: Iterable[Initiative], as_of: date | None = None
) -> dict[int, InitiativeResult]:
    """The measured result of each initiative, keyed by its id, counting only the workloads
    `user` may see. `as_of` is the last day measured (default: yesterday, the last whole day)."""
    as_of = as_of or timezone.localdate() - timedelta(days=1)
    initiatives = list(initiatives)
    visible = set(Workload.objects.filter(team__in=visible_teams(user)).values_list("pk", flat=True))
    spans = {}
    for initiative in initiatives:
        if initiative.effective_on and initiative.effective_on <= as_of:
            start = initiative.effective_on - timedelta(days=initiative.baseline_days)
            spans[initiative.pk] = (start, as_of)
    daily = _daily_cost_and_volume(
        workload_ids={w.pk for i in initiatives if i.pk in spans for w in i.workloads.all()} & visible,
        start=min((s for s, _ in spans.values()), default=as_of),
        end=as_of,
    )
    return {initiative.pk: _result(initiative, daily, visible, as_of) for initiative in initiatives}


def _result(initiative: Initiative, daily: dict, visible: set[int], as_of: date) -> InitiativeResult:
    base = {
        "initiative": initiative,
        "currency": initiative.currency,
        "implementation_cost": initiative.implementation_cost,
        "expected_monthly_saving": initiative.expected_monthly_saving,
    }
    if not initiative.effective_on:
        return InitiativeResult(**base, reason="No go-live date yet: set “effective on” when the change ships.")
    if initiative.effective_on > as_of:
        return InitiativeResult(**base, reason=f"Goes live on {initiative.effective_on:%Y-%m-%d}; nothing to measure yet.")
    baseline_start = initiative.effective_on - timedelta(days=initiative.baseline_days)
    baseline_end = initiative.effective_on - timedelta(days=1)
    savings = []
    for workload in initiative.workloads.all():
        if workload.pk not in visible:
            continue
        days = daily.get((workload.pk, initiative.currency), {})
        by_tokens = workload.inference_unit == Workload.InferenceUnit.TOKEN
        baseline = _window(days, baseline_start, baseline_end, by_tokens)
        after = _window(days, initiative.effective_on, as_of, by_tokens)
        cost_per_inference = baseline.cost_per_inference
        daily_saving = ()
        if cost_per_inference is not None:
            daily_saving = tuple(
                (day, cost_per_inference * inferences - cost)
                for day, (cost, inferences) in sorted(_measured_days(days, initiative.effective_on, as_of, by_tokens).items())
            )
        savings.append(
            WorkloadSaving(workload.pk, workload.name, workload.inference_unit, baseline, after, daily_saving)
        )
    reason = ""
    if not any(s.realized_saving is not None for s in savings):
        reason = (
            f"No day with both {initiative.currency} spend and a reported inference volume "
            "in the baseline window and after the change."
        )
    return InitiativeResult(
        **base,
        workloads=tuple(savings),
        reason=reason,
        days_after=(as_of - initiative.effective_on).days + 1,
    )


def _measured_days(days: dict, start: date, end: date, by_tokens: bool) -> dict[date, tuple[Decimal, int]]:
    measured = {}
    for day, (cost, requests, tokens) in days.items():
        inferences = tokens if by_tokens else requests
        if start <= day <= end and inferences:
            measured[day] = (cost, inferences)
    return measured


def _window(days: dict, start: date, end: date, by_tokens: bool) -> Window:
    measured = _measured_days(days, start, end, by_tokens)
    return Window(
        start=start,
        end=end,
        days_measured=len(measured),
        cost=sum((cost for cost, _ in measured.values()), Decimal(0)),
        inferences=sum(inferences for _, inferences in measured.values()),
        daily_cost_per_inference=tuple(cost / inferences for cost, inferences in measured.values()),
    )


def _daily_cost_and_volume(*, workload_ids: set[int], start: date, end: date) -> dict:
    """{(workload id, currency): {day: (effective cost, requests, tokens)}} for days with spend."""
    if not workload_ids:
        return {}
    volumes = {
        (row["workload_id"], row["day"]): row
        for row in InferenceVolume.objects.filter(
            workload_id__in=workload_ids, day__gte=start, day__lte=end
        ).values("workload_id", "day", "requests", "input_tokens", "output_tokens")
    }
    spend = (
        DailySpend.objects.filter(workload_id__in=workload_ids, day__gte=start, day__lte=end)
        .values("workload_id", "day", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .order_by()
    )
    daily: dict = defaultdict(dict)
    for row in spend:
        volume = volumes.get((row["workload_id"], row["day"]), {})
        tokens = (volume.get("input_tokens") or 0) + (volume.get("output_tokens") or 0)
        daily[(row["workload_id"], row["billing_currency"])][row["day"]] = (
            row["cost"],
            volume.get("requests") or 0,
            tokens,
        )
    return daily



def initiatives_in_scope(*, user, team=None, workload=None) -> QuerySet[Initiative]:
    """The initiatives a page's team / workload filter selects among those `user` may see."""
    rows = initiatives_for_user(user)
    if team is not None:
        rows = rows.filter(team=team)
    if workload is not None:
        rows = rows.filter(workloads=workload)
    return rows.order_by("effective_on", "pk")


def savings_timeline(*, results: Iterable[InitiativeResult], start: date, end: date) -> dict[str, list[dict]]:
    """Expected and realized cumulative saving of all `results` per currency and day over
    [start, end]; what was saved before `start` is carried in, so the lines start where the
    running totals stand."""
    per_currency: dict[str, dict[date, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for result in results:
        for row in result.cumulative_series():
            per_currency[result.currency][row["day"]][result.initiative.pk] = (row["expected"], row["realized"])
    timeline = {}
    for currency, days in per_currency.items():
        latest: dict[int, tuple[Decimal, Decimal]] = {}
        rows = []
        for day in sorted(days):
            latest.update(days[day])
            if start <= day <= end:
                rows.append(
                    {
                        "day": day,
                        "expected": sum((e for e, _ in latest.values()), Decimal(0)),
                        "realized": sum((r for _, r in latest.values()), Decimal(0)),
                    }
                )
        if rows:
            timeline[currency] = rows
    return timeline
