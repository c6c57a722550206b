"""A worker killed in the middle of a large ingest loses no row and doubles none: the task is
acknowledged only once it has finished (acks_late), so the broker hands it out again, and the
load is one transaction, so the killed attempt leaves nothing behind. The killed attempt's run
does not stay RUNNING: the attempt that loads the file closes it as interrupted."""

import os
import signal

import pytest

from finops.models import CostRecord, IngestRun
from tests.faults.ingest_probes import (
    BIG_ROWS,
    assert_loaded_exactly_once,
    backend_alive,
    runs_of,
    send_ingest,
    wait_until_mid_copy,
)
from tests.workers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The replacement worker's visibility timeout: how long a message must have gone
# unacknowledged before it is handed out again (in production, the task time limit + 10 min).
SHORT_VISIBILITY_TIMEOUT = "5"


def test_a_whole_worker_killed_mid_copy_is_redelivered_after_the_visibility_timeout(
    workers, producer, exports
):
    export = exports(rows=BIG_ROWS, seed=1)
    doomed = workers.start()
    result = send_ingest(producer, workers, export)
    interrupted, copying_backend = wait_until_mid_copy()

    doomed.kill()  # main process and pool at once, as when its machine is lost

    wait_until(lambda: not backend_alive(copying_backend), timeout=60, what="PostgreSQL to end the session")
    interrupted.refresh_from_db()
    assert interrupted.status == IngestRun.Status.RUNNING  # nobody was left to record anything
    assert CostRecord.objects.count() == 0  # the COPY's rows went with its transaction

    replacement = workers.start(env={"CELERY_VISIBILITY_TIMEOUT": SHORT_VISIBILITY_TIMEOUT})
    [run_id] = result.get(timeout=120)
    assert f"Task ingest.tasks.ingest_billing_uri[{result.id}] received" in replacement.output()

    loaded = assert_loaded_exactly_once(export)
    assert_closed_as_interrupted(interrupted, retried_by=loaded)
    # A load that outlasts the short timeout is handed out once more while it runs: that copy
    # runs after it (or, on a second worker, waits for it) and is skipped as identical.
    others = runs_of(export).exclude(pk__in=[interrupted.pk, loaded.pk])
    assert all(run.status == IngestRun.Status.SKIPPED for run in others)
    assert run_id in [loaded.pk, *(run.pk for run in others)]


def test_a_pool_process_killed_mid_copy_is_requeued_at_once(workers, producer, exports):
    export = exports(rows=BIG_ROWS, seed=2)
    worker = workers.start()
    result = send_ingest(producer, workers, export)
    interrupted, _ = wait_until_mid_copy()
    [pool_process] = worker.pool_children()

    os.kill(pool_process, signal.SIGKILL)  # what the kernel's out-of-memory killer does

    # reject_on_worker_lost: the main process puts the message back on the queue at once, and
    # its new pool process runs it; no visibility timeout to wait for.
    run_ids = result.get(timeout=120)

    loaded = assert_loaded_exactly_once(export)
    assert run_ids == [loaded.pk]
    assert_closed_as_interrupted(interrupted, retried_by=loaded)
    assert list(runs_of(export)) == [interrupted, loaded]
    assert "WorkerLostError" in worker.output()


def assert_closed_as_interrupted(run: IngestRun, *, retried_by: IngestRun) -> None:
    run.refresh_from_db()
    assert run.status == IngestRun.Status.FAILED
    assert run.error.startswith("interrupted (worker lost)")
    assert f"run #{retried_by.pk} retried it" in run.error
    assert run.finished_at is not None
    assert run.rows_loaded == 0
    assert not CostRecord.objects.filter(ingest_run=run).exists()
