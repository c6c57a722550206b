"""Spend histories for the alert tests, written straight into the DailySpend rollup (and,
for drivers, a few cost records of one day)."""

import math
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from finops.models import CostRecord, DailySpend, IngestRun

WEEKLY_CYCLE = (1.00, 1.04, 1.06, 1.03, 0.97, 0.62, 0.58)
SPIKE_DAY = date(2026, 3, 10)  # a Tuesday
GPU = "Amazon Elastic Compute Cloud"
MODEL_API = "Amazon Bedrock"


def cycle(day: date, *, base: float, growth: float = 0.10, start: date = date(2025, 12, 1)) -> float:
    """Weekly cycle and compound monthly growth, the shape of real inference spend."""
    return base * (1 + growth) ** ((day - start).days / 30) * WEEKLY_CYCLE[day.weekday()]


def history(
    *, team, workload, end: date = SPIKE_DAY, days: int = 70, base: float = 1000.0, noise: float = 0.03,
    seed: int = 0, service: str = GPU, currency: str = "USD", spikes: dict[date, float] | None = None,
    tokens_per_unit: Decimal | None = None,
) -> dict[date, Decimal]:
    """`days` days of spend ending on `end`, with multiplicative noise and spikes (day -> factor).
    Returns what was written, per day."""
    rng = random.Random(seed)
    spikes = spikes or {}
    written = {}
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        amount = Decimal(f"{cycle(day, base=base) * math.exp(rng.gauss(0, noise)) * spikes.get(day, 1):.2f}")
        written[day] = amount
        spend(team=team, workload=workload, day=day, amount=amount, service=service, currency=currency,
              tokens=(amount * tokens_per_unit).quantize(Decimal(1)) if tokens_per_unit else Decimal(0))
    return written


def spend(*, team, workload, day: date, amount: Decimal, service: str = GPU, currency: str = "USD",
          tokens: Decimal = Decimal(0)) -> DailySpend:
    return DailySpend.objects.create(
        day=day, team=team, workload=workload, provider_name="AWS", service_name=service,
        service_category="Compute", charge_category="Usage", billing_currency=currency, billed_cost=amount,
        effective_cost=amount, list_cost=amount, tokens=tokens, record_count=1,
    )


def restate(*, team, day: date, amount: Decimal, service: str = GPU) -> None:
    """A re-ingested bill changes the day's rollup."""
    DailySpend.objects.filter(team=team, day=day, service_name=service).update(
        billed_cost=amount, effective_cost=amount, list_cost=amount
    )


def cost_record(*, workload, day: date, amount: str, resource_id: str, service: str = GPU,
                resource_name: str = "") -> CostRecord:
    run = IngestRun.objects.create(source="test", status=IngestRun.Status.SUCCEEDED)
    start = datetime.combine(day, time(3), tzinfo=timezone.utc)
    return CostRecord.objects.create(
        ingest_run=run, workload=workload, charge_period_start=start, charge_period_end=start + timedelta(hours=1),
        billing_period_start=start, billing_period_end=start, provider_name="AWS", billing_account_id="1",
        service_name=service, resource_id=resource_id, resource_name=resource_name, charge_category="Usage",
        billed_cost=Decimal(amount), effective_cost=Decimal(amount), billing_currency="USD",
    )
