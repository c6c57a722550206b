"""Two restatements of one billing period loaded at the same moment, by two workers: the
period must end up holding one of them, never both."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections
from django.db.models import Sum

from finops.models import CostRecord, IngestRun
from ingest.services.billing import billing_uri_ingest
from tests.faults.focus_export import focus_export_write

pytestmark = pytest.mark.django_db(transaction=True)
ROWS = 20_000


def test_two_restatements_loaded_at_once_leave_exactly_one(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    month = datetime(2026, 10, 1, tzinfo=UTC)
    exports = [focus_export_write(tmp_path / f"restated-{seed}.csv", rows=ROWS, month=month, seed=seed) for seed in (1, 2)]
    start = threading.Barrier(2)
    errors = []

    def load(path):
        try:
            start.wait()
            billing_uri_ingest(uri=str(path), format="focus")
        except Exception as exc:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=load, args=(export.path,)) for export in exports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert not errors
    assert IngestRun.objects.filter(status=IngestRun.Status.SUCCEEDED).count() == 2
    assert CostRecord.objects.count() == ROWS
    total = CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"]
    assert total in {export.effective_total for export in exports}
