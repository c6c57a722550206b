"""Appends Arrow record batches to a database table whose columns are the batch's fields.

The one Postgres-only seam of ingestion: PostgreSQL gets COPY through psycopg 3 (fed the batch
as CSV, about 1 MB at a time), every other database batched parameterised INSERTs through the
same Django connection. The caller owns the transaction.
"""

import io
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection


def arrow_batch_insert(*, table: str, batch: pa.RecordBatch) -> None:
    if connection.vendor == "postgresql":
        _copy(table, batch)
    else:
        _insert(table, batch)


def with_constant(batch: pa.RecordBatch, name: str, value: int) -> pa.RecordBatch:
    """The batch plus a column holding one integer (a foreign key such as ingest_run_id)."""
    return batch.append_column(name, pa.array([value] * batch.num_rows, pa.int64()))


def _copy(table: str, batch: pa.RecordBatch) -> None:
    batch = _utc_timestamps_as_text(batch)
    buffer = io.BytesIO()
    # Strings are always quoted by pyarrow, so "" stays an empty string and an absent
    # value (written unquoted and empty) becomes NULL under COPY's CSV rules.
    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
    columns = ", ".join(connection.ops.quote_name(name) for name in batch.schema.names)
    with connection.cursor() as cursor:
        statement = f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN WITH (FORMAT csv)"
        with cursor.cursor.copy(statement) as copy:
            copy.write(buffer.getbuffer())


def _utc_timestamps_as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Zone-aware timestamps rendered by the CSV writer cost ~85% of its time; the values are
    UTC already, so render them zone-less and append the offset PostgreSQL reads."""
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = pc.cast(column.cast(pa.timestamp(field.type.unit, tz="UTC")).cast(pa.timestamp(field.type.unit)), pa.string())
            column = pc.binary_join_element_wise(naive, pa.scalar("+00"), "")
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _insert(table: str, batch: pa.RecordBatch) -> None:
    adapters = [_adapter(field.type) for field in batch.schema]
    columns = [column.to_pylist() for column in batch.columns]
    rows = [
        tuple(adapt(value) for adapt, value in zip(adapters, values, strict=True))
        for values in zip(*columns, strict=True)
    ]
    names = ", ".join(connection.ops.quote_name(name) for name in batch.schema.names)
    placeholders = ", ".join(["%s"] * len(batch.schema.names))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({placeholders})", rows)


def _adapter(arrow_type: pa.DataType) -> Callable:
    ops = connection.ops
    if pa.types.is_timestamp(arrow_type):
        return ops.adapt_datetimefield_value
    if pa.types.is_decimal(arrow_type):
        return lambda value: ops.adapt_decimalfield_value(value, arrow_type.precision, arrow_type.scale)
    return lambda value: value
