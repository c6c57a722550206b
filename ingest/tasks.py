import psycopg
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from finops.models import DataSource, IngestRun
from ingest.errors import SourceUnavailable
from ingest.services.billing import billing_uri_ingest
from ingest.services.data_sources import data_sources_claim_due
from ingest.services.gpu import gpu_uri_ingest
from ingest.services.prometheus import PROMETHEUS, prometheus_pull
from ingest.services.uploads import billing_upload_ingest

# Only transient errors retry: a source that did not answer, a database connection that
# dropped (a restart, a failover; raised by Django, or by psycopg itself during COPY). Bad
# input is permanent and ends as a failed run.
RETRY = {
    "autoretry_for": (
        SourceUnavailable, OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError,
    ),
    "retry_backoff": settings.INGEST_RETRY_BACKOFF_SECONDS,
    "retry_backoff_max": 1800,
    "max_retries": 8,
}


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def ingest_billing_uri(uri: str, format: str = "auto") -> list[int]:
    """Ingest a file, folder or s3:// prefix. Idempotent: a redelivered task re-loads the
    same periods (or skips identical deliveries), so acks_late is safe. Returns run ids."""
    return [run.pk for run in billing_uri_ingest(uri=uri, format=format)]


# No retries: the files are local to the shared folder (no transport to fail), and a failure
# is recorded on the run the uploader polls.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def ingest_billing_upload(run_id: int, folder_name: str, format: str = "auto") -> int:
    """Ingest an uploaded delivery (a folder under INGEST_UPLOAD_DIR) into the QUEUED run made
    when it arrived. A redelivery re-loads a run a lost worker left RUNNING and leaves a
    finished one alone, so acks_late is safe. Returns the run id."""
    return billing_upload_ingest(run_id=run_id, folder_name=folder_name, format=format).pk


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def ingest_gpu_uri(uri: str, format: str = "auto") -> list[int]:
    """Ingest GPU metrics from a file, folder or s3:// prefix; idempotent like billing."""
    return [run.pk for run in gpu_uri_ingest(uri=uri, format=format)]


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def ingest_data_source(data_source_id: int) -> list[int]:
    """Ingest one data source: the deliveries at its folder or s3:// prefix, or a pull from
    its Prometheus server (GPU samples or inference volumes). Pulls are idempotent too: an
    overlapping window replaces the same samples, a volume sets its day's figures."""
    source = DataSource.objects.get(pk=data_source_id)
    if source.format == PROMETHEUS:
        return [prometheus_pull(data_source=source).pk]
    ingest = gpu_uri_ingest if source.kind == IngestRun.Kind.GPU else billing_uri_ingest
    return [run.pk for run in ingest(uri=source.uri, format=source.format, data_source=source)]


@shared_task
def ingest_due_data_sources() -> list[int]:
    """Beat runs this every few minutes; each due source becomes a task of its own."""
    due = data_sources_claim_due()
    for source in due:
        ingest_data_source.delay(source.pk)
    return [source.pk for source in due]
