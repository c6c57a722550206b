from datetime import date
from decimal import Decimal

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from finops.models import DailySpend
from finops.selectors.access import user_sees_all_teams, visible_teams


def daily_spend_for_user(user) -> QuerySet[DailySpend]:
    """The rollup rows a user may see. Unallocated spend belongs to no team, so only those
    who see every team see it."""
    rows = DailySpend.objects.all()
    if user_sees_all_teams(user):
        return rows
    return rows.filter(team__in=visible_teams(user))


def spend_by_team_daily(*, user, start: date, end: date) -> list[dict]:
    """Effective cost per day, currency and team (None = unallocated), oldest day first."""
    return list(
        daily_spend_for_user(user)
        .filter(day__gte=start, day__lte=end)
        .values("day", "billing_currency", "team__name")
        .annotate(effective_cost=Sum("effective_cost"))
        .order_by("day", "billing_currency", "team__name")
    )


def spend_totals_by_currency(*, user, start: date, end: date) -> dict[str, Decimal]:
    """Effective cost per billing currency: amounts in different currencies never add up."""
    rows = (
        daily_spend_for_user(user)
        .filter(day__gte=start, day__lte=end)
        .values("billing_currency")
        .annotate(total=Sum("effective_cost"))
        .order_by("billing_currency")
    )
    return {row["billing_currency"]: row["total"] for row in rows}


GROUPS = {
    "team": "team__name",
    "workload": "workload__name",
    "service": "service_name",
    "provider": "provider_name",
    "service_category": "service_category",
    "charge_category": "charge_category",
}
GRANULARITIES = ("day", "week", "month")


def spend_aggregate(*, user, group_by: str, granularity: str, start: date, end: date) -> list[dict]:
    """Spend per period and group, the numbers the dashboards show. A period is a day, an ISO
    week (starting Monday) or a calendar month, named by its first day. Rows for spend no rule
    allocated have group None."""
    period = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[granularity]
    rows = (
        daily_spend_for_user(user)
        .filter(day__gte=start, day__lte=end)
        .annotate(period=period, group=F(GROUPS[group_by]))
        .values("period", "group", "billing_currency")
        .annotate(billed_cost=Sum("billed_cost"), effective_cost=Sum("effective_cost"), tokens=Sum("tokens"))
        .order_by("period", "billing_currency", "group")
    )
    return list(rows)
