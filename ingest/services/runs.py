"""The life of an IngestRun, whatever is being ingested: skip a delivery already loaded, load
the rest in one transaction, and record every outcome, failures included.

Tasks are delivered at least once: a worker that dies mid-load (killed, out of memory, its
machine lost) leaves its message unacknowledged, and the broker hands it to another worker.
So on PostgreSQL a delivery is loaded under a lock of its own: a second copy of the same
delivery waits for the first and is then skipped as identical, never loaded twice side by
side; and a run that is still RUNNING when the lock is free belongs to a worker that is gone,
so it is closed as interrupted rather than left RUNNING forever.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, InterfaceError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from finops.models import DataSource, GpuSample, IngestRun, LoadedBillingPeriod
from ingest.errors import IngestError, SourceUnavailable
from ingest.locks import advisory_lock_key
from ingest.sources import Delivery, deliveries

logger = logging.getLogger(__name__)

# What shows that a run of each kind still has rows: a run whose rows are all gone (replaced)
# no longer counts. A billing run keeps a LoadedBillingPeriod as long as it has rows of it.
LOADED_ROWS = {IngestRun.Kind.BILLING: LoadedBillingPeriod, IngestRun.Kind.GPU: GpuSample}


def uri_deliveries(*, uri: str, kind: str, data_source: DataSource | None, suffixes: tuple[str, ...]) -> list[Delivery]:
    """The deliveries at a file, folder or s3:// prefix. One that cannot even be listed is
    recorded as a failed run too, so operators see it."""
    try:
        return deliveries(uri, suffixes=suffixes)
    except (IngestError, SourceUnavailable) as exc:
        IngestRun.objects.create(
            kind=kind, data_source=data_source, source=uri, status=IngestRun.Status.FAILED, error=str(exc),
            finished_at=timezone.now(),
        )
        raise


def delivery_run(
    *,
    delivery: Delivery,
    kind: str,
    data_source: DataSource | None,
    load: Callable[[IngestRun], None],
    run: IngestRun | None = None,
) -> IngestRun:
    """Run `load(run)` inside one transaction and record the outcome on the run.

    `load` fills in the run's figures. A delivery identical to one whose rows are still loaded
    is skipped. Bad input (IngestError) ends in a FAILED run naming file, line and column, with
    earlier data untouched. Other errors (database, network, the process being stopped) are
    recorded and re-raised so a task can retry them. `run`: a run recorded before (an upload's
    QUEUED run) that records the outcome instead of a new one; it keeps its source.
    """
    with _delivery_lock(kind=kind, fingerprint=delivery.fingerprint) as exclusive:
        if run is not None:
            run.refresh_from_db()
            if run.status not in (IngestRun.Status.QUEUED, IngestRun.Status.RUNNING):
                return run  # another delivery of the same task finished it while this one waited
        recorded = {"kind": kind, "data_source": data_source, "checksum": delivery.fingerprint}
        if loaded := _loaded_run(kind=kind, fingerprint=delivery.fingerprint):
            return _record(
                run,
                source=delivery.label,
                **recorded,
                format=loaded.format,
                files=loaded.files,
                status=IngestRun.Status.SKIPPED,
                message=f"identical to run #{loaded.pk} ({loaded.source}), which is still loaded",
                finished_at=timezone.now(),
            )
        run = _record(run, source=delivery.label, **recorded, status=IngestRun.Status.RUNNING)
        if exclusive:  # no other worker can be loading this delivery: earlier RUNNING runs died
            _interrupted_runs_close(run)
        try:
            with transaction.atomic():
                load(run)
        except IngestError as exc:
            _finish(run, status=IngestRun.Status.FAILED, error=str(exc))
            return run
        except BaseException as exc:  # a stopped process (KeyboardInterrupt, SystemExit) is recorded too
            logger.exception("ingest of %s failed", delivery.label)
            _finish(run, status=IngestRun.Status.FAILED, error=_error_text(exc))
            raise
        _finish(run, status=IngestRun.Status.SUCCEEDED)
        return run


def _loaded_run(*, kind: str, fingerprint: str) -> IngestRun | None:
    """The run that loaded the same delivery and whose rows are still there (not replaced)."""
    rows = LOADED_ROWS[kind].objects.filter(ingest_run=OuterRef("pk"))
    return (
        IngestRun.objects.filter(kind=kind, checksum=fingerprint, status=IngestRun.Status.SUCCEEDED)
        .filter(Exists(rows))
        .first()
    )


def _record(run: IngestRun | None, *, source: str, **fields) -> IngestRun:
    """A new run with `source` and `fields`, or `fields` written onto a run recorded before."""
    if run is None:
        return IngestRun.objects.create(source=source, **fields)
    for name, value in fields.items():
        setattr(run, name, value)
    run.error = ""
    run.save()
    return run


@contextmanager
def _delivery_lock(*, kind: str, fingerprint: str) -> Iterator[bool]:
    """Hold a PostgreSQL advisory lock on the delivery while it is checked, loaded and recorded;
    yields whether the lock is exclusive proof that no other worker is loading it.

    A session lock, not a transaction's, because it must span the run's own commits. It ends
    with its database session, so the lock of a worker that was killed, or whose connection
    dropped, is released by PostgreSQL itself. SQLite has no such lock: there a RUNNING run of
    the same delivery may be alive, and is left alone."""
    if connection.vendor != "postgresql":
        yield False
        return
    key = advisory_lock_key("delivery", kind, fingerprint)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    session = connection.connection
    try:
        yield True
    finally:
        # After a dropped connection the lock went with its session; a new session holds none.
        if connection.connection is session:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except (DatabaseError, InterfaceError):
                logger.warning("could not release the ingest lock of %s: its session is gone", fingerprint)


def _interrupted_runs_close(run: IngestRun) -> None:
    """Earlier runs of the same delivery still marked RUNNING lost their worker (or its
    database connection) mid-load: their transaction was rolled back, and `run` loads the
    delivery again."""
    interrupted = IngestRun.objects.filter(
        kind=run.kind, checksum=run.checksum, status=IngestRun.Status.RUNNING
    ).exclude(pk=run.pk)
    for pk in interrupted.values_list("pk", flat=True):
        logger.warning("ingest run #%s was interrupted; run #%s loads %s again", pk, run.pk, run.source)
    interrupted.update(
        status=IngestRun.Status.FAILED,
        error="interrupted (worker lost): the load never finished and nothing of it was kept; "
        f"run #{run.pk} retried it",
        finished_at=timezone.now(),
    )


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _finish(run: IngestRun, *, status: str, error: str = "") -> None:
    if status == IngestRun.Status.FAILED:
        # Figures of a rolled-back load describe nothing that exists.
        run.files, run.rows_loaded, run.rows_replaced = [], 0, 0
        run.total_billed_cost = run.total_effective_cost = None
        run.billing_periods = []
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    # After a dropped connection this saves on a fresh one: the load's transaction.atomic(),
    # failing to roll back on the dead one, closed it, and Django connects again on demand.
    run.save()
