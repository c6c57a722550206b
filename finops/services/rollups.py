from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Context, Decimal

import pyarrow as pa
from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, Max, Min, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, Upper
from django.db.models.lookups import In
from django.utils import timezone

from finops.models import CostRecord, DailyResourceSpend, DailySpend, LoadedBillingPeriod, Workload
from finops.models.costs import MONEY
from ingest.table_writer import arrow_batch_insert

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
# Spellings compared as SQL's UPPER(consumed_unit) compares them, case-insensitively.
_TOKEN_SCALES = {unit.upper(): scale for unit, scale in TOKEN_UNITS.items()}
# Sums of money and quantities must never round: wide enough for any numeric(28, 10) total.
_EXACT = Context(prec=100)


def token_scale(consumed_unit: str) -> int:
    """How many tokens one unit of `consumed_unit` is; 0 for units that are not tokens."""
    return _TOKEN_SCALES.get(consumed_unit.upper(), 0)


def reporting_day(moment: datetime) -> date:
    """The reporting-time-zone day a charge counts on."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def _tokens(quantity: DecimalField) -> Case:
    by_scale: dict[int, list[str]] = {}
    for unit, scale in _TOKEN_SCALES.items():
        by_scale.setdefault(scale, []).append(unit)
    return Case(
        *(When(In(Upper("consumed_unit"), units), then=F("consumed_quantity") * Value(scale, output_field=quantity))
          for scale, units in by_scale.items()),
        default=Value(0, output_field=quantity),
        output_field=quantity,
    )


@dataclass
class SpendSums:
    """What DailySpend holds for one group of cost records, summed exactly."""

    billed: Decimal = Decimal(0)
    effective: Decimal = Decimal(0)
    listed: Decimal = Decimal(0)
    managed_premium: Decimal = Decimal(0)
    tokens: Decimal = Decimal(0)
    records: int = 0

    def add(self, *, billed: Decimal, effective: Decimal, listed: Decimal, managed_premium: Decimal,
            tokens: Decimal, records: int) -> None:
        self.billed = _EXACT.add(self.billed, billed)
        self.effective = _EXACT.add(self.effective, effective)
        self.listed = _EXACT.add(self.listed, listed)
        self.managed_premium = _EXACT.add(self.managed_premium, managed_premium)
        self.tokens = _EXACT.add(self.tokens, tokens)
        self.records += records

    @staticmethod
    def product(factor: Decimal | int, amount: Decimal) -> Decimal:
        return _EXACT.multiply(Decimal(factor), amount)

    @staticmethod
    def total(amount: Decimal, more: Decimal) -> Decimal:
        return _EXACT.add(amount, more)


# (day, workload_id, *ROLLUP_DIMENSIONS): one DailySpend row.
RollupKey = tuple
# What one DailyResourceSpend row is per, besides its day and workload.
RESOURCE_DIMENSIONS = ("resource_id", "resource_name", "provider_name", "service_name", "billing_currency")
# (day, workload_id, *RESOURCE_DIMENSIONS): one DailyResourceSpend row.
ResourceKey = tuple


@dataclass(frozen=True)
class PresummedSpend:
    """The DailySpend sums of every cost record of one ingest run, and the effective cost of its
    GPU records (is_gpu) per DailyResourceSpend row, computed while the loader wrote them, so
    the refresh need not aggregate those rows again in SQL."""

    ingest_run_id: int
    sums: Mapping[RollupKey, SpendSums]
    gpu_resources: "ResourceDaySums"


def daily_spend_refresh(*, earliest: datetime, latest: datetime, presummed: PresummedSpend | None = None) -> int:
    """Rebuild the DailySpend and DailyResourceSpend rows of every reporting day between two
    charge times.

    A charge counts on the reporting-time-zone day its charge period starts. With `presummed`,
    the rows of that ingest run are counted by their sums (which must cover all of them) and
    only the other rows of those days are aggregated in SQL, found through the periods other
    runs loaded (LoadedBillingPeriod, which the loader keeps for every run). Returns the number
    of DailySpend rows written.
    """
    first_day, last_day = reporting_day(earliest), reporting_day(latest)
    tz = timezone.get_default_timezone()
    window_start = datetime.combine(first_day, time.min, tzinfo=tz)
    window_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)
    money = DecimalField(max_digits=24, decimal_places=10)
    quantity = DecimalField(max_digits=28, decimal_places=10)
    records = CostRecord.objects.filter(charge_period_start__gte=window_start, charge_period_start__lt=window_end)
    if presummed is not None:
        # Only other runs' rows are aggregated here: those whose loaded periods have charges
        # in the window. Usually there are none (a month's first bill, a single account's
        # restatement) and nothing is read; otherwise the run index skips this run's rows,
        # which a scan of the window would read only to exclude them (~1 s per million).
        overlapping = LoadedBillingPeriod.objects.filter(
            first_charge_start__lt=window_end, last_charge_start__gte=window_start
        ).exclude(ingest_run_id=presummed.ingest_run_id)
        records = records.filter(ingest_run_id__in=sorted(set(overlapping.values_list("ingest_run_id", flat=True))))
    groups = (
        records.annotate(day=TruncDate("charge_period_start", tzinfo=tz))
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
    other_gpu_days: set[date] = set()
    with transaction.atomic():
        DailySpend.objects.filter(day__gte=first_day, day__lte=last_day).delete()
        rollups = DailySpend.objects.bulk_create(
            (
                DailySpend(
                    day=key[0],
                    workload_id=key[1],
                    team_id=team_id,
                    billed_cost=sums.billed,
                    effective_cost=sums.effective,
                    list_cost=sums.listed,
                    managed_premium=sums.managed_premium,
                    tokens=sums.tokens,
                    record_count=sums.records,
                    **dict(zip(ROLLUP_DIMENSIONS, key[2:], strict=True)),
                )
                for key, team_id, sums in _merged(groups.iterator(chunk_size=5000), presummed, other_gpu_days)
            ),
            batch_size=2000,
        )
        if presummed is not None:
            # Only days where other runs have GPU records (the SQL groups just read tell which)
            # need them read again; a fresh bill's GPU records are all presummed.
            if other_gpu_days:
                first_gpu_day, last_gpu_day = min(other_gpu_days), max(other_gpu_days)
                records = records.filter(
                    charge_period_start__gte=datetime.combine(first_gpu_day, time.min, tzinfo=tz),
                    charge_period_start__lt=datetime.combine(last_gpu_day + timedelta(days=1), time.min, tzinfo=tz),
                )
            else:
                records = records.none()
        _resource_spend_refresh(records, first_day=first_day, last_day=last_day, presummed=presummed)
    return len(rollups)


def daily_spend_rebuild() -> int:
    """Rebuild every DailySpend row from the cost records in one transaction, e.g. after
    REPORTING_TIME_ZONE changed (which moves every charge's reporting day)."""
    span = CostRecord.objects.aggregate(first=Min("charge_period_start"), last=Max("charge_period_start"))
    with transaction.atomic():
        DailySpend.objects.all().delete()
        DailyResourceSpend.objects.all().delete()
        if span["first"] is None:
            return 0
        return daily_spend_refresh(earliest=span["first"], latest=span["last"])


def _resource_spend_refresh(
    records: QuerySet[CostRecord], *, first_day: date, last_day: date, presummed: PresummedSpend | None
) -> None:
    """Rebuild the DailyResourceSpend rows of these days: the GPU records among `records`
    aggregated in SQL, plus the presummed ones (taken out of `presummed.gpu_resources` as they
    are merged: the refresh consumes them)."""
    DailyResourceSpend.objects.filter(day__gte=first_day, day__lte=last_day).delete()
    groups = (
        records.filter(is_gpu=True)
        .annotate(day=TruncDate("charge_period_start", tzinfo=timezone.get_default_timezone()))
        .values("day", "workload_id", "workload__team_id", *RESOURCE_DIMENSIONS)
        .annotate(effective=Sum("effective_cost"))
        .order_by()
    )
    pending = presummed.gpu_resources if presummed else ResourceDaySums()
    rows = []
    for group in groups.iterator(chunk_size=5000):
        key = (group["day"], group["workload_id"], *(group[name] for name in RESOURCE_DIMENSIONS))
        effective = group["effective"]
        if (ours := pending.pop(key)) is not None:
            effective = SpendSums.total(effective, ours)
        rows.append((key, group["workload__team_id"], effective))
        if len(rows) == RESOURCE_ROWS_WRITTEN:
            _resource_rows_write(rows)
            rows = []
    teams = dict(Workload.objects.filter(pk__in=pending.workload_ids() - {None}).values_list("pk", "team_id"))
    for key, effective in pending.items():
        rows.append((key, teams.get(key[1]), effective))
        if len(rows) == RESOURCE_ROWS_WRITTEN:
            _resource_rows_write(rows)
            rows = []
    if rows:
        _resource_rows_write(rows)


# DailyResourceSpend rows are a row per GPU instance and day (26k for a month of 840
# instances, 79k for a 3M-row bill): written as Arrow batches of this many (COPY on
# PostgreSQL; bulk_create spent over a second preparing them), so memory stays bounded.
RESOURCE_ROWS_WRITTEN = 10_000


def _resource_rows_write(rows: list[tuple[ResourceKey, int | None, Decimal]]) -> None:
    keys, team_ids, amounts = zip(*rows, strict=True)
    columns = {
        "day": pa.array([key[0] for key in keys], pa.date32()),
        "workload_id": pa.array([key[1] for key in keys], pa.int64()),
        "team_id": pa.array(team_ids, pa.int64()),
        **{name: pa.array([key[2 + i] for key in keys], pa.string()) for i, name in enumerate(RESOURCE_DIMENSIONS)},
        "effective_cost": pa.array(amounts, pa.decimal128(MONEY["max_digits"], MONEY["decimal_places"])),
    }
    arrow_batch_insert(table=DailyResourceSpend._meta.db_table, batch=pa.RecordBatch.from_pydict(columns))


class ResourceDaySums:
    """Effective cost per (day, workload_id, *RESOURCE_DIMENSIONS), held compactly: a bill has
    a key per GPU instance and day (79,000 for a 3M-row month), and as tuples of texts with
    Decimals they took ~60 MB, which pushed a large ingest's peak memory past 350 MB. Here each
    resource's texts are kept once, a key is (day, workload id, resource index) and an amount
    an int of 1e-10 units (what numeric(24, 10) stores): exact, and about a third of the memory
    (3M-row bill's peak 358 -> 309 MB)."""

    def __init__(self) -> None:
        self._resource_index: dict[tuple, int] = {}
        self._resources: list[tuple] = []
        self._units: dict[tuple[date, int | None, int], int] = {}

    def __len__(self) -> int:
        return len(self._units)

    def add(self, key: ResourceKey, effective: Decimal) -> None:
        day, workload_id, *resource = key
        index = self._resource_index.setdefault(tuple(resource), len(self._resources))
        if index == len(self._resources):
            self._resources.append(tuple(resource))
        compact = (day, workload_id, index)
        self._units[compact] = self._units.get(compact, 0) + _units(effective)

    def pop(self, key: ResourceKey) -> Decimal | None:
        """The sum of `key`, taken out (None if it has none)."""
        day, workload_id, *resource = key
        index = self._resource_index.get(tuple(resource))
        units = None if index is None else self._units.pop((day, workload_id, index), None)
        return None if units is None else _EXACT.scaleb(Decimal(units), -MONEY["decimal_places"])

    def workload_ids(self) -> set[int | None]:
        return {workload_id for _, workload_id, _ in self._units}

    def items(self) -> Iterator[tuple[ResourceKey, Decimal]]:
        for (day, workload_id, index), units in self._units.items():
            yield (day, workload_id, *self._resources[index]), _EXACT.scaleb(Decimal(units), -MONEY["decimal_places"])


def _units(amount: Decimal) -> int:
    """An amount with at most MONEY's decimal places as an int of its smallest unit, exactly."""
    units = _EXACT.scaleb(amount, MONEY["decimal_places"])
    if units != units.to_integral_value():
        raise ValueError(f"{amount} has more than {MONEY['decimal_places']} decimal places")
    return int(units)


def _merged(
    groups: Iterator[dict], presummed: PresummedSpend | None, gpu_days: set[date]
) -> Iterator[tuple[RollupKey, int | None, SpendSums]]:
    """The SQL groups, each added to the presummed group of the same key, then the presummed
    groups no SQL group had (their team read from their workload, as the SQL join does).
    Collects the days of the SQL groups of GPU records into `gpu_days`."""
    pending = dict(presummed.sums) if presummed else {}
    for group in groups:
        if group["is_gpu"]:
            gpu_days.add(group["day"])
        key = (group["day"], group["workload_id"], *(group[name] for name in ROLLUP_DIMENSIONS))
        sums = SpendSums(
            billed=group["billed"],
            effective=group["effective"],
            listed=group["listed"],
            managed_premium=group["managed_premium"],
            tokens=group["tokens"],
            records=group["records"],
        )
        if (ours := pending.pop(key, None)) is not None:
            sums.add(billed=ours.billed, effective=ours.effective, listed=ours.listed,
                     managed_premium=ours.managed_premium, tokens=ours.tokens, records=ours.records)
        yield key, group["workload__team_id"], sums
    workloads = {key[1] for key in pending} - {None}
    teams = dict(Workload.objects.filter(pk__in=workloads).values_list("pk", "team_id"))
    for key, sums in pending.items():
        yield key, teams.get(key[1]), sums
