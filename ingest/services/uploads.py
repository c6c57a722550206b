"""Billing exports uploaded through the browser or the API: stored as one delivery in a folder
of its own under INGEST_UPLOAD_DIR, recorded at once as a QUEUED IngestRun, and ingested by a
Celery task into that same run, so the uploader has a run to poll from the moment they send."""

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.models import IngestRun
from ingest.errors import IngestError
from ingest.services.billing import billing_delivery_ingest
from ingest.sources import deliveries, is_data_file
from ingest.upload_handlers import too_large_message

logger = logging.getLogger(__name__)

SOURCE_MAX_LENGTH = IngestRun._meta.get_field("source").max_length


def billing_upload_validate(*, files) -> None:
    """Refuse a file that is not a billing export, and an upload over INGEST_UPLOAD_MAX_BYTES
    (ValidationError: forms and serializers show it as the files' field error)."""
    for file in files:
        if not is_data_file(file.name):
            raise ValidationError(f"{file.name}: expected a .csv, .csv.gz, .parquet or .json billing export.")
    total = sum(file.size for file in files)
    if total > settings.INGEST_UPLOAD_MAX_BYTES:
        raise ValidationError(too_large_message(size=total, limit=settings.INGEST_UPLOAD_MAX_BYTES))


def billing_upload_store(*, files) -> Path:
    """Write uploaded files into a folder of their own (one delivery) and return it."""
    folder = settings.INGEST_UPLOAD_DIR / f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    for upload in files:
        target = _unused(folder / _safe_name(upload.name))
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return folder


def _safe_name(uploaded: str) -> str:
    """Only the base name, made safe: an uploaded name must never choose the path."""
    try:
        name = get_valid_filename(Path(uploaded).name)
    except SuspiciousFileOperation:  # nothing usable left ("..", "%%")
        name = ""
    # A name that lost its stem ("%%.csv" -> ".csv") would be hidden, and hidden files are not read.
    return name if name and not name.startswith(".") else f"upload{name}"


def _unused(path: Path) -> Path:
    """Two parts that share a name (a/part-1.csv, b/part-1.csv) must not overwrite each other."""
    stem, dot, suffixes = path.name.partition(".")
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{stem}-{number}{dot}{suffixes}")
    return candidate


def billing_upload_start(*, files, format: str, uploaded_by) -> IngestRun:
    """Store the files, record a QUEUED run naming the upload and its uploader, and queue its
    ingestion once the current transaction commits."""
    folder = billing_upload_store(files=files)
    names = ", ".join(Path(upload.name).name for upload in files)
    label = f"upload {folder.name} by {uploaded_by.get_username()}: {names}"
    if len(label) > SOURCE_MAX_LENGTH:
        label = label[: SOURCE_MAX_LENGTH - 3] + "..."
    run = IngestRun.objects.create(kind=IngestRun.Kind.BILLING, source=label, status=IngestRun.Status.QUEUED)
    transaction.on_commit(lambda: _enqueue(run_id=run.pk, folder_name=folder.name, format=format))
    return run


def _enqueue(*, run_id: int, folder_name: str, format: str) -> None:
    # Imported here: the tasks module imports the services, not the other way round.
    from ingest.tasks import ingest_billing_upload

    try:
        ingest_billing_upload.delay(run_id, folder_name, format)
    except Exception as exc:
        # The broker did not take it (or, eagerly, the ingest raised after recording its
        # failure). A run nobody will pick up must not stay QUEUED for its uploader to poll.
        logger.exception("could not queue the ingest of upload run #%s", run_id)
        IngestRun.objects.filter(pk=run_id, status=IngestRun.Status.QUEUED).update(
            status=IngestRun.Status.FAILED, error=f"could not queue the ingestion ({type(exc).__name__}: {exc})",
            finished_at=timezone.now(),
        )


def billing_upload_ingest(*, run_id: int, folder_name: str, format: str = "auto") -> IngestRun:
    """Ingest an upload's folder into its QUEUED run. A run left RUNNING by a lost worker is
    ingested again (loading is idempotent); a finished one is returned as it is."""
    claimed = IngestRun.objects.filter(
        pk=run_id, status__in=[IngestRun.Status.QUEUED, IngestRun.Status.RUNNING]
    ).update(status=IngestRun.Status.RUNNING)
    run = IngestRun.objects.get(pk=run_id)
    if not claimed:
        return run
    folder = settings.INGEST_UPLOAD_DIR / Path(folder_name).name
    try:
        found = deliveries(str(folder))
    except FileNotFoundError:
        return _fail(run, f"{folder}: the uploaded files are not there; the web server and the workers "
                          "must share INGEST_UPLOAD_DIR")
    except (IngestError, OSError) as exc:  # a bad manifest; a folder this worker may not read
        return _fail(run, str(exc))
    if len(found) != 1:
        return _fail(run, f"{folder}: expected the files of one upload, found {len(found)} deliveries")
    return billing_delivery_ingest(delivery=found[0], format=format, run=run)


def _fail(run: IngestRun, error: str) -> IngestRun:
    run.status = IngestRun.Status.FAILED
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run
