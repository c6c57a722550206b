import logging
import uuid
from datetime import timedelta
from pathlib import Path
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.models import CostRecord, DataSource, IngestRun
from finops.services.allocation import cost_records_allocate
from finops.services.rollups import daily_spend_refresh
from ingest.errors import IngestError, SourceUnavailable
from ingest.loader import LoadResult, cost_batches_write, cost_periods_replace
from ingest.readers import billing_reader
from ingest.readers.tabular import read_header
from ingest.sources import BillingFile, Delivery, deliveries

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


def billing_uri_ingest(
    *, uri: str, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None
) -> list[IngestRun]:
    """Ingest every delivery found at a file, folder or s3:// prefix.

    A source that cannot be listed is recorded as a failed run too, so operators see it."""
    try:
        found = deliveries(uri)
    except (IngestError, SourceUnavailable) as exc:
        IngestRun.objects.create(
            data_source=data_source, source=uri, status=IngestRun.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        raise
    return [
        billing_delivery_ingest(delivery=delivery, format=format, data_source=data_source, progress=progress)
        for delivery in found
    ]


def billing_delivery_ingest(
    *, delivery: Delivery, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None
) -> IngestRun:
    """Load the files of one delivery in one transaction and record the run.

    A delivery identical to one whose rows are still loaded is skipped. Bad input ends in a
    FAILED run naming file, line and column, with earlier data untouched. Other errors
    (database, network) are recorded and re-raised so a task can retry them.
    """
    fingerprint = delivery.fingerprint
    loaded = IngestRun.objects.filter(
        checksum=fingerprint, status=IngestRun.Status.SUCCEEDED, cost_records__isnull=False
    ).first()
    if loaded:
        return IngestRun.objects.create(
            data_source=data_source,
            source=delivery.label,
            format=loaded.format,
            checksum=fingerprint,
            files=loaded.files,
            status=IngestRun.Status.SKIPPED,
            message=f"identical to run #{loaded.pk} ({loaded.source}), which is still loaded",
            finished_at=timezone.now(),
        )

    run = IngestRun.objects.create(data_source=data_source, source=delivery.label, checksum=fingerprint)
    result = LoadResult()
    formats = []
    try:
        with transaction.atomic():
            for file in delivery.files:
                rows_before = result.rows_loaded
                formats.append(_load_file(file, run_id=run.pk, format=format, result=result, progress=progress))
                if result.rows_loaded == rows_before:
                    raise IngestError("the file has a header but no rows", source=file.name, line=2)
                run.files.append({"name": file.name, "fingerprint": file.fingerprint, "rows": result.rows_loaded - rows_before})
            cost_periods_replace(run_id=run.pk, result=result)
            cost_records_allocate(records=CostRecord.objects.filter(ingest_run_id=run.pk))
            daily_spend_refresh(earliest=result.earliest_charge, latest=result.latest_charge)
    except IngestError as exc:
        run.files = []
        _finish(run, status=IngestRun.Status.FAILED, error=str(exc))
        return run
    except Exception as exc:
        logger.exception("ingest of %s failed", delivery.label)
        run.files = []
        _finish(run, status=IngestRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise

    run.format = ", ".join(sorted(set(formats)))
    run.rows_loaded = result.rows_loaded
    run.rows_replaced = result.rows_replaced
    run.total_billed_cost = result.total_billed_cost
    run.total_effective_cost = result.total_effective_cost
    run.billing_periods = sorted([p, a, s.isoformat()] for p, a, s in result.periods)
    files = "1 file" if len(delivery.files) == 1 else f"{len(delivery.files)} files"
    run.message = f"{files}, {result.rows_loaded} rows loaded, {result.rows_replaced} replaced"
    _finish(run, status=IngestRun.Status.SUCCEEDED)
    return run


def _load_file(file: BillingFile, *, run_id: int, format: str, result: LoadResult, progress: Progress | None) -> str:
    with file.open() as stream:
        header = read_header(stream, source=file.name)
        reader = billing_reader(format, header, source=file.name)
        batches = reader.read(stream, source=file.name, header=header)
        cost_batches_write(run_id=run_id, batches=batches, result=result, progress=progress)
    return reader.FORMAT


def _finish(run: IngestRun, *, status: str, error: str = "") -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save()


def data_sources_claim_due(*, now=None) -> list[DataSource]:
    """The enabled sources whose interval has passed, each claimed by a conditional UPDATE so
    that two beat schedulers (or a retried tick) never start the same source twice."""
    now = now or timezone.now()
    claimed = []
    for source in DataSource.objects.filter(enabled=True):
        if source.last_started_at and source.last_started_at + timedelta(minutes=source.interval_minutes) > now:
            continue
        won = DataSource.objects.filter(pk=source.pk, last_started_at=source.last_started_at).update(last_started_at=now)
        if won:
            claimed.append(source)
    return claimed


def billing_upload_store(*, files) -> Path:
    """Write uploaded files into a folder of their own (one delivery) and return it."""
    folder = settings.INGEST_UPLOAD_DIR / f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    for upload in files:
        # Only the base name, made safe: an uploaded name must never choose the path.
        target = folder / (get_valid_filename(Path(upload.name).name) or "upload")
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return folder
