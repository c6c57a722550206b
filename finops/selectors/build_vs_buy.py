"""Build vs buy (white paper §6): a workload's measured self-hosted cost next to what managed
model APIs would charge for the same traffic, and the monthly volume where they break even.

Self-hosting is treated as fixed capacity: its spend over the window, scaled to a 30-day
month, is paid whatever the traffic. A managed API is paid per unit. Above the break-even
volume (monthly fixed cost ÷ managed price per unit) self-hosting is the cheaper of the two.

Every figure is Decimal; each is computed with a single division (products first), so the
only rounding is at Decimal's 28th significant digit, and none when the division ends."""

from datetime import date
from decimal import Decimal

from django.db.models import Count, Sum

from finops.models import InferenceVolume, ManagedApiPrice, Workload
from finops.selectors.access import workloads_for_user
from finops.selectors.spend import SpendFilter, daily_spend_for_user

DAYS_PER_MONTH = 30
TOKENS_PER_QUOTE = 1_000_000
REQUESTS_PER_QUOTE = 1_000
BASES = {
    # basis: (units a price is quoted per, its label, the volume's unit)
    "tokens": (TOKENS_PER_QUOTE, "1M tokens", "tokens"),
    "requests": (REQUESTS_PER_QUOTE, "1k requests", "requests"),
}


def build_vs_buy(*, user, workload: Workload, start: date, end: date) -> dict:
    """Self-hosted cost and volume of `workload` from `start` to `end` (days inclusive), and one
    comparison per managed API price linked to it (`workload.managed_api_prices`).

    Raises Workload.DoesNotExist when the user may not see the workload, so a view answers
    404 as for any other team's object.

    Returns a dict:
      workload, start, end, days;
      volume: requests, input_tokens, output_tokens, tokens, tokens_source ("served", "billed"
        or None), days_reported, monthly_requests, monthly_tokens (None without volume);
      self_hosted: one dict per billing currency: currency, cost, monthly_cost,
        cost_per_1m_tokens, cost_per_1k_requests (None without that volume);
      comparisons: one dict per price in a currency the workload spent in (see _compare);
      skipped: prices not compared, each {"price", "reason"};
      notes: sentences qualifying the figures (missing or partial volume, mixed currencies).
    """
    if start > end:
        raise ValueError("start must not be after end")
    workload = workloads_for_user(user).get(pk=workload.pk)
    days = (end - start).days + 1
    spend = list(
        SpendFilter(start=start, end=end, workload=workload)
        .apply(daily_spend_for_user(user))
        .values("billing_currency")
        .annotate(cost=Sum("effective_cost"), billed_tokens=Sum("tokens"))
        .order_by("billing_currency")
    )
    billed_tokens = sum((row["billed_tokens"] or 0 for row in spend), Decimal(0))
    volume = _volume(workload, start=start, end=end, days=days, billed_tokens=billed_tokens)
    self_hosted = [_self_hosted(row["billing_currency"], row["cost"], volume=volume, days=days) for row in spend]
    notes = _notes(volume=volume, self_hosted=self_hosted, days=days, start=start, end=end)

    by_currency = {row["currency"]: row for row in self_hosted}
    comparisons, skipped = [], []
    for price in workload.managed_api_prices.order_by("provider_name", "model_name"):
        if not by_currency:
            skipped.append({"price": price, "reason": f"no self-hosted spend recorded from {start} to {end}"})
        elif price.currency not in by_currency:
            spent_in = ", ".join(sorted(by_currency))
            skipped.append({
                "price": price,
                "reason": f"priced in {price.currency} while the workload's spend is in {spent_in}: "
                "amounts in different currencies are not compared",
            })
        else:
            comparisons.append(_compare(price, by_currency[price.currency], workload=workload, volume=volume, days=days))
    return {
        "workload": workload,
        "start": start,
        "end": end,
        "days": days,
        "volume": volume,
        "self_hosted": self_hosted,
        "comparisons": comparisons,
        "skipped": skipped,
        "notes": notes,
    }


def _volume(workload: Workload, *, start: date, end: date, days: int, billed_tokens: Decimal) -> dict:
    """Tokens are those the serving stack reported, else those the bill metered (as in
    unit_costs_daily); only served tokens carry the input/output split."""
    totals = InferenceVolume.objects.filter(workload=workload, day__gte=start, day__lte=end).aggregate(
        requests=Sum("requests"), input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"), days=Count("id")
    )
    requests = totals["requests"] or 0
    input_tokens, output_tokens = totals["input_tokens"] or 0, totals["output_tokens"] or 0
    if input_tokens + output_tokens:
        tokens, source = Decimal(input_tokens + output_tokens), "served"
    elif billed_tokens:
        tokens, source = billed_tokens, "billed"
    else:
        tokens, source = Decimal(0), None
    return {
        "requests": requests,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "tokens": tokens,
        "tokens_source": source,
        "days_reported": totals["days"],
        "monthly_requests": _ratio(requests * DAYS_PER_MONTH, days) if requests else None,
        "monthly_tokens": _ratio(tokens * DAYS_PER_MONTH, days) if tokens else None,
    }


def _self_hosted(currency: str, cost: Decimal, *, volume: dict, days: int) -> dict:
    return {
        "currency": currency,
        "cost": cost,
        "monthly_cost": _ratio(cost * DAYS_PER_MONTH, days),
        "cost_per_1m_tokens": _ratio(cost * TOKENS_PER_QUOTE, volume["tokens"]) if volume["tokens"] else None,
        "cost_per_1k_requests": _ratio(cost * REQUESTS_PER_QUOTE, volume["requests"]) if volume["requests"] else None,
    }


def _notes(*, volume: dict, self_hosted: list[dict], days: int, start: date, end: date) -> list[str]:
    notes = []
    if not self_hosted:
        notes.append(f"No self-hosted spend is recorded for this workload from {start} to {end}.")
    if len(self_hosted) > 1:
        notes.append(
            "The workload's spend is in several currencies; each comparison uses only the spend in "
            "its price's currency, part of what serves the whole volume."
        )
    if not volume["requests"]:
        notes.append("No requests were reported in the window, so there is no cost per 1k requests.")
    if not volume["tokens"]:
        notes.append("No tokens were reported or billed in the window, so there is no cost per 1M tokens.")
    elif volume["tokens_source"] == "billed":
        notes.append("Tokens come from the bill, which does not split input from output tokens.")
    if 0 < volume["days_reported"] < days:
        notes.append(
            f"Volume was reported on {volume['days_reported']} of {days} days: per-unit costs over the "
            "window overstate the cost of the days that served it."
        )
    return notes


def _compare(price: ManagedApiPrice, own: dict, *, workload: Workload, volume: dict, days: int) -> dict:
    """The managed cost of the window's volume next to the self-hosted cost, and the monthly
    volume above which self-hosting is cheaper.

    Keys: price, provider_name, model_name, currency, basis ("tokens" or "requests"),
    price_unit, volume_unit, managed_unit_price (per price_unit; blended over the measured
    input/output mix for tokens), self_hosted_cost, managed_cost, difference (managed minus
    self-hosted: positive is what self-hosting saved over the window), self_hosted_monthly_cost,
    break_even_monthly_volume, current_monthly_volume, cheaper ("self_hosted", "managed" or
    None), verdict, and reason (why a figure is None; "" when all are there)."""
    basis = _basis(price, workload=workload, volume=volume)
    per, price_unit, volume_unit = BASES[basis]
    quote, reason = _quote(price, basis=basis, volume=volume)
    measured = volume["tokens"] if basis == "tokens" else Decimal(volume["requests"])
    cost = own["cost"]

    managed_cost = difference = unit_price = break_even = None
    if quote is not None:
        numerator, denominator = quote  # the price per `per` units is numerator / denominator
        unit_price = _ratio(numerator, denominator)
        if measured:
            managed_cost = _ratio(measured * numerator, denominator * per)
            difference = managed_cost - cost
        elif not reason:
            reason = f"no {volume_unit} were reported in the window, so there is no managed cost to compare"
        if numerator == 0:
            reason = reason or f"{price} charges nothing per {volume_unit[:-1]}: self-hosting never breaks even"
        elif cost <= 0:
            break_even = Decimal(0)
        else:
            break_even = _ratio(cost * DAYS_PER_MONTH * per * denominator, days * numerator)
    current = volume[f"monthly_{volume_unit}"]

    cheaper = None
    if difference is not None and difference != 0:
        cheaper = "self_hosted" if difference > 0 else "managed"
    return {
        "price": price,
        "provider_name": price.provider_name,
        "model_name": price.model_name,
        "currency": price.currency,
        "basis": basis,
        "price_unit": price_unit,
        "volume_unit": volume_unit,
        "managed_unit_price": unit_price,
        "self_hosted_cost": cost,
        "managed_cost": managed_cost,
        "difference": difference,
        "self_hosted_monthly_cost": own["monthly_cost"],
        "break_even_monthly_volume": break_even,
        "current_monthly_volume": current,
        "cheaper": cheaper,
        "verdict": _verdict(break_even, current, cheaper=cheaper, volume_unit=volume_unit, reason=reason),
        "reason": reason,
    }


def _basis(price: ManagedApiPrice, *, workload: Workload, volume: dict) -> str:
    """Tokens or requests: a basis the API has a price for, preferring one with measured
    volume, then the unit the workload counts inferences in."""
    priced = [
        basis
        for basis, has_price in (
            ("tokens", price.input_price_per_1m_tokens is not None),
            ("requests", price.price_per_1k_requests is not None),
        )
        if has_price
    ]
    preferred = "tokens" if workload.inference_unit == Workload.InferenceUnit.TOKEN else "requests"
    return min(priced, key=lambda basis: (not volume[basis], basis != preferred))


def _quote(price: ManagedApiPrice, *, basis: str, volume: dict) -> tuple[tuple[Decimal, Decimal] | None, str]:
    """The API's price per 1M tokens or 1k requests as (numerator, denominator), or None and why.

    Per token it is blended over the measured input/output mix: (input × input price + output ×
    output price) / (input + output). A price table without an output price charges one price
    per token; then the mix does not matter."""
    if basis == "requests":
        return (price.price_per_1k_requests, Decimal(1)), ""
    input_price = price.input_price_per_1m_tokens
    output_price = price.output_price_per_1m_tokens if price.output_price_per_1m_tokens is not None else input_price
    if volume["tokens_source"] == "served":
        weighted = volume["input_tokens"] * input_price + volume["output_tokens"] * output_price
        return (weighted, volume["tokens"]), ""
    if input_price == output_price:
        return (input_price, Decimal(1)), ""
    if volume["tokens_source"] == "billed":
        why = "the bill does not split input from output tokens"
    else:
        why = "no tokens were reported"
    return None, f"{why}, and {price} prices input and output tokens differently: the blended price needs the mix"


def _verdict(
    break_even: Decimal | None, current: Decimal | None, *, cheaper: str | None, volume_unit: str, reason: str
) -> str:
    if break_even is None:
        return reason[:1].upper() + reason[1:] + "."
    text = f"Self-hosting is cheaper above {break_even:,.0f} {volume_unit} a month"
    if current is None:
        return text + f"; no current volume to compare ({reason})."
    text += f"; the current volume is {current:,.0f} {volume_unit} a month"
    if cheaper == "self_hosted":
        return text + ", so self-hosting is cheaper now."
    if cheaper == "managed":
        return text + ", so the managed API is cheaper now."
    return text + ", where the two cost the same."


def _ratio(numerator, denominator) -> Decimal:
    return Decimal(numerator) / Decimal(denominator)
