"""The overview's headline figures, all read from rollups and scoped like every other page.

- Month to date: spend from the 1st to the as-of day, against the same days of last month.
- Forecast: month to date plus the average day of the last 7 days for each day left.
- Cost per 1,000 inferences: spend of workloads on days they reported a volume, divided by
  those requests, over the last 30 days against the 30 before.
- Top movers: workloads whose spend changed most, last 7 days against the 7 before.
"""

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from finops.models import Alert, InferenceVolume
from finops.selectors.access import workloads_for_user
from finops.selectors.alerts import alerts_for_user
from finops.selectors.initiatives import initiative_results, initiatives_in_scope
from finops.selectors.spend import SpendFilter, daily_spend_for_user

CENT = Decimal("0.01")
FORECAST_BASIS_DAYS = 7
MOVER_DAYS = 7
UNIT_COST_DAYS = 30


@dataclass(frozen=True)
class MonthToDate:
    currency: str
    month_to_date: Decimal
    same_days_last_month: Decimal
    forecast: Decimal

    @property
    def change(self) -> Decimal | None:
        if not self.same_days_last_month:
            return None
        return (self.month_to_date / self.same_days_last_month - 1) * 100


def _scoped(user, spend_filter: SpendFilter, start: date, end: date):
    return SpendFilter(
        start=start, end=end, team=spend_filter.team, workload=spend_filter.workload,
        provider=spend_filter.provider, service=spend_filter.service,
    ).apply(daily_spend_for_user(user))


def _totals(rows) -> dict[str, Decimal]:
    return {
        row["billing_currency"]: row["total"]
        for row in rows.values("billing_currency").annotate(total=Sum("effective_cost")).order_by()
    }


def month_to_date(*, user, spend_filter: SpendFilter, as_of: date) -> list[MonthToDate]:
    first = as_of.replace(day=1)
    last_month_first = (first - timedelta(days=1)).replace(day=1)
    last_month_days = calendar.monthrange(last_month_first.year, last_month_first.month)[1]
    last_month_same_day = last_month_first.replace(day=min(as_of.day, last_month_days))
    current = _totals(_scoped(user, spend_filter, first, as_of))
    previous = _totals(_scoped(user, spend_filter, last_month_first, last_month_same_day))
    basis_start = as_of - timedelta(days=FORECAST_BASIS_DAYS - 1)
    recent = _totals(_scoped(user, spend_filter, basis_start, as_of))
    days_left = calendar.monthrange(as_of.year, as_of.month)[1] - as_of.day
    return [
        MonthToDate(
            currency=currency,
            month_to_date=current.get(currency, Decimal(0)),
            same_days_last_month=previous.get(currency, Decimal(0)),
            forecast=(current.get(currency, Decimal(0))
                      + recent.get(currency, Decimal(0)) / FORECAST_BASIS_DAYS * days_left).quantize(CENT),
        )
        for currency in sorted(set(current) | set(previous))
    ]


def cost_per_1k_inferences(*, user, spend_filter: SpendFilter, as_of: date) -> dict[str, dict]:
    """Per currency: the last 30 days' cost per 1,000 inferences, the 30 days' before, and the
    daily series for a sparkline."""
    start = as_of - timedelta(days=2 * UNIT_COST_DAYS - 1)
    volumes = {
        (row["workload_id"], row["day"]): row["requests"]
        for row in InferenceVolume.objects.filter(
            workload__in=workloads_for_user(user), day__gte=start, day__lte=as_of, requests__gt=0
        ).values("workload_id", "day", "requests")
    }
    if not volumes:
        return {}
    spend = (
        _scoped(user, spend_filter, start, as_of)
        .exclude(workload=None)
        .values("workload_id", "day", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .order_by()
    )
    daily: dict[str, dict[date, list]] = defaultdict(lambda: defaultdict(lambda: [Decimal(0), 0]))
    for row in spend:
        requests = volumes.get((row["workload_id"], row["day"]))
        if requests:
            totals = daily[row["billing_currency"]][row["day"]]
            totals[0] += row["cost"]
            totals[1] += requests
    split = as_of - timedelta(days=UNIT_COST_DAYS - 1)
    result = {}
    for currency, days in daily.items():
        def per_1k(selected):
            cost = sum((c for c, _ in selected), Decimal(0))
            requests = sum(r for _, r in selected)
            return (cost * 1000 / requests).quantize(Decimal("0.0001")) if requests else None

        result[currency] = {
            "current": per_1k([v for d, v in days.items() if d >= split]),
            "previous": per_1k([v for d, v in days.items() if d < split]),
            "series": [(d, (c * 1000 / r).quantize(Decimal("0.0001"))) for d, (c, r) in sorted(days.items()) if d >= split],
        }
    return result


def top_movers(*, user, spend_filter: SpendFilter, as_of: date, limit: int = 5) -> list[dict]:
    """Workloads (and unallocated spend) whose spend changed most between the last 7 days and
    the 7 before, largest absolute change first."""
    start = as_of - timedelta(days=2 * MOVER_DAYS - 1)
    split = as_of - timedelta(days=MOVER_DAYS - 1)
    rows = (
        _scoped(user, spend_filter, start, as_of)
        .values("workload_id", "workload__name", "billing_currency", "day")
        .annotate(cost=Sum("effective_cost"))
        .order_by()
    )
    totals: dict[tuple, dict] = {}
    for row in rows:
        key = (row["workload_id"], row["billing_currency"])
        total = totals.setdefault(key, {"workload_id": row["workload_id"], "workload": row["workload__name"],
                                        "billing_currency": row["billing_currency"],
                                        "last_7_days": Decimal(0), "previous_7_days": Decimal(0)})
        total["last_7_days" if row["day"] >= split else "previous_7_days"] += row["cost"]
    for total in totals.values():
        total["change"] = total["last_7_days"] - total["previous_7_days"]
    return sorted(totals.values(), key=lambda t: abs(t["change"]), reverse=True)[:limit]


def realized_savings_year_to_date(*, user, spend_filter: SpendFilter, as_of: date) -> dict[str, Decimal]:
    """What the initiatives measurably saved from 1 January to the as-of day, per currency."""
    initiatives = list(initiatives_in_scope(user=user, team=spend_filter.team, workload=spend_filter.workload))
    results = initiative_results(user=user, initiatives=initiatives, as_of=as_of)
    year_start = as_of.replace(month=1, day=1)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for result in results.values():
        for saving in result.measured:
            totals[result.currency] += sum(
                (amount for day, amount in saving.daily_saving if day >= year_start), Decimal(0)
            )
    return {currency: total.quantize(CENT) for currency, total in sorted(totals.items())}


def open_alert_count(*, user) -> int:
    return alerts_for_user(user).filter(state=Alert.State.OPEN).count()
