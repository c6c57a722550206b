"""The life of an IngestRun, whatever is being ingested: skip a delivery already loaded, load
the rest in one transaction, and record every outcome, failures included."""

import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from finops.models import CostRecord, DataSource, GpuSample, IngestRun
from ingest.errors import IngestError, SourceUnavailable
from ingest.sources import Delivery, deliveries

logger = logging.getLogger(__name__)

# What a run of each kind loads: a run whose rows are all gone (replaced) no longer counts.
LOADED_ROWS = {IngestRun.Kind.BILLING: CostRecord, IngestRun.Kind.GPU: GpuSample}


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
    *, delivery: Delivery, kind: str, data_source: DataSource | None, load: Callable[[IngestRun], None]
) -> IngestRun:
    """Run `load(run)` inside one transaction and record the outcome on the run.

    `load` fills in the run's figures. A delivery identical to one whose rows are still loaded
    is skipped. Bad input (IngestError) ends in a FAILED run naming file, line and column, with
    earlier data untouched. Other errors (database, network) are recorded and re-raised so a
    task can retry them.
    """
    rows = LOADED_ROWS[kind].objects.filter(ingest_run=OuterRef("pk"))
    loaded = (
        IngestRun.objects.filter(kind=kind, checksum=delivery.fingerprint, status=IngestRun.Status.SUCCEEDED)
        .filter(Exists(rows))
        .first()
    )
    if loaded:
        return IngestRun.objects.create(
            kind=kind,
            data_source=data_source,
            source=delivery.label,
            format=loaded.format,
            checksum=delivery.fingerprint,
            files=loaded.files,
            status=IngestRun.Status.SKIPPED,
            message=f"identical to run #{loaded.pk} ({loaded.source}), which is still loaded",
            finished_at=timezone.now(),
        )

    run = IngestRun.objects.create(kind=kind, data_source=data_source, source=delivery.label, checksum=delivery.fingerprint)
    try:
        with transaction.atomic():
            load(run)
    except IngestError as exc:
        _finish(run, status=IngestRun.Status.FAILED, error=str(exc))
        return run
    except Exception as exc:
        logger.exception("ingest of %s failed", delivery.label)
        _finish(run, status=IngestRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(run, status=IngestRun.Status.SUCCEEDED)
    return run


def _finish(run: IngestRun, *, status: str, error: str = "") -> None:
    if status == IngestRun.Status.FAILED:
        # Figures of a rolled-back load describe nothing that exists.
        run.files, run.rows_loaded, run.rows_replaced = [], 0, 0
        run.total_billed_cost = run.total_effective_cost = None
        run.billing_periods = []
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save()
