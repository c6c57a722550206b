import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone

from finops.models import CostRecord, IngestRun
from finops.services.allocation import cost_records_allocate
from finops.services.rollups import daily_spend_refresh
from ingest.errors import IngestError
from ingest.loader import cost_batches_load
from ingest.readers import billing_reader
from ingest.readers.tabular import read_header

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


def billing_path_ingest(*, path: str | Path, format: str = "auto", progress: Progress | None = None) -> list[IngestRun]:
    """Ingest one billing file, or every file in a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")
    runs = []
    for file in files:
        with file.open("rb") as stream:
            runs.append(billing_stream_ingest(stream=stream, source=str(file), format=format, progress=progress))
    return runs


def billing_stream_ingest(
    *, stream: BinaryIO, source: str, format: str = "auto", progress: Progress | None = None
) -> IngestRun:
    """Load one seekable billing file in one transaction and record the run.

    A file identical to one whose rows are still loaded is skipped. Bad input ends in a
    FAILED run naming file, line and column, with earlier data untouched. Other errors
    (database, disk) are recorded and re-raised so a task can retry them.
    """
    checksum = _sha256(stream)
    loaded = IngestRun.objects.filter(
        checksum=checksum, status=IngestRun.Status.SUCCEEDED, cost_records__isnull=False
    ).first()
    if loaded:
        return IngestRun.objects.create(
            source=source,
            format=loaded.format,
            checksum=checksum,
            status=IngestRun.Status.SKIPPED,
            message=f"identical to run #{loaded.pk} ({loaded.source}), which is still loaded",
            finished_at=timezone.now(),
        )

    run = IngestRun.objects.create(source=source, checksum=checksum)
    try:
        header = read_header(stream, source=source)
        reader = billing_reader(format, header, source=source)
        run.format = reader.FORMAT
        with transaction.atomic():
            result = cost_batches_load(
                run_id=run.pk, batches=reader.read(stream, source=source, header=header), progress=progress
            )
            if result.rows_loaded == 0:
                raise IngestError("the file has a header but no rows", source=source, line=2)
            cost_records_allocate(records=CostRecord.objects.filter(ingest_run_id=run.pk))
            daily_spend_refresh(earliest=result.earliest_charge, latest=result.latest_charge)
    except IngestError as exc:
        _finish(run, status=IngestRun.Status.FAILED, error=str(exc))
        return run
    except Exception as exc:
        logger.exception("ingest of %s failed", source)
        _finish(run, status=IngestRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise

    run.rows_loaded = result.rows_loaded
    run.rows_replaced = result.rows_replaced
    run.total_billed_cost = result.total_billed_cost
    run.total_effective_cost = result.total_effective_cost
    run.billing_periods = sorted([p, a, s.isoformat()] for p, a, s in result.periods)
    run.message = f"{reader.LABEL}: {result.rows_loaded} rows loaded, {result.rows_replaced} replaced"
    _finish(run, status=IngestRun.Status.SUCCEEDED)
    return run


def _finish(run: IngestRun, *, status: str, error: str = "") -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save()


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()
