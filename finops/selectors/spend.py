from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.db.models import F, Max, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from finops.models import DailySpend, Team, Workload
from finops.selectors.access import team_scoped, user_sees_all_teams, visible_teams

GROUPS = {
    "team": "team__name",
    "workload": "workload__name",
    "service": "service_name",
    "provider": "provider_name",
    "service_category": "service_category",
    "charge_category": "charge_category",
    "tco_category": "tco_category",  # "" = no TcoRule matched: unclassified
}
GRANULARITIES = ("day", "week", "month")


@dataclass(frozen=True)
class SpendFilter:
    """The slice of spend a page, a download or an API call asks for (days inclusive)."""

    start: date
    end: date
    team: Team | None = None
    workload: Workload | None = None
    provider: str = ""
    service: str = ""

    def apply(self, rows: QuerySet[DailySpend]) -> QuerySet[DailySpend]:
        rows = rows.filter(day__gte=self.start, day__lte=self.end)
        if self.team:
            rows = rows.filter(team=self.team)
        if self.workload:
            rows = rows.filter(workload=self.workload)
        if self.provider:
            rows = rows.filter(provider_name=self.provider)
        if self.service:
            rows = rows.filter(service_name=self.service)
        return rows


def daily_spend_for_user(user) -> QuerySet[DailySpend]:
    """The rollup rows a user may see. Unallocated spend belongs to no team, so only those
    who see every team see it."""
    return team_scoped(DailySpend.objects.all(), user)


def spend_totals_by_currency(*, user, spend_filter: SpendFilter) -> dict[str, Decimal]:
    """Effective cost per billing currency: amounts in different currencies never add up."""
    rows = (
        spend_filter.apply(daily_spend_for_user(user))
        .values("billing_currency")
        .annotate(total=Sum("effective_cost"))
        .order_by("billing_currency")
    )
    return {row["billing_currency"]: row["total"] for row in rows}


def spend_aggregate(*, user, spend_filter: SpendFilter, group_by: str, granularity: str) -> list[dict]:
    """Spend per period, currency and group: the numbers the dashboards, their CSV downloads and
    the API show. A period is a day, an ISO week (from Monday) or a calendar month, named by its
    first day. Spend no rule allocated has group None."""
    period = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[granularity]
    rows = (
        spend_filter.apply(daily_spend_for_user(user))
        .annotate(period=period, group=F(GROUPS[group_by]))
        .values("period", "group", "billing_currency")
        .annotate(billed_cost=Sum("billed_cost"), effective_cost=Sum("effective_cost"), tokens=Sum("tokens"))
        .order_by("period", "billing_currency", "group")
    )
    return list(rows)


# How long the filter bar's choices may lag a rollup refresh that only deleted rows (one that
# writes any row changes the cache key).
DIMENSIONS_CACHE_SECONDS = 300


def spend_dimensions(*, user) -> dict[str, list[str]]:
    """The providers and services a user's spend has, for the filter bar's choices."""
    # Every page asks and the answer is a scan of the whole rollup (15 ms at 36k rows), so it
    # is cached per scope until the rollup's newest row id changes: every refresh that writes
    # rows writes new ids.
    teams = "all" if user_sees_all_teams(user) else ",".join(map(str, visible_teams(user).values_list("pk", flat=True)))
    newest = DailySpend.objects.aggregate(newest=Max("pk"))["newest"]
    key = f"spend-dimensions:{teams}:{newest}"
    if (cached := cache.get(key)) is not None:
        return cached
    # One pass over the rollup for both lists: the distinct pairs are few.
    pairs = daily_spend_for_user(user).order_by().values_list("provider_name", "service_name").distinct()
    providers, services = set(), set()
    for provider, service in pairs:
        providers.add(provider)
        services.add(service)
    dimensions = {"providers": sorted(providers), "services": sorted(services)}
    cache.set(key, dimensions, DIMENSIONS_CACHE_SECONDS)
    return dimensions
