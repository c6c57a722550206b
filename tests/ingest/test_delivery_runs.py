"""How an ingest run is recorded whatever happens to the process loading it: stopped, run twice
at once, or lost mid-load and loaded again (ingest/services/runs.py). The same faults with real
workers, Redis and PostgreSQL sessions are in tests/faults/."""

import threading
from pathlib import Path

import pytest
from django.db import connection

from finops.models import CostRecord, IngestRun
from ingest.services.billing import billing_delivery_ingest
from ingest.sources import Delivery, deliveries
from tests.workers import wait_until

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="advisory locks, and sessions of their own per thread: PostgreSQL",
)


@pytest.fixture
def delivery() -> Delivery:
    [found] = deliveries(str(FOCUS))
    return found


@pytest.mark.django_db
def test_a_load_stopped_by_an_interrupt_is_recorded_failed_and_the_interrupt_goes_on(delivery):
    def interrupt(rows_loaded: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        billing_delivery_ingest(delivery=delivery, progress=interrupt)

    [run] = IngestRun.objects.all()
    assert (run.status, run.error, run.rows_loaded) == (IngestRun.Status.FAILED, "KeyboardInterrupt", 0)
    assert run.finished_at is not None
    assert not CostRecord.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_second_copy_of_a_delivery_waits_for_the_first_and_is_skipped(delivery):
    """What a broker redelivering a task that is still running (or a user sending the same
    file twice) leads to: one load, not two side by side each replacing the other's period."""
    writing, finish = threading.Event(), threading.Event()

    def hold_open(rows_loaded: int) -> None:
        writing.set()
        finish.wait(timeout=60)

    first = InThread(lambda: billing_delivery_ingest(delivery=delivery, progress=hold_open))
    try:
        wait_until(writing.is_set, timeout=30, what="the first load to be writing")
        second = InThread(lambda: billing_delivery_ingest(delivery=delivery))
        wait_until(_waiting_for_an_advisory_lock, timeout=30, what="the second load to wait for the first")
        assert IngestRun.objects.count() == 1  # the second records nothing while it waits
    finally:
        finish.set()
    loaded, skipped = first.result(), second.result()

    assert loaded.status == IngestRun.Status.SUCCEEDED
    assert skipped.status == IngestRun.Status.SKIPPED
    assert skipped.message.startswith(f"identical to run #{loaded.pk} ")
    assert CostRecord.objects.count() == 8
    assert CostRecord.objects.filter(ingest_run=loaded).count() == 8


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_run_a_lost_worker_left_running_is_closed_when_the_delivery_is_loaded_again(delivery):
    lost = IngestRun.objects.create(source=delivery.label, checksum=delivery.fingerprint)  # RUNNING
    other_file = IngestRun.objects.create(source="another file", checksum="0" * 64)

    loaded = billing_delivery_ingest(delivery=delivery)

    lost.refresh_from_db()
    assert loaded.status == IngestRun.Status.SUCCEEDED
    assert lost.status == IngestRun.Status.FAILED
    assert lost.error == (
        "interrupted (worker lost): the load never finished and nothing of it was kept; "
        f"run #{loaded.pk} retried it"
    )
    assert lost.finished_at is not None
    other_file.refresh_from_db()
    assert other_file.status == IngestRun.Status.RUNNING  # another delivery: its worker may well be alive


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="SQLite's behaviour")
@pytest.mark.django_db
def test_without_advisory_locks_a_running_run_of_the_same_delivery_is_left_alone(delivery):
    """SQLite cannot tell a lost worker's run from one still loading, so it does not guess."""
    running = IngestRun.objects.create(source=delivery.label, checksum=delivery.fingerprint)

    billing_delivery_ingest(delivery=delivery)

    running.refresh_from_db()
    assert running.status == IngestRun.Status.RUNNING


@pytest.mark.django_db
def test_a_run_recorded_beforehand_records_the_outcome_and_keeps_its_source(delivery):
    queued = IngestRun.objects.create(source="upload by alice: oct.csv", status=IngestRun.Status.QUEUED)

    run = billing_delivery_ingest(delivery=delivery, run=queued)

    assert run.pk == queued.pk
    queued.refresh_from_db()
    assert (queued.status, queued.source, queued.rows_loaded) == (
        IngestRun.Status.SUCCEEDED, "upload by alice: oct.csv", 8
    )
    assert queued.checksum == delivery.fingerprint
    again = IngestRun.objects.create(source="upload by bob: oct.csv", status=IngestRun.Status.QUEUED)
    assert billing_delivery_ingest(delivery=delivery, run=again).status == IngestRun.Status.SKIPPED
    again.refresh_from_db()
    assert (again.status, again.source) == (IngestRun.Status.SKIPPED, "upload by bob: oct.csv")
    assert again.message.startswith(f"identical to run #{queued.pk} ")
    assert IngestRun.objects.count() == 2
    assert CostRecord.objects.count() == 8


@pytest.mark.django_db
def test_a_run_recorded_beforehand_that_another_copy_finished_is_left_as_it_is(delivery):
    finished = IngestRun.objects.create(source="upload", status=IngestRun.Status.FAILED, error="x")

    run = billing_delivery_ingest(delivery=delivery, run=finished)

    assert (run.pk, run.status, run.error) == (finished.pk, IngestRun.Status.FAILED, "x")
    assert not CostRecord.objects.exists()


def _waiting_for_an_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


class InThread:
    """Runs `work` in a thread of its own, which has its own database connection."""

    def __init__(self, work):
        self._outcome: dict = {}

        def run():
            try:
                self._outcome["value"] = work()
            except BaseException as error:  # re-raised by result(), in the test's thread
                self._outcome["error"] = error
            finally:
                connection.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float = 60):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"still running after {timeout} s"
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]
