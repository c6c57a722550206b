from celery import shared_task

from ingest.services import billing_path_ingest


@shared_task(acks_late=True, reject_on_worker_lost=True)
def ingest_billing_path(path: str, format: str = "auto") -> list[int]:
    """Ingest a file or folder. Idempotent: a redelivered task re-loads the same periods
    (or skips identical files), so acks_late is safe. Returns the IngestRun ids."""
    return [run.pk for run in billing_path_ingest(path=path, format=format)]
