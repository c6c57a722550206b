"""POST /api/v1/ingest-runs/upload/: billing files in, a QUEUED run out, polled to its end.

In these tests the on-commit hook that queues the ingest runs when the capture block ends, after
the response: exactly as with a real broker, the answer says "queued" and the poll says how it
ended. (Without a broker outside tests, Celery runs eagerly and the run has ended by the answer.)"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from finops.celery import app as celery_app
from finops.models import CostRecord, IngestRun, TeamMembership
from ingest import upload_handlers
from tests.factories import MembershipFactory, UserFactory

FOCUS = Path(__file__).parents[2] / "fixtures" / "focus" / "aws-focus-1.2.csv"
URL = "/api/v1/ingest-runs/upload/"

pytestmark = pytest.mark.django_db


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def with_bad_cost() -> bytes:
    """The FOCUS sample with words for the BilledCost of its third row (line 4)."""
    lines = FOCUS.read_bytes().splitlines(keepends=True)
    assert lines[3].startswith(b",0.0026666667,")
    lines[3] = lines[3].replace(b",0.0026666667,", b",seven dollars,", 1)
    return b"".join(lines)


@pytest.fixture
def leader(client):
    user = MembershipFactory(role=TeamMembership.Role.LEADER, user__username="lead").user
    client.force_login(user)
    return client


def poll(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    return response.json()


def test_a_leader_uploads_gets_a_queued_run_and_polls_it_to_success(leader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = leader.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())], "format": "focus"})
        answer = response.json()
        assert response.status_code == 202
        assert answer["status"] == "queued"
        assert not CostRecord.objects.exists()  # nothing loads before the run is committed
    assert response["Location"] == answer["url"] == f"http://testserver/api/v1/ingest-runs/{answer['id']}/"
    assert answer["source"].startswith("upload ") and answer["source"].endswith(" by lead: oct.csv")

    run = poll(leader, answer["url"])

    assert (run["id"], run["status"], run["rows_loaded"], run["format"]) == (answer["id"], "succeeded", 8, "focus")
    assert run["source"] == answer["source"]  # the same run, not a second one
    assert run["files"][0]["name"].endswith("/oct.csv")
    assert IngestRun.objects.count() == 1
    assert CostRecord.objects.filter(ingest_run_id=answer["id"]).count() == 8
    assert Decimal(run["total_billed_cost"]) == sum(CostRecord.objects.values_list("billed_cost", flat=True))


def test_staff_upload_with_a_token(client, django_capture_on_commit_callbacks):
    token = Token.objects.create(user=UserFactory(is_staff=True, username="ops")).key

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]},
                               HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 202
    polled = client.get(response["Location"], HTTP_AUTHORIZATION=f"Token {token}").json()
    assert (polled["status"], polled["rows_loaded"]) == ("succeeded", 8)
    assert "by ops:" in polled["source"]


def test_the_parts_of_one_export_load_as_one_run(leader, django_capture_on_commit_callbacks):
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    parts = [upload("part-1.csv", "\n".join([header, *rows[:3]]).encode()),
             upload("part-2.csv", "\n".join([header, *rows[3:]]).encode())]

    with django_capture_on_commit_callbacks(execute=True):
        response = leader.post(URL, {"files": parts})

    run = poll(leader, response.json()["url"])
    assert [f["rows"] for f in run["files"]] == [3, 5]
    assert run["source"].endswith(": part-1.csv, part-2.csv")


def test_the_same_upload_again_is_skipped_on_its_own_run(leader, django_capture_on_commit_callbacks):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = leader.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    run = poll(leader, response.json()["url"])
    assert run["status"] == "skipped"
    assert run["message"].startswith("identical to run #")
    assert run["source"].endswith("by lead: oct.csv")
    assert IngestRun.objects.count() == 2
    assert CostRecord.objects.count() == 8


def test_a_bad_file_ends_in_a_failed_run_naming_file_line_and_column(leader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = leader.post(URL, {"files": [upload("bad.csv", with_bad_cost())]})

    assert response.status_code == 202
    run = poll(leader, response.json()["url"])
    assert run["status"] == "failed"
    assert run["error"].endswith("/bad.csv, line 4, column 'BilledCost': 'seven dollars' is not a valid number")
    assert run["finished_at"] is not None
    assert not CostRecord.objects.exists()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"files": ["This field is required."]}),
        ({"files": [upload("notes.txt", b"hello")]},
         {"files": ["notes.txt: expected a .csv, .csv.gz, .parquet or .json billing export."]}),
        ({"files": [upload("empty.csv", b"")]}, {"files": {"0": ["The submitted file is empty."]}}),
        ({"files": [upload("a.csv", FOCUS.read_bytes())], "format": "excel"}, {"format": ['"excel" is not a valid choice.']}),
    ],
    ids=["no file", "not an export", "empty file", "unknown format"],
)
def test_bad_input_is_a_400_with_field_errors_and_nothing_stored(leader, settings, data, errors):
    response = leader.post(URL, data)

    assert response.status_code == 400
    assert response.json() == errors
    assert not IngestRun.objects.exists()
    assert not settings.INGEST_UPLOAD_DIR.exists()


def test_a_json_body_is_refused_as_the_wrong_media_type(leader):
    response = leader.post(URL, {"files": ["a.csv"]}, content_type="application/json")

    assert response.status_code == 415


def test_an_upload_over_the_limit_is_a_413_naming_the_limit_and_nothing_stored(leader, settings, monkeypatch):
    settings.INGEST_UPLOAD_MAX_BYTES = 1000
    monkeypatch.setattr(upload_handlers, "MULTIPART_FRAMING_ALLOWANCE", 0)  # a body this small is all framing

    response = leader.post(URL, {"files": [upload("big.csv", FOCUS.read_bytes())]})

    assert response.status_code == 413
    (message,) = response.json()["files"]
    assert re.fullmatch(r"The upload is \d\.\d\xa0KB; the limit is 1000\xa0bytes\. Load bigger exports .*", message)
    assert not IngestRun.objects.exists()
    assert not settings.INGEST_UPLOAD_DIR.exists()


def test_members_may_not_upload(client, settings):
    client.force_login(MembershipFactory(role=TeamMembership.Role.MEMBER).user)

    response = client.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 403
    assert not IngestRun.objects.exists()
    assert not settings.INGEST_UPLOAD_DIR.exists()


def test_anonymous_clients_get_a_401(client, settings):
    response = client.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not settings.INGEST_UPLOAD_DIR.exists()


def test_a_chunked_body_without_a_content_length_is_a_411_not_a_missing_file(leader, settings):
    """Django reads no body without a Content-Length (gunicorn passes a chunked one without)."""
    response = leader.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]},
                           CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")

    assert response.status_code == 411
    assert response.json() == {"files": [
        "The upload was sent in chunks without a Content-Length, and such a body is not read: "
        "send it with a Content-Length (browsers and curl -F do)."
    ]}
    assert not settings.INGEST_UPLOAD_DIR.exists()


@pytest.fixture
def unreachable_broker(settings):
    """Celery publishing to a Redis port nobody listens on: a broker that is down."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_transport_options = {"max_retries": 0}
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield
    celery_app.conf.broker_url, celery_app.conf.task_always_eager, celery_app.conf.broker_transport_options = previous
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_a_run_the_broker_would_not_take_ends_failed_not_queued_forever(leader, unreachable_broker,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = leader.post(URL, {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 202
    run = poll(leader, response.json()["url"])
    assert run["status"] == "failed"
    assert run["error"].startswith("could not queue the ingestion (")
