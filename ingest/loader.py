"""Writes canonical cost batches into CostRecord, replacing the billing periods they restate.

The caller holds the transaction: either every row of a delivery lands and the periods it
restates are replaced, or nothing changes. Rows are written by `ingest.table_writer`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_

import pyarrow as pa
import pyarrow.compute as pc
from django.db.models import Max, Min, Q

from finops.models import CostRecord
from ingest.schema import COST_SCHEMA
from ingest.table_writer import arrow_batch_insert, with_constant

PERIOD_KEY = ("provider_name", "billing_account_id", "billing_period_start")


@dataclass
class LoadResult:
    rows_loaded: int = 0
    rows_replaced: int = 0
    total_billed_cost: Decimal = Decimal(0)
    total_effective_cost: Decimal = Decimal(0)
    periods: set[tuple[str, str, datetime]] = field(default_factory=set)
    earliest_charge: datetime | None = None
    latest_charge: datetime | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows_loaded += batch.num_rows
        self.total_billed_cost += pc.sum(batch["billed_cost"]).as_py() or 0
        self.total_effective_cost += pc.sum(batch["effective_cost"]).as_py() or 0
        keys = pa.table([batch[name] for name in PERIOD_KEY], names=list(PERIOD_KEY))
        for row in keys.group_by(list(PERIOD_KEY)).aggregate([]).to_pylist():
            self.periods.add(tuple(row[name] for name in PERIOD_KEY))
        self._widen(pc.min(batch["charge_period_start"]).as_py(), pc.max(batch["charge_period_start"]).as_py())

    def _widen(self, earliest: datetime | None, latest: datetime | None) -> None:
        if earliest is not None and (self.earliest_charge is None or earliest < self.earliest_charge):
            self.earliest_charge = earliest
        if latest is not None and (self.latest_charge is None or latest > self.latest_charge):
            self.latest_charge = latest


def cost_batches_write(
    *, run_id: int, batches: Iterable[pa.RecordBatch], result: LoadResult, progress: Callable[[int], None] | None = None
) -> None:
    """Append batches to CostRecord under `run_id`, accumulating totals and periods."""
    for batch in batches:
        assert batch.schema.equals(COST_SCHEMA), "readers must yield COST_SCHEMA batches"
        arrow_batch_insert(table=CostRecord._meta.db_table, batch=with_constant(batch, "ingest_run_id", run_id))
        result.add(batch)
        if progress:
            progress(result.rows_loaded)


def cost_periods_replace(*, run_id: int, result: LoadResult) -> None:
    """Drop what earlier runs loaded for the periods this run restates."""
    if not result.periods:
        return
    restated = reduce(
        or_,
        (Q(provider_name=p, billing_account_id=a, billing_period_start=s) for p, a, s in result.periods),
    )
    earlier = CostRecord.objects.filter(restated).exclude(ingest_run_id=run_id)
    span = earlier.aggregate(earliest=Min("charge_period_start"), latest=Max("charge_period_start"))
    # The rollup refresh must also cover days that only the replaced rows touched.
    result._widen(span["earliest"], span["latest"])
    result.rows_replaced = earlier.delete()[0]
