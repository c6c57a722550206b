from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from finops.models import CostRecord, DailySpend

ROLLUP_DIMENSIONS = (
    "provider_name",
    "service_name",
    "service_category",
    "charge_category",
    "billing_currency",
    "tco_category",
    "is_gpu",
)


# ConsumedUnit spellings of token meters (Bedrock, Azure OpenAI, Vertex AI, FOCUS) and how
# many tokens one unit is.
TOKEN_UNITS = {
    "token": 1,
    "tokens": 1,
    "1k tokens": 1_000,
    "1k token": 1_000,
    "1000 tokens": 1_000,
    "1,000 tokens": 1_000,
    "1m tokens": 1_000_000,
    "1,000,000 tokens": 1_000_000,
}


def _tokens(quantity: DecimalField) -> Case:
    return Case(
        *(When(consumed_unit__iexact=unit, then=F("consumed_quantity") * Value(scale, output_field=quantity))
          for unit, scale in TOKEN_UNITS.items()),
        default=Value(0, output_field=quantity),
        output_field=quantity,
    )


def daily_spend_refresh(*, earliest: datetime, latest: datetime) -> int:
    """Rebuild the DailySpend rows of every reporting day between two charge times.

    A charge counts on the reporting-time-zone day its charge period starts. Returns the
    number of rollup rows written.
    """
    tz = timezone.get_default_timezone()
    first_day = earliest.astimezone(tz).date()
    last_day = latest.astimezone(tz).date()
    window_start = datetime.combine(first_day, time.min, tzinfo=tz)
    window_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)
    money = DecimalField(max_digits=24, decimal_places=10)
    quantity = DecimalField(max_digits=28, decimal_places=10)
    groups = (
        CostRecord.objects.filter(charge_period_start__gte=window_start, charge_period_start__lt=window_end)
        .annotate(day=TruncDate("charge_period_start", tzinfo=tz))
        .values("day", "workload_id", "workload__team_id", *ROLLUP_DIMENSIONS)
        .annotate(
            billed=Sum("billed_cost"),
            effective=Sum("effective_cost"),
            listed=Coalesce(Sum("list_cost"), Value(0, output_field=money)),
            managed_premium=Sum(F("effective_cost") * F("managed_premium_share"), output_field=money),
            tokens=Coalesce(Sum(_tokens(quantity)), Value(0, output_field=quantity)),
            records=Count("id"),
        )
        .order_by()
    )
    with transaction.atomic():
        DailySpend.objects.filter(day__gte=first_day, day__lte=last_day).delete()
        rollups = DailySpend.objects.bulk_create(
            (
                DailySpend(
                    day=group["day"],
                    workload_id=group["workload_id"],
                    team_id=group["workload__team_id"],
                    billed_cost=group["billed"],
                    effective_cost=group["effective"],
                    list_cost=group["listed"],
                    managed_premium=group["managed_premium"],
                    tokens=group["tokens"],
                    record_count=group["records"],
                    **{name: group[name] for name in ROLLUP_DIMENSIONS},
                )
                for group in groups.iterator(chunk_size=5000)
            ),
            batch_size=2000,
        )
    return len(rollups)
