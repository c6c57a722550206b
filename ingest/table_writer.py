"""Appends Arrow record batches to a database table whose columns are the batch's fields.

The one Postgres-only seam of ingestion: PostgreSQL gets COPY through psycopg 3 (fed each batch
as CSV, about 1 MB at a time), every other database batched parameterised INSERTs through the
same Django connection. The caller owns the transaction.
"""

import queue
import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection
from psycopg.copy import LibpqWriter

from ingest.distinct_values import IntegerKeyMemo

# Distinct timestamps whose text an appender remembers (a year of hourly charges is 8,760).
REMEMBERED_TIMESTAMPS = 100_000
# Blocks of COPY data (one appended batch each, about 1 MB) queued for the sending thread.
QUEUED_BLOCKS = 4


def arrow_batch_insert(*, table: str, batch: pa.RecordBatch) -> None:
    """Append one batch (one COPY statement on PostgreSQL)."""
    with TableAppender(table=table, columns=batch.schema.names, timestamps_repeat=False) as appender:
        appender.append(batch)


def with_constant(batch: pa.RecordBatch, name: str, value: int) -> pa.RecordBatch:
    """The batch plus a column holding one integer (a foreign key such as ingest_run_id)."""
    return batch.append_column(name, pa.array([value] * batch.num_rows, pa.int64()))


class TableAppender:
    """Appends batches with the given columns to `table`, on PostgreSQL through one COPY
    statement for as long as the appender is open.

    One COPY keeps the server loading rows while the caller prepares the next batch: the data
    waits in the socket's buffers, whereas a COPY per batch ends with a round trip that leaves
    one side idle. While a COPY runs the connection can do nothing else, so `pause()` ends it
    (the next `append` starts another) for the caller to run other statements in between.
    Leaving the `with` block on an exception aborts the COPY, so PostgreSQL keeps none of its
    rows.

    `timestamps_repeat`: the batches repeat a limited set of timestamps (billing rows: the hours
    of a month), so each distinct one is rendered as text once. Mostly distinct timestamps (GPU
    samples) are rendered faster one by one.
    """

    def __init__(self, *, table: str, columns: list[str], timestamps_repeat: bool = True):
        self.table = table
        self.columns = list(columns)
        self.timestamps_repeat = timestamps_repeat
        self._cursor = None
        self._copying = None  # the context manager psycopg's cursor.copy() returns
        self._copy = None
        self._timestamp_text: dict[str, IntegerKeyMemo] = {}

    def __enter__(self) -> "TableAppender":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self._end(exc_type, exc, traceback)

    def append(self, batch: pa.RecordBatch) -> None:
        assert batch.schema.names == self.columns, "every batch must have the appender's columns"
        if connection.vendor != "postgresql":
            _insert(self.table, batch)
            return
        if self._copy is None:
            self._start()
        self._copy.write(self._csv(batch))

    def pause(self) -> None:
        self._end(None, None, None)

    def _start(self) -> None:
        names = ", ".join(connection.ops.quote_name(name) for name in self.columns)
        statement = f"COPY {connection.ops.quote_name(self.table)} ({names}) FROM STDIN WITH (FORMAT csv)"
        self._cursor = connection.cursor()
        raw_cursor = self._cursor.cursor
        copying = raw_cursor.copy(statement, writer=BackgroundCopyWriter(raw_cursor, queued_blocks=QUEUED_BLOCKS))
        self._copy = copying.__enter__()
        self._copying = copying

    def _end(self, exc_type, exc, traceback) -> None:
        copying, cursor = self._copying, self._cursor
        self._copying = self._copy = self._cursor = None
        try:
            if copying is not None:
                copying.__exit__(exc_type, exc, traceback)
        finally:
            if cursor is not None:
                cursor.close()


    def _csv(self, batch: pa.RecordBatch) -> memoryview:
        # An Arrow buffer rather than io.BytesIO: the writer then never calls back into Python,
        # so it runs without the GIL, beside the reader thread.
        sink = pa.BufferOutputStream()
        # Strings are always quoted by pyarrow, so "" stays an empty string and an absent
        # value (written unquoted and empty) becomes NULL under COPY's CSV rules.
        pacsv.write_csv(self._utc_timestamps_as_text(batch), sink, pacsv.WriteOptions(include_header=False))
        return memoryview(sink.getvalue())

    def _utc_timestamps_as_text(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Zone-aware timestamps rendered by the CSV writer cost ~85% of its time; the values
        are UTC already, so they are rendered zone-less with the offset PostgreSQL reads
        appended."""
        columns = []
        for field, column in zip(batch.schema, batch.columns, strict=True):
            repeated = self.timestamps_repeat and column.null_count == 0
            if pa.types.is_timestamp(field.type) and field.type.tz is not None and repeated:
                if field.name not in self._timestamp_text:
                    render = _utc_text_of(field.type.unit)
                    self._timestamp_text[field.name] = IntegerKeyMemo(render, limit=REMEMBERED_TIMESTAMPS)
                column = self._timestamp_text[field.name].of(column.cast(pa.int64()).to_numpy())
            elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
                column = _utc_text(column)
            columns.append(column)
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class BackgroundCopyWriter(LibpqWriter):
    """Sends COPY data from a thread of its own, so PostgreSQL loads one block while the caller
    prepares the next.

    psycopg's own writer sends in the caller's thread and returns once about 1 MB waits in the
    socket, which PostgreSQL drains in a fraction of the time the caller takes to render the
    next batch: ~40% of the server's time went idle. psycopg's QueuedLibpqWriter sends from a
    thread too, but queues up to 1,024 blocks, and the server is the slower side here, so its
    queue would fill: up to 128 MB. This one queues `queued_blocks` blocks, then `write` waits.
    """

    def __init__(self, cursor, *, queued_blocks: int):
        super().__init__(cursor)
        self._blocks: queue.Queue = queue.Queue(maxsize=queued_blocks)
        self._error: BaseException | None = None
        self._sender = threading.Thread(target=self._send, name="copy-sender", daemon=True)
        self._sender.start()

    def write(self, data) -> None:
        if self._error is not None:
            raise self._error
        self._blocks.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        self._blocks.put(None)
        self._sender.join()
        if self._error is not None:
            raise self._error
        super().finish(exc)

    def _send(self) -> None:
        try:
            while (data := self._blocks.get()) is not None:
                super().write(data)
        except BaseException as error:  # raised in the caller's thread by its next write or finish
            self._error = error
            while self._blocks.get() is not None:  # keep taking blocks, or the caller blocks forever
                pass


def _utc_text_of(unit: str) -> Callable[[np.ndarray], pa.Array]:
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]

    def render(values: np.ndarray) -> pa.Array:
        # Bills charge by the hour: whole seconds are written without ".000000", text
        # PostgreSQL parses a little faster.
        if per_second > 1 and not (values % per_second).any():
            return _utc_text(pa.array(values // per_second, pa.int64()).view(pa.timestamp("s", tz="UTC")))
        return _utc_text(pa.array(values, pa.int64()).view(pa.timestamp(unit, tz="UTC")))

    return render


def _utc_text(column: pa.Array) -> pa.Array:
    naive = column.cast(pa.timestamp(column.type.unit, tz="UTC")).cast(pa.timestamp(column.type.unit))
    return pc.binary_join_element_wise(pc.cast(naive, pa.string()), pa.scalar("+00"), "")


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
