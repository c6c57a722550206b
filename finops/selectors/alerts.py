"""Reads for spike alerts: who sees which rules and alerts, the daily series a rule watches
(from the DailySpend rollup only), the drivers behind a spike, and who gets the e-mail."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from finops.models import Alert, AlertRule, CostRecord, DailySpend, InferenceVolume, TeamMembership
from finops.selectors.access import user_sees_all_teams, visible_teams

DRIVER_LIMIT = 5


def alert_rules_for_user(user) -> QuerySet[AlertRule]:
    """A member sees their teams' rules; rules over all teams are for leaders and staff."""
    rules = AlertRule.objects.select_related("team", "workload")
    if user_sees_all_teams(user):
        return rules
    return rules.filter(team__in=visible_teams(user))


def alerts_for_user(user) -> QuerySet[Alert]:
    return Alert.objects.filter(rule__in=alert_rules_for_user(user)).select_related(
        "rule__team", "rule__workload", "acknowledged_by", "resolved_by"
    ).prefetch_related("deliveries")


def rule_visible_to(rule: AlertRule, user) -> bool:
    if user_sees_all_teams(user):
        return True
    return rule.team_id is not None and visible_teams(user).filter(pk=rule.team_id).exists()


def scope_filter(rule: AlertRule, *, team: str = "team_id", workload: str = "workload_id") -> Q:
    """The rule's scope as a filter over DailySpend (or CostRecord, with other field paths)."""
    q = Q()
    if rule.team_id:
        q &= Q(**{team: rule.team_id})
    if rule.workload_id:
        q &= Q(**{workload: rule.workload_id})
    if rule.service_name:
        q &= Q(service_name=rule.service_name)
    if rule.tco_category:
        q &= Q(tco_category=rule.tco_category)
    if rule.currency:
        q &= Q(billing_currency=rule.currency)
    return q


def rule_daily_spend(*, rule: AlertRule, start: date, end: date) -> dict[str, dict[date, Decimal]]:
    """Effective cost per billing currency and day in the rule's scope."""
    rows = (
        DailySpend.objects.filter(scope_filter(rule), day__gte=start, day__lte=end)
        .values("billing_currency", "day")
        .annotate(cost=Sum("effective_cost"))
        .order_by()
    )
    series = defaultdict(dict)
    for row in rows:
        series[row["billing_currency"]][row["day"]] = row["cost"]
    return dict(series)


INFERENCES_UNIT, INFERENCES_PER_UNIT = "1k inferences", Decimal(1_000)
TOKENS_UNIT, TOKENS_PER_UNIT = "1M billed tokens", Decimal(1_000_000)


def rule_unit_cost_series(
    *, rule: AlertRule, start: date, end: date
) -> tuple[str, dict[str, dict[date, tuple[Decimal, Decimal]]]]:
    """The volume a unit-cost rule divides by, and (effective cost, volume in units) per
    currency and day in the rule's scope.

    Where the serving stack reports inference volumes for workloads in the scope, the unit is
    1,000 inferences (requests) and only the spend of workloads on days they reported a
    volume counts: a day without a volume has no cost per inference. Otherwise the unit is 1M
    tokens billed by managed model APIs, over the spend billed in tokens."""
    series = _inference_spend_daily(rule=rule, start=start, end=end)
    if series:
        return INFERENCES_UNIT, series
    return TOKENS_UNIT, _token_billed_spend_daily(rule=rule, start=start, end=end)


def _inference_spend_daily(*, rule: AlertRule, start: date, end: date) -> dict:
    spend = DailySpend.objects.filter(scope_filter(rule), day__gte=start, day__lte=end).exclude(workload=None)
    requests = dict(
        (
            (row["workload_id"], row["day"]),
            row["requests"],
        )
        for row in InferenceVolume.objects.filter(
            workload_id__in=spend.values("workload_id"), day__gte=start, day__lte=end, requests__gt=0
        ).values("workload_id", "day", "requests")
    )
    if not requests:
        return {}
    rows = spend.values("billing_currency", "day", "workload_id").annotate(cost=Sum("effective_cost")).order_by()
    series: dict = defaultdict(dict)
    for row in rows:
        served = requests.get((row["workload_id"], row["day"]))
        if served is None:
            continue
        cost, volume = series[row["billing_currency"]].get(row["day"], (Decimal(0), Decimal(0)))
        series[row["billing_currency"]][row["day"]] = (cost + row["cost"], volume + Decimal(served) / INFERENCES_PER_UNIT)
    return dict(series)


def _token_billed_spend_daily(*, rule: AlertRule, start: date, end: date) -> dict:
    rows = (
        DailySpend.objects.filter(scope_filter(rule), day__gte=start, day__lte=end, tokens__gt=0)
        .values("billing_currency", "day")
        .annotate(cost=Sum("effective_cost"), tokens=Sum("tokens"))
        .order_by()
    )
    series = defaultdict(dict)
    for row in rows:
        series[row["billing_currency"]][row["day"]] = (row["cost"], row["tokens"] / TOKENS_PER_UNIT)
    return dict(series)


def spend_day_range() -> tuple[date, date] | None:
    """First and last day in the rollup, or None before any bill was loaded."""
    first = DailySpend.objects.order_by("day").values_list("day", flat=True).first()
    last = DailySpend.objects.order_by("-day").values_list("day", flat=True).first()
    return (first, last) if first else None


def alert_drivers(
    *, rule: AlertRule, day: date, currency: str, baseline_start: date, baseline_end: date
) -> dict[str, list[dict]]:
    """What was behind the day's spend: the services whose cost rose most against their
    usual day (the average of the same weekday in the baseline window, from the rollup), and
    the costliest resources of that one day in the scope (from that day's cost records only).
    Amounts are strings."""
    scope = scope_filter(rule) & Q(billing_currency=currency)
    rows = (
        DailySpend.objects.filter(scope, day__gte=baseline_start, day__lte=day)
        .values_list("day", "service_name")
        .annotate(cost=Sum("effective_cost"))
        .order_by()
    )
    today, before, days = defaultdict(Decimal), defaultdict(Decimal), set()
    for spend_day, service, cost in rows:
        if spend_day == day:
            today[service] += cost
        elif spend_day.weekday() == day.weekday() and spend_day <= baseline_end:
            before[service] += cost
            days.add(spend_day)
    services = []
    for name in set(today) | set(before):
        usual = before[name] / len(days) if days else Decimal(0)
        services.append({"name": name, "amount": today[name], "baseline": usual, "change": today[name] - usual})
    services.sort(key=lambda row: row["change"], reverse=True)
    return {
        "services": [_strings(row) for row in services[:DRIVER_LIMIT] if row["change"] > 0],
        "resources": _top_resources(rule=rule, day=day, currency=currency),
    }


def _top_resources(*, rule: AlertRule, day: date, currency: str) -> list[dict]:
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    rows = (
        CostRecord.objects.filter(
            scope_filter(rule, team="workload__team_id"),
            billing_currency=currency,
            charge_period_start__gte=start,
            charge_period_start__lt=start + timedelta(days=1),
        )
        .exclude(resource_id="")
        .values("resource_id", "resource_name", "service_name")
        .annotate(amount=Sum("effective_cost"))
        .order_by("-amount")[:DRIVER_LIMIT]
    )
    return [_strings(row) for row in rows]


def _strings(row: dict) -> dict:
    return {key: str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value
            for key, value in row.items()}


def alert_recipients(rule: AlertRule) -> list[tuple[object | None, str]]:
    """(user or None, address) pairs to mail about the rule's alerts, each address once.

    Users come from the rule's team (its leaders, for a rule over all teams) when notify_team
    is set, plus the named recipients; every one of them must be allowed to see the rule
    (finops.selectors.access decides) and not have unsubscribed. Extra addresses follow."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    candidates = users.filter(pk__in=rule.recipients.values("pk"))
    if rule.notify_team:
        if rule.team_id:
            team_users = users.filter(memberships__team_id=rule.team_id)
        else:
            team_users = users.filter(memberships__role=TeamMembership.Role.LEADER)
        candidates = candidates | team_users
    candidates = candidates.exclude(pk__in=rule.unsubscribed.values("pk")).distinct().order_by("pk")
    found, seen = [], set()
    for user in candidates:
        if user.email.lower() not in seen and rule_visible_to(rule, user):
            seen.add(user.email.lower())
            found.append((user, user.email))
    for address in rule.extra_addresses():
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append((None, address))
    return found
