"""The worker's database connection drops in the middle of a load (PostgreSQL restarted, a
failover, an administrator ending the session): the run is recorded FAILED with the error on a
fresh connection, the load's transaction leaves nothing behind, what was loaded before is
untouched, and loading the file again loads it exactly once."""

import re

import pytest
from django.db import connection
from django.db.models import Sum

from finops.models import CostRecord, IngestRun
from tests.faults.ingest_probes import (
    BIG_ROWS,
    SMALL_ROWS,
    assert_loaded_exactly_once,
    backend_alive,
    runs_of,
    send_ingest,
    wait_until_mid_copy,
)
from tests.workers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_connection_dropped_mid_copy_fails_the_run_and_keeps_the_earlier_load(workers, producer, exports):
    earlier = exports(rows=SMALL_ROWS, seed=31)
    restated = exports(rows=BIG_ROWS, seed=32)  # the same billing period, restated
    workers.start()
    send_ingest(producer, workers, earlier).get(timeout=120)
    assert_loaded_exactly_once(earlier)

    send_ingest(producer, workers, restated)
    dropped, copying_backend = wait_until_mid_copy()
    terminate(copying_backend)

    def recorded_failed():
        dropped.refresh_from_db()
        return dropped.status == IngestRun.Status.FAILED

    wait_until(recorded_failed, timeout=60, what="the run to be recorded FAILED")
    # What the worker saw depends on whether it was sending rows or reading the server's reply.
    lost = r"(OperationalError|AdminShutdown): .*(server closed the connection|terminating connection)"
    assert re.match(lost, dropped.error)
    assert dropped.finished_at is not None
    assert dropped.rows_loaded == 0 and dropped.total_effective_cost is None
    # The restated period was deleted and part re-loaded inside the transaction that died.
    wait_until(lambda: not backend_alive(copying_backend), timeout=60, what="PostgreSQL to end the session")
    assert not CostRecord.objects.filter(ingest_run=dropped).exists()
    assert_loaded_exactly_once(earlier)
    assert CostRecord.objects.count() == earlier.rows

    [run_id] = send_ingest(producer, workers, restated).get(timeout=120)

    loaded = assert_loaded_exactly_once(restated)
    assert loaded.rows_replaced == earlier.rows
    assert CostRecord.objects.count() == restated.rows
    assert CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"] == restated.effective_total
    dropped.refresh_from_db()
    assert dropped.status == IngestRun.Status.FAILED  # recorded, so not taken for a lost worker's
    # The dropped task retries by itself after a jittered countdown, which can be 0 s: then its
    # retry loads the file and this resend is skipped as identical. Either way, it loads once.
    if run_id == loaded.pk:
        assert list(runs_of(restated)) == [dropped, loaded]
    else:
        resend = IngestRun.objects.get(pk=run_id)
        assert resend.status == IngestRun.Status.SKIPPED
        assert list(runs_of(restated)) == [dropped, loaded, resend]


def test_the_task_retries_a_dropped_connection_by_itself(workers, producer, exports):
    export = exports(rows=BIG_ROWS, seed=33)
    workers.start(env={"INGEST_RETRY_BACKOFF_SECONDS": "1"})
    result = send_ingest(producer, workers, export)
    dropped, copying_backend = wait_until_mid_copy()

    terminate(copying_backend)

    [run_id] = result.get(timeout=120)  # after the retry's countdown (up to a second here)
    loaded = assert_loaded_exactly_once(export)
    assert run_id == loaded.pk
    statuses = list(runs_of(export).values_list("status", flat=True))
    assert statuses == [IngestRun.Status.FAILED, IngestRun.Status.SUCCEEDED]


def terminate(backend: int) -> None:
    """End a PostgreSQL session from the server side, as a restart or a failover does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        assert cursor.fetchone() == (True,)
