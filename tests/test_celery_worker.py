"""A billing ingest task round-trips through a real Celery worker on the Redis broker and
writes to the same PostgreSQL test database the test reads."""

import csv
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum

from finops.celery import app as celery_app
from finops.models import CostRecord, IngestRun
from ingest.tasks import ingest_billing_uri
from tests.factories import UserFactory
from tests.workers import database_url

ROOT = Path(__file__).parents[1]
FOCUS = ROOT / "tests" / "fixtures" / "focus" / "aws-focus-1.2.csv"

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_queue(settings):
    if not settings.CELERY_BROKER_URL:
        pytest.skip("set REDIS_URL to run a real worker on the Redis broker")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test: PostgreSQL")
    queue = f"test-{uuid.uuid4().hex[:12]}"  # never steals tasks from, or feeds, another worker
    env = os.environ | {"DATABASE_URL": database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                        "INGEST_UPLOAD_DIR": str(settings.INGEST_UPLOAD_DIR)}  # shared with the web side
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "finops", "worker", "--queues", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output)  # shown by pytest when the test fails


def test_an_ingest_task_round_trips_through_a_real_worker(worker_queue):
    result = ingest_billing_uri.apply_async(args=[str(FOCUS)], queue=worker_queue)

    run_ids = result.get(timeout=90)

    run = IngestRun.objects.get(pk=run_ids[0])
    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.rows_loaded == 8
    with FOCUS.open(encoding="utf-8-sig", newline="") as handle:
        expected = sum(Decimal(row["EffectiveCost"]) for row in csv.DictReader(handle))
    assert CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"] == expected


@pytest.fixture
def uploads_to_the_worker(worker_queue):
    """Upload ingests go to the test's worker: they are queued by name, with no queue given."""
    previous = celery_app.conf.task_routes
    celery_app.conf.update(task_routes={"ingest.tasks.ingest_billing_upload": {"queue": worker_queue}})
    yield
    celery_app.conf.update(task_routes=previous)


def test_an_api_upload_is_ingested_by_a_real_worker_into_the_run_it_answered(uploads_to_the_worker, client):
    client.force_login(UserFactory(is_staff=True))

    response = client.post("/api/v1/ingest-runs/upload/", {"files": [SimpleUploadedFile("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 202
    assert response.json()["status"] in ("queued", "running")  # the worker has it, not the request
    deadline = time.monotonic() + 90
    while (run := client.get(response["Location"]).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"still {run['status']} after 90 s"
        time.sleep(0.5)
    assert (run["status"], run["rows_loaded"], run["error"]) == ("succeeded", 8, "")
    assert IngestRun.objects.count() == 1
    assert CostRecord.objects.filter(ingest_run_id=run["id"]).count() == 8
