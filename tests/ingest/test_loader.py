import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from django.db import transaction
from django.test import override_settings

from finops.models import Team
from finops.services.rollups import reporting_day
from ingest.distinct_values import IntegerKeyMemo, per_distinct
from ingest.errors import IngestError
from ingest.loader import _reporting_days, read_ahead
from ingest.table_writer import TableAppender

START = datetime(2026, 10, 1, tzinfo=UTC)


def teams(first: int, count: int) -> pa.RecordBatch:
    """Rows for finops_team, the simplest table with text and a timestamp."""
    numbers = range(first, first + count)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([f"Team {n}" for n in numbers]),
            pa.array([f"team-{n}" for n in numbers]),
            pa.array(["", 'quoted "text", with a comma\nand a line'] * (count // 2) + [""] * (count % 2)),
            pa.array(
                [START + timedelta(hours=n % 3, microseconds=n % 2) for n in numbers], pa.timestamp("us", tz="UTC")
            ),
        ],
        names=["name", "slug", "description", "created_at"],
    )


@pytest.mark.django_db
def test_an_appender_writes_every_row_exactly_across_pauses():
    with TableAppender(table=Team._meta.db_table, columns=teams(0, 1).schema.names) as appender:
        appender.append(teams(0, 5))
        appender.append(teams(5, 5))
        appender.pause()
        assert Team.objects.count() == 10  # the connection runs other statements between COPYs
        appender.append(teams(10, 5))

    stored = list(Team.objects.order_by("slug").values_list("slug", "description", "created_at"))
    assert len(stored) == 15
    one = START + timedelta(hours=1, microseconds=1)
    assert stored[1] == ("team-1", 'quoted "text", with a comma\nand a line', one)


@pytest.mark.django_db
def test_an_error_while_appending_keeps_no_row_and_leaves_the_connection_usable():
    with pytest.raises(ValueError), transaction.atomic():
        with TableAppender(table=Team._meta.db_table, columns=teams(0, 1).schema.names) as appender:
            appender.append(teams(0, 5))
            raise ValueError("the reader failed")

    assert Team.objects.count() == 0
    with TableAppender(table=Team._meta.db_table, columns=teams(0, 1).schema.names) as appender:
        appender.append(teams(0, 2))
    assert Team.objects.count() == 2


def numbered(count: int, produced: list[int] | None = None, closed_by: list[str] | None = None):
    try:
        for number in range(count):
            if produced is not None:
                produced.append(number)
            yield number
    finally:
        if closed_by is not None:
            closed_by.append(threading.current_thread().name)


def test_read_ahead_yields_every_batch_in_order():
    assert list(read_ahead(numbered(100), depth=3)) == list(range(100))


def test_read_ahead_raises_the_readers_error_in_the_callers_thread():
    def failing():
        yield from numbered(3)
        raise IngestError("not a valid number", source="bill.csv", line=4, column="BilledCost")

    received = []
    with pytest.raises(IngestError, match="bill.csv, line 4, column 'BilledCost'"):
        for item in read_ahead(failing()):
            received.append(item)
    assert received == [0, 1, 2]


def test_read_ahead_stops_the_reader_and_closes_it_in_its_own_thread_when_the_caller_stops():
    produced, closed_by = [], []
    with closing(read_ahead(numbered(1000, produced, closed_by), depth=2)) as items:
        assert next(items) == 0

    assert closed_by == ["billing-reader"]
    assert len(produced) <= 5  # the one handed over, the queue's two, one waiting to be queued


def test_the_integer_key_memo_computes_each_key_once_and_looks_the_rest_up():
    computed = []

    def compute(keys: np.ndarray) -> pa.Array:
        computed.extend(keys.tolist())
        return pa.array([f"<{key}>" for key in keys.tolist()])

    memo = IntegerKeyMemo(compute, limit=6)
    assert memo.of(np.array([5, 3, 5, 9])).to_pylist() == ["<5>", "<3>", "<5>", "<9>"]
    assert memo.of(np.array([9, 3, 4])).to_pylist() == ["<9>", "<3>", "<4>"]
    assert computed == [3, 5, 9, 4]
    # Beyond the limit the memo starts afresh, and still answers every key.
    assert memo.of(np.array([1, 2, 7, 9])).to_pylist() == ["<1>", "<2>", "<7>", "<9>"]
    assert computed == [3, 5, 9, 4, 1, 2, 7, 9]
    # A column of one repeated key (a billing period) computes it once too.
    assert memo.of(np.array([8, 8, 8])).to_pylist() == ["<8>"] * 3
    assert memo.of(np.array([7, 7])).to_pylist() == ["<7>"] * 2
    assert memo.of(np.array([], dtype=np.int64)).to_pylist() == []
    assert computed == [3, 5, 9, 4, 1, 2, 7, 9, 8]


@override_settings(TIME_ZONE="America/St_Johns")
def test_reporting_days_are_looked_up_per_distinct_time():
    rng = np.random.default_rng(7)
    memo = IntegerKeyMemo(_reporting_days, limit=50)
    for _ in range(10):
        micros = rng.integers(-10**15, 4 * 10**15, 40)
        micros[:10] = micros[0]
        times = pa.array(micros, pa.timestamp("us", tz="UTC")).to_pylist()
        assert memo.of(micros).to_pylist() == [reporting_day(moment) for moment in times]


def test_per_distinct_computes_each_value_once():
    remembered = {}
    calls = []

    def upper(value: str) -> str:
        calls.append(value)
        return value.upper()

    column = pa.array(["a", "b", "a", None, "b"])
    assert per_distinct(column, remembered, upper, pa.string(), limit=10).to_pylist() == ["A", "B", "A", None, "B"]
    assert per_distinct(pa.array(["b", "c"]), remembered, upper, pa.string(), limit=10).to_pylist() == ["B", "C"]
    assert calls == ["a", "b", "c"]
