"""Redis, the broker and result store, restarts in the middle of ingestion: a task running, more
waiting in the queue. Redis keeps its data in an append-only file, so the waiting messages
survive; the worker and the producer reconnect; every file is loaded exactly once, every result
arrives, and a task sent after the restart runs too."""

from datetime import UTC, datetime

import pytest
from django.db.models import Sum

from finops.models import CostRecord, IngestRun
from tests.faults.ingest_probes import (
    BIG_ROWS,
    SMALL_ROWS,
    assert_loaded_exactly_once,
    runs_of,
    send_ingest,
    wait_until_mid_copy,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SUCCEEDED, SKIPPED = IngestRun.Status.SUCCEEDED, IngestRun.Status.SKIPPED


def test_redis_restarts_while_a_task_runs_and_others_are_queued(redis_server, workers, producer, exports):
    running = exports(rows=BIG_ROWS, seed=11)
    queued = [
        exports(rows=SMALL_ROWS, seed=12, month=datetime(2026, 11, 1, tzinfo=UTC)),
        exports(rows=SMALL_ROWS, seed=13, month=datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    sent_after = exports(rows=SMALL_ROWS, seed=20, month=datetime(2027, 1, 1, tzinfo=UTC))
    worker = workers.start()
    results = [send_ingest(producer, workers, export) for export in [running, *queued]]
    wait_until_mid_copy()
    with redis_server.client() as client:
        # One pool process, prefetching one task: the other two wait in Redis.
        assert client.llen(workers.queue) == len(queued)

    redis_server.restart()

    results.append(send_ingest(producer, workers, sent_after))
    returned = [result.get(timeout=120) for result in results]

    for export, [run_id] in zip([running, *queued, sent_after], returned, strict=True):
        assert_loaded_exactly_once(export)
        # A message the restart left unacknowledged may be handed out again: that copy is
        # skipped as identical, and what it returns names the skip.
        runs = runs_of(export)
        assert set(runs.values_list("status", flat=True)) <= {SUCCEEDED, SKIPPED}
        assert run_id in runs.values_list("pk", flat=True)
    everything = [running, *queued, sent_after]
    assert CostRecord.objects.count() == sum(export.rows for export in everything)
    assert CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"] == sum(
        export.effective_total for export in everything
    )
    assert "Connection to broker lost" in worker.output()
