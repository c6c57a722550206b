"""Writes canonical cost batches into CostRecord, replacing the billing periods they restate.

The caller holds the transaction: either every row of a delivery lands and the periods it
restates are replaced, or nothing changes. Rows are written by `ingest.table_writer`, already
allocated to workloads and classified into TCO categories (`LoadTimeRules`), so no UPDATE pass
over the new rows follows.
"""

import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection

from finops.models import CostRecord, LoadedBillingPeriod
from finops.services.allocation import AllocationMatcher, allocation_matcher_read
from finops.services.rollups import (
    RESOURCE_DIMENSIONS,
    ROLLUP_DIMENSIONS,
    PresummedSpend,
    ResourceDaySums,
    SpendSums,
    reporting_day,
    token_scale,
)
from finops.services.tco import UNCLASSIFIED_OUTCOME, TcoClassifier, TcoOutcome, tco_classifier_read
from ingest.distinct_values import IntegerKeyMemo, per_distinct
from ingest.locks import advisory_lock_key
from ingest.schema import COST_SCHEMA
from ingest.table_writer import TableAppender

PERIOD_KEY = ("provider_name", "billing_account_id", "billing_period_start")
Period = tuple[str, str, datetime]
# Matches CostRecord.managed_premium_share, numeric(7, 6).
SHARE = pa.decimal128(7, 6)
# Columns the loader adds to a reader's batch, in this order, before writing it.
RUN_COLUMNS = ("ingest_run_id", "workload_id", "tco_category", "is_gpu", "managed_premium_share")
# Batches the reader thread may have ready ahead of the writer: a few MB.
READ_AHEAD_BATCHES = 4
# Outcomes remembered per distinct combination of the columns rules read; beyond this many the
# memory is given back and outcomes are computed afresh.
REMEMBERED_OUTCOMES = 100_000
# Rows whose rollup columns are kept before they are summed: Arrow sums them in one pass, and a
# decimal128(38, 10) sum of this many amounts cannot overflow. 32,768 held ~15 MB more at the
# ingest's peak than 8,192, for ~0.1 s less CPU per 300,000 rows.
SPEND_SUMMED_ROWS = 8_192


class RunSpendSums:
    """The DailySpend sums of the rows a run writes, and the DailyResourceSpend sums of its GPU
    rows, computed from the batches as they are written (exactly what `daily_spend_refresh`
    would sum in SQL), so the refresh at the end of the run need not aggregate the run's rows
    again."""

    # What one DailySpend row is per, plus what its premium and tokens are computed from: the
    # premium is share x effective cost and tokens scale x quantity, summed per share and scale.
    GROUP_KEYS = ("day", "workload_id", *ROLLUP_DIMENSIONS, "token_scale", "managed_premium_share")
    GPU_RESOURCE_KEYS = ("day", "workload_id", *RESOURCE_DIMENSIONS)

    def __init__(self) -> None:
        self.sums: dict[tuple, SpendSums] = {}
        self.gpu_resources = ResourceDaySums()
        self._pending: list[pa.Table] = []
        self._gpu_pending: list[pa.Table] = []
        self._pending_rows = 0
        # A month of hourly charges has 744 start times, repeated batch after batch.
        self._days = IntegerKeyMemo(_reporting_days, limit=REMEMBERED_OUTCOMES)
        self._scales: dict[str, int] = {}

    def add(self, batch: pa.RecordBatch) -> None:
        """Count in a batch as written: reader columns plus workload_id and the TCO columns."""
        columns = {
            "day": self._days.of(batch["charge_period_start"].cast(pa.int64()).to_numpy()),
            "workload_id": batch["workload_id"],
            **{name: batch[name] for name in ROLLUP_DIMENSIONS},
            "token_scale": per_distinct(
                batch["consumed_unit"], self._scales, token_scale, pa.int64(), limit=REMEMBERED_OUTCOMES
            ),
            **{name: batch[name] for name in ("managed_premium_share", "billed_cost", "effective_cost", "list_cost",
                                              "consumed_quantity")},
        }
        self._pending.append(pa.table(columns))
        if pc.any(batch["is_gpu"]).as_py():
            gpu = {name: columns[name] if name == "day" else batch[name] for name in self.GPU_RESOURCE_KEYS}
            gpu["effective_cost"] = batch["effective_cost"]
            self._gpu_pending.append(pa.table(gpu).filter(batch["is_gpu"]))
        self._pending_rows += batch.num_rows
        if self._pending_rows >= SPEND_SUMMED_ROWS:
            self._sum_pending()

    def presummed(self, *, ingest_run_id: int) -> PresummedSpend:
        self._sum_pending()
        return PresummedSpend(ingest_run_id=ingest_run_id, sums=self.sums, gpu_resources=self.gpu_resources)

    def _sum_pending(self) -> None:
        if not self._pending:
            return
        pending = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        summed = pending.group_by(list(self.GROUP_KEYS), use_threads=False).aggregate(
            [(name, "sum") for name in ("billed_cost", "effective_cost", "list_cost", "consumed_quantity")]
            + [([], "count_all")]
        )
        for group in summed.to_pylist():
            key = (group["day"], group["workload_id"], *(group[name] for name in ROLLUP_DIMENSIONS))
            effective, quantity = group["effective_cost_sum"], group["consumed_quantity_sum"]
            self.sums.setdefault(key, SpendSums()).add(
                billed=group["billed_cost_sum"],
                effective=effective,
                listed=group["list_cost_sum"] or Decimal(0),
                managed_premium=SpendSums.product(group["managed_premium_share"], effective),
                tokens=SpendSums.product(group["token_scale"], quantity) if quantity is not None else Decimal(0),
                records=group["count_all"],
            )
        if self._gpu_pending:
            gpu = pa.concat_tables(self._gpu_pending)
            self._gpu_pending = []
            summed = gpu.group_by(list(self.GPU_RESOURCE_KEYS), use_threads=False).aggregate(
                [("effective_cost", "sum")]
            )
            for group in summed.to_pylist():
                self.gpu_resources.add(tuple(group[name] for name in self.GPU_RESOURCE_KEYS), group["effective_cost_sum"])


def _reporting_days(micros: np.ndarray) -> pa.Array:
    days = [(reporting_day(_EPOCH + timedelta(microseconds=int(m))) - _EPOCH_DAY).days for m in micros]
    return pa.array(days, pa.int32()).view(pa.date32())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()


@dataclass
class LoadResult:
    rows_loaded: int = 0
    rows_replaced: int = 0
    total_billed_cost: Decimal = Decimal(0)
    total_effective_cost: Decimal = Decimal(0)
    # The billing periods loaded, each with the first and last charge start of its rows.
    periods: dict[Period, tuple[datetime, datetime]] = field(default_factory=dict)
    earliest_charge: datetime | None = None
    latest_charge: datetime | None = None
    spend: RunSpendSums = field(default_factory=RunSpendSums)

    def add(self, batch: pa.RecordBatch) -> set[Period]:
        """Count the batch in; returns the billing periods no earlier batch had."""
        self.rows_loaded += batch.num_rows
        self.total_billed_cost += pc.sum(batch["billed_cost"]).as_py() or 0
        self.total_effective_cost += pc.sum(batch["effective_cost"]).as_py() or 0
        spans = _period_spans(batch)
        new = spans.keys() - self.periods.keys()
        for period, (first, last) in spans.items():
            known = self.periods.get(period, (first, last))
            self.periods[period] = (min(known[0], first), max(known[1], last))
            self._widen(first, last)
        return set(new)

    def _widen(self, earliest: datetime | None, latest: datetime | None) -> None:
        if earliest is not None and (self.earliest_charge is None or earliest < self.earliest_charge):
            self.earliest_charge = earliest
        if latest is not None and (self.latest_charge is None or latest > self.latest_charge):
            self.latest_charge = latest


def _period_spans(batch: pa.RecordBatch) -> dict[Period, tuple[datetime, datetime]]:
    """The billing periods of a batch, each with the first and last charge start of its rows."""
    distinct = [pc.unique(batch[name]) for name in PERIOD_KEY]
    if all(len(values) == 1 for values in distinct):  # the usual batch: one account, one month
        charges = pc.min_max(batch["charge_period_start"]).as_py()
        return {tuple(values[0].as_py() for values in distinct): (charges["min"], charges["max"])}
    columns = [*PERIOD_KEY, "charge_period_start"]
    groups = pa.table([batch[name] for name in columns], names=columns).group_by(list(PERIOD_KEY)).aggregate(
        [("charge_period_start", "min"), ("charge_period_start", "max")]
    )
    return {
        tuple(row[name] for name in PERIOD_KEY): (row["charge_period_start_min"], row["charge_period_start_max"])
        for row in groups.to_pylist()
    }


def loaded_periods_record(*, run_id: int, result: LoadResult) -> None:
    """Record the billing periods the run loaded, once all its rows are written."""
    LoadedBillingPeriod.objects.bulk_create(
        LoadedBillingPeriod(
            ingest_run_id=run_id,
            provider_name=provider,
            billing_account_id=account,
            billing_period_start=start,
            first_charge_start=first,
            last_charge_start=last,
        )
        for (provider, account, start), (first, last) in sorted(result.periods.items())
    )


class LoadTimeRules:
    """The allocation and TCO rules of one run, read once, applied to each batch before it is
    written: the same outcome as `cost_records_allocate` and `cost_records_classify` would give
    the stored rows, without an UPDATE pass over them.

    Billing rows repeat the values rules read (tags, accounts, services, descriptions) row
    after row, so rules are evaluated once per distinct combination of those values, and the
    outcome is remembered for the rest of the run. A row whose TCO category only SQL can tell
    (see `TcoClassifier`) is written unclassified and sets `classify_in_sql`: the caller then
    classifies the run's rows in SQL.
    """

    def __init__(self, *, allocation: AllocationMatcher, tco: TcoClassifier):
        self.allocation = allocation
        self.tco = tco
        self.classify_in_sql = False
        # The columns either kind of rule reads, and per distinct combination of their values
        # (joined into one text) its workload and TCO outcome.
        self.columns = tuple(sorted({*allocation.columns, *tco.columns}))
        self._outcomes: dict[str, tuple[int | None, TcoOutcome | None]] = {}
        self._tags: dict[str, dict] = {}

    def outcome_columns(self, batch: pa.RecordBatch) -> list[pa.Array]:
        """workload_id, tco_category, is_gpu and managed_premium_share of each row."""
        combinations, combination_of_row = _combinations(batch, self.columns)
        if len(self._outcomes) > REMEMBERED_OUTCOMES:
            self._outcomes.clear()
        workloads, outcomes = [], []
        for combination in combinations:
            if combination not in self._outcomes:
                self._outcomes[combination] = self._decide(combination)
            workload_id, outcome = self._outcomes[combination]
            if outcome is None:
                self.classify_in_sql = True
                outcome = UNCLASSIFIED_OUTCOME
            workloads.append(workload_id)
            outcomes.append(outcome)
        return [
            pa.array(workloads, pa.int64()).take(combination_of_row),
            pa.array([o.category for o in outcomes], pa.string()).take(combination_of_row),
            pa.array([o.is_gpu for o in outcomes], pa.bool_()).take(combination_of_row),
            pa.array([o.managed_premium_share for o in outcomes], SHARE).take(combination_of_row),
        ]

    def _decide(self, combination: str) -> tuple[int | None, TcoOutcome | None]:
        # No rule at all reads no column: the one combination is empty, not one empty value.
        values = combination.split(_SEPARATOR) if self.columns else []
        record: dict[str, object] = dict(zip(self.columns, values, strict=True))
        if "tags" in record:
            record["tags"] = self._parsed_tags(record["tags"] or "{}")
        return self.allocation.workload_id(record), self.tco.outcome(record)

    def _parsed_tags(self, text: str) -> dict:
        if text not in self._tags:
            if len(self._tags) > REMEMBERED_OUTCOMES:
                self._tags.clear()
            self._tags[text] = json.loads(text)  # the reader checked it is a JSON object
        return self._tags[text]


# Joins the values of one row's columns into one text. PostgreSQL text cannot hold NUL, so the
# readers reject it (ingest.readers.convert) and no value contains the separator.
_SEPARATOR = "\x00"


def _combinations(batch: pa.RecordBatch, columns: tuple[str, ...]) -> tuple[list[str], pa.Array]:
    """The distinct combinations of the values of `columns` in the batch, each joined by
    _SEPARATOR, and for each row the index of its combination."""
    if not columns:
        return [""], pa.nulls(batch.num_rows, pa.int32()).fill_null(0)
    values = [batch[name] if batch[name].null_count == 0 else pc.fill_null(batch[name], "") for name in columns]
    joined = values[0] if len(values) == 1 else pc.binary_join_element_wise(*values, _SEPARATOR)
    encoded = joined.dictionary_encode()
    return encoded.dictionary.to_pylist(), encoded.indices


def load_time_rules_read() -> LoadTimeRules:
    return LoadTimeRules(allocation=allocation_matcher_read(), tco=tco_classifier_read())


def cost_batches_write(
    *,
    run_id: int,
    batches: Iterable[pa.RecordBatch],
    result: LoadResult,
    rules: LoadTimeRules,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Append batches to CostRecord under `run_id`, allocated and classified by `rules`,
    accumulating totals and periods. The first time a billing period appears, what earlier
    runs loaded for it is deleted, before any of this run's rows of that period are written."""
    columns = [*COST_SCHEMA.names, *RUN_COLUMNS]
    appender = TableAppender(table=CostRecord._meta.db_table, columns=columns)
    with appender, closing(read_ahead(batches)) as read:
        for batch in read:
            assert batch.schema.equals(COST_SCHEMA), "readers must yield COST_SCHEMA batches"
            if restated := result.add(batch):
                appender.pause()
                for period in sorted(restated):
                    _period_replace(run_id=run_id, period=period, result=result)
            run = pa.array(np.full(batch.num_rows, run_id, dtype=np.int64))
            written = pa.RecordBatch.from_arrays([*batch.columns, run, *rules.outcome_columns(batch)], names=columns)
            appender.append(written)
            result.spend.add(written)
            if progress:
                progress(result.rows_loaded)


def _period_replace(*, run_id: int, period: Period, result: LoadResult) -> None:
    """Drop what earlier runs loaded for one billing period. This run has written none of its
    rows of the period yet, so only rows that go are found."""
    provider, account, start = period
    if connection.vendor == "postgresql":
        # Two loads restating the same period at once (two files, two workers) would each delete
        # only what was committed before them and both keep their rows: the second waits here
        # for the first to commit, then deletes its rows. Released when the transaction ends.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_key("period", provider, account, start)])
    same_period = {"provider_name": provider, "billing_account_id": account, "billing_period_start": start}
    earlier_loads = LoadedBillingPeriod.objects.filter(**same_period).exclude(ingest_run_id=run_id)
    earlier = list(earlier_loads.values_list("ingest_run_id", "first_charge_start", "last_charge_start"))
    if not earlier:
        return
    # The rollup refresh must also cover days that only the replaced rows touched.
    result._widen(min(first for _, first, _ in earlier), max(last for *_, last in earlier))
    records = CostRecord.objects.filter(ingest_run_id__in=[run for run, *_ in earlier], **same_period)
    result.rows_replaced += records.delete()[0]
    earlier_loads.delete()


class _ReaderFailed:
    def __init__(self, error: BaseException):
        self.error = error


_END_OF_BATCHES = object()


def read_ahead(batches: Iterable[pa.RecordBatch], *, depth: int = READ_AHEAD_BATCHES) -> Iterator[pa.RecordBatch]:
    """`batches`, produced by a thread of their own up to `depth` batches ahead.

    Parsing and converting the next batch (Arrow kernels, which release the GIL) then overlaps
    with what the caller does with the current one. Whatever the reader raises is raised here,
    in the caller's thread; when the caller stops early (an error, or closing this generator),
    the thread stops after the batch it is reading and closes the reader itself, as a generator
    must be closed by the thread running it.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        items = iter(batches)
        try:
            for batch in items:
                if not hand_over(batch):
                    return
            hand_over(_END_OF_BATCHES)
        except BaseException as error:  # handed to the caller's thread, which raises it
            hand_over(_ReaderFailed(error))
        finally:
            if close := getattr(items, "close", None):
                close()

    producer = threading.Thread(target=produce, name="billing-reader", daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not _END_OF_BATCHES:
            if isinstance(item, _ReaderFailed):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join()
