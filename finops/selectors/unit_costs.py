from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from finops.models import InferenceVolume
from finops.selectors.access import workloads_for_user
from finops.selectors.spend import SpendFilter, daily_spend_for_user

PRECISION = Decimal("0.0000000001")


def unit_costs_daily(*, user, spend_filter: SpendFilter) -> list[dict]:
    """Cost per 1,000 requests and per 1M tokens per workload, day and currency.

    Tokens are those the serving stack reported (InferenceVolume), else the tokens the bill
    itself metered (managed model APIs). A ratio is None when its volume is zero or unknown:
    a day with spend and no traffic is not a cheap day, it is a day without a figure.
    """
    spend = (
        spend_filter.apply(daily_spend_for_user(user))
        .exclude(workload=None)
        .values("day", "workload_id", "workload__name", "billing_currency")
        .annotate(effective_cost=Sum("effective_cost"), billed_tokens=Sum("tokens"))
        .order_by("day", "workload__name", "billing_currency")
    )
    volumes = InferenceVolume.objects.filter(
        workload__in=workloads_for_user(user), day__gte=spend_filter.start, day__lte=spend_filter.end
    ).values("workload_id", "day", "requests", "input_tokens", "output_tokens")
    # Only the volumes of the spend's workloads are read below: a workload's page needs its own,
    # not a year of every workload's.
    if spend_filter.workload:
        volumes = volumes.filter(workload=spend_filter.workload)
    if spend_filter.team:
        volumes = volumes.filter(workload__team=spend_filter.team)
    by_key: dict[tuple, dict] = defaultdict(dict)
    for volume in volumes:
        by_key[(volume["workload_id"], volume["day"])] = volume
    rows = []
    for row in spend:
        volume = by_key.get((row["workload_id"], row["day"]), {})
        requests = volume.get("requests") or 0
        served_tokens = (volume.get("input_tokens") or 0) + (volume.get("output_tokens") or 0)
        tokens = Decimal(served_tokens) if served_tokens else row["billed_tokens"] or Decimal(0)
        cost = row["effective_cost"]
        rows.append(
            {
                "day": row["day"],
                "workload_id": row["workload_id"],
                "workload": row["workload__name"],
                "billing_currency": row["billing_currency"],
                "effective_cost": cost,
                "requests": requests,
                "tokens": tokens,
                "cost_per_1k_requests": _per(cost, requests, 1_000),
                "cost_per_1m_tokens": _per(cost, tokens, 1_000_000),
            }
        )
    return rows


def _per(cost: Decimal, volume, unit: int) -> Decimal | None:
    if not volume:
        return None
    return (cost * unit / Decimal(volume)).quantize(PRECISION)
