"""Ingestion from s3:// prefixes against a real S3 endpoint on loopback (moto's server)."""

import json
import socket
import urllib.request
from pathlib import Path

import boto3
import pytest

from finops.models import CostRecord, IngestRun
from ingest.errors import IngestError, SourceUnavailable
from ingest.services.billing import billing_uri_ingest

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"
GCP_FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "gcp-focus-1.0-snake.csv"

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: start every test from empty.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3")
    client.create_bucket(Bucket="billing")
    yield client
    server.stop()


def test_it_ingests_each_folder_under_a_prefix_as_one_delivery(s3):
    s3.put_object(Bucket="billing", Key="focus/aws/2026-10/part-1.csv", Body=FOCUS.read_bytes())
    s3.put_object(Bucket="billing", Key="focus/gcp/2026-10/part-1.csv", Body=GCP_FOCUS.read_bytes())
    s3.put_object(Bucket="billing", Key="other/ignored.csv", Body=b"outside the prefix")

    runs = billing_uri_ingest(uri="s3://billing/focus/")

    assert [run.source for run in runs] == ["focus/aws/2026-10", "focus/gcp/2026-10"]
    assert all(run.status == IngestRun.Status.SUCCEEDED for run in runs)
    assert runs[0].files[0]["name"] == "s3://billing/focus/aws/2026-10/part-1.csv"
    assert CostRecord.objects.count() == 8 + 3


def test_an_unchanged_prefix_is_skipped_on_the_next_pull(s3):
    s3.put_object(Bucket="billing", Key="focus/2026-10/part-1.csv", Body=FOCUS.read_bytes())
    billing_uri_ingest(uri="s3://billing/focus/")

    [again] = billing_uri_ingest(uri="s3://billing/focus/")

    assert again.status == IngestRun.Status.SKIPPED
    assert CostRecord.objects.count() == 8


def test_a_cur_manifest_selects_the_current_version_of_the_month(s3):
    period = "cur/report/20261001-20261101"
    # An older assembly of the same month, still in the bucket, must not be loaded.
    s3.put_object(Bucket="billing", Key=f"{period}/old-assembly/report-1.csv", Body=GCP_FOCUS.read_bytes())
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    s3.put_object(Bucket="billing", Key=f"{period}/new-assembly/report-1.csv", Body="\n".join([header, *rows[:5]]).encode())
    s3.put_object(Bucket="billing", Key=f"{period}/new-assembly/report-2.csv", Body="\n".join([header, *rows[5:]]).encode())
    manifest = {"reportKeys": [f"{period}/new-assembly/report-1.csv", f"{period}/new-assembly/report-2.csv"]}
    s3.put_object(Bucket="billing", Key=f"{period}/report-Manifest.json", Body=json.dumps(manifest).encode())

    [run] = billing_uri_ingest(uri="s3://billing/cur/")

    assert run.status == IngestRun.Status.SUCCEEDED
    assert [f["rows"] for f in run.files] == [5, 3]
    assert set(CostRecord.objects.values_list("provider_name", flat=True)) == {"AWS"}


def test_a_missing_bucket_is_a_clear_permanent_error_and_is_recorded(s3):
    with pytest.raises(IngestError, match="NoSuchBucket"):
        billing_uri_ingest(uri="s3://no-such-bucket/focus/")

    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.FAILED
    assert run.source == "s3://no-such-bucket/focus/"


def test_an_unreachable_endpoint_is_transient(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    with pytest.raises(SourceUnavailable):
        billing_uri_ingest(uri="s3://billing/focus/")
