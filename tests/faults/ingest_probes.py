"""What the fault tests send, watch and check: ingest tasks, COPYs under way in PostgreSQL,
and the rows an export must leave behind, each exactly once."""

from django.db import connection
from django.db.models import Sum

from finops.models import CostRecord, DailySpend, IngestRun
from ingest.sources import deliveries
from ingest.tasks import ingest_billing_uri
from tests.faults.focus_export import FocusExport
from tests.workers import wait_until

# Rows enough that a load takes seconds on a busy 2-core machine, so a test can strike while
# COPY is under way; and a small file for the loads around it.
BIG_ROWS = 150_000
SMALL_ROWS = 3_000
# Rows COPY must have streamed before a fault strikes: well into the file, far from its end.
MID_COPY_ROWS = 5_000


def send_ingest(producer, workers, export: FocusExport):
    return producer.send_task(ingest_billing_uri.name, args=[str(export.path)], queue=workers.queue)


def copy_progress() -> dict[int, int]:
    """Rows each COPY under way in the test database has taken in so far, by backend pid:
    rows that stream into PostgreSQL but are not visible until their transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, tuples_processed FROM pg_stat_progress_copy WHERE datname = current_database()"
        )
        return dict(cursor.fetchall())


def wait_until_mid_copy(*, timeout: float = 90) -> tuple[IngestRun, int]:
    """Wait until an ingest run is RUNNING and its COPY has streamed MID_COPY_ROWS rows;
    returns the run and the pid of the backend running the COPY."""

    def mid_copy():
        run = IngestRun.objects.filter(status=IngestRun.Status.RUNNING).first()
        copying = [pid for pid, rows in copy_progress().items() if rows >= MID_COPY_ROWS]
        return run and copying and (run, copying[0])

    return wait_until(mid_copy, timeout=timeout, what=f"an ingest RUNNING with {MID_COPY_ROWS} rows copied")


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def assert_loaded_exactly_once(export: FocusExport) -> IngestRun:
    """The export's rows are the only ones of its billing period, each once, to the last
    decimal, and the daily rollup agrees; returns the one run that loaded them."""
    [run] = IngestRun.objects.filter(
        checksum=_checksum_of(export), status=IngestRun.Status.SUCCEEDED
    )  # any other run of the same file was a redelivery, skipped as identical
    assert run.rows_loaded == export.rows
    assert run.total_effective_cost == export.effective_total
    period = CostRecord.objects.filter(billing_period_start=export.billing_period_start)
    assert period.count() == export.rows
    assert period.filter(ingest_run=run).count() == export.rows
    assert period.aggregate(total=Sum("effective_cost"))["total"] == export.effective_total
    month = DailySpend.objects.filter(
        day__year=export.billing_period_start.year, day__month=export.billing_period_start.month
    )
    assert month.aggregate(total=Sum("effective_cost"))["total"] == export.effective_total
    assert month.aggregate(records=Sum("record_count"))["records"] == export.rows
    return run


def runs_of(export: FocusExport):
    return IngestRun.objects.filter(checksum=_checksum_of(export)).order_by("pk")


def _checksum_of(export: FocusExport) -> str:
    [delivery] = deliveries(str(export.path))
    return delivery.fingerprint
