"""Writes canonical cost batches into CostRecord, replacing the billing periods they restate.

The caller holds the transaction: either every row of a file lands and the periods it
restates are replaced, or nothing changes. PostgreSQL gets COPY (the one Postgres-only seam);
other databases get batched parameterised INSERTs through the same connection.
"""

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection
from django.db.models import Max, Min, Q

from finops.models import CostRecord
from ingest.schema import COST_COLUMN_NAMES, COST_SCHEMA, MONEY, QUANTITY, TIMESTAMP

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
    write = _copy_batch if connection.vendor == "postgresql" else _insert_batch
    for batch in batches:
        assert batch.schema.equals(COST_SCHEMA), "readers must yield COST_SCHEMA batches"
        write(batch, run_id)
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


# --- writers ------------------------------------------------------------------------------

_TABLE = CostRecord._meta.db_table
_DB_COLUMNS = (*COST_COLUMN_NAMES, "ingest_run_id")


def _copy_batch(batch: pa.RecordBatch, run_id: int) -> None:
    with_run = batch.append_column("ingest_run_id", pa.array([run_id] * batch.num_rows, pa.int64()))
    buffer = io.BytesIO()
    # Strings are always quoted by pyarrow, so "" stays an empty string and an absent
    # value (written unquoted and empty) becomes NULL under COPY's CSV rules.
    pacsv.write_csv(with_run, buffer, pacsv.WriteOptions(include_header=False))
    columns = ", ".join(connection.ops.quote_name(c) for c in _DB_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(_TABLE)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())


def _insert_batch(batch: pa.RecordBatch, run_id: int) -> None:
    adapters = [_adapter(COST_SCHEMA.field(name).type) for name in COST_COLUMN_NAMES]
    columns = [batch[name].to_pylist() for name in COST_COLUMN_NAMES]
    rows = [
        (*(adapt(value) for adapt, value in zip(adapters, values, strict=True)), run_id)
        for values in zip(*columns, strict=True)
    ]
    placeholders = ", ".join(["%s"] * len(_DB_COLUMNS))
    names = ", ".join(connection.ops.quote_name(c) for c in _DB_COLUMNS)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {connection.ops.quote_name(_TABLE)} ({names}) VALUES ({placeholders})", rows
        )


def _adapter(arrow_type: pa.DataType) -> Callable:
    ops = connection.ops
    if arrow_type == TIMESTAMP:
        return ops.adapt_datetimefield_value
    if arrow_type in (MONEY, QUANTITY):
        return lambda value: ops.adapt_decimalfield_value(value, arrow_type.precision, arrow_type.scale)
    return lambda value: value
