import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from finops.models import CostRecord, IngestRun, TeamMembership
from ingest import upload_handlers
from ingest.tasks import ingest_billing_upload
from tests.factories import MembershipFactory, UserFactory

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"

pytestmark = pytest.mark.django_db


@pytest.fixture
def leader_client(client):
    client.force_login(MembershipFactory(role=TeamMembership.Role.LEADER, user__username="lead").user)
    return client


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_a_leader_uploads_an_export_and_it_is_ingested(leader_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = leader_client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())], "format": "auto"})

    assert response.status_code == 302
    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.source.startswith("upload ") and run.source.endswith(" by lead: oct.csv")
    assert run.files[0]["name"].endswith("/oct.csv")
    assert CostRecord.objects.count() == 8
    page = leader_client.get("/ingest/")
    assert b"1 file, 8 rows loaded" in page.content


def test_the_parts_of_one_export_upload_as_one_delivery(leader_client, django_capture_on_commit_callbacks):
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    parts = [upload("part-1.csv", "\n".join([header, *rows[:3]]).encode()),
             upload("part-2.csv", "\n".join([header, *rows[3:]]).encode())]

    with django_capture_on_commit_callbacks(execute=True):
        leader_client.post("/ingest/", {"files": parts, "format": "focus"})

    run = IngestRun.objects.get()
    assert [f["rows"] for f in run.files] == [3, 5]


def test_the_run_is_listed_as_queued_as_soon_as_the_files_are_received(leader_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker has picked it up yet
        response = leader_client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())]})
        page = leader_client.get(response["Location"])

    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.QUEUED
    assert f"Received 1 file(s) as run #{run.pk}; ingestion has started." in page.content.decode()
    assert '<tr class="status-queued">' in page.content.decode()


def test_parts_that_share_a_name_do_not_overwrite_each_other(leader_client, django_capture_on_commit_callbacks):
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    parts = [upload("part.csv", "\n".join([header, *rows[:3]]).encode()),
             upload("part.csv", "\n".join([header, *rows[3:]]).encode())]

    with django_capture_on_commit_callbacks(execute=True):
        leader_client.post("/ingest/", {"files": parts})

    run = IngestRun.objects.get()
    assert [(f["name"].rsplit("/", 1)[1], f["rows"]) for f in run.files] == [("part-2.csv", 5), ("part.csv", 3)]
    assert CostRecord.objects.count() == 8


def test_a_worker_that_cannot_see_the_upload_folder_fails_the_run_saying_why(
    leader_client, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        leader_client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())]})
    shutil.rmtree(settings.INGEST_UPLOAD_DIR)  # as on a worker without the shared volume

    for enqueue in queued:
        enqueue()

    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.FAILED
    assert run.error.endswith("the uploaded files are not there; the web server and the workers must share "
                              "INGEST_UPLOAD_DIR")


def test_a_redelivered_upload_task_leaves_its_finished_run_alone(leader_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        leader_client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())]})
    run = IngestRun.objects.get()
    folder_name = Path(run.files[0]["name"]).parent.name

    again = ingest_billing_upload.apply(args=[run.pk, folder_name, "auto"]).get()

    assert again == run.pk
    assert IngestRun.objects.get() == run and IngestRun.objects.get().finished_at == run.finished_at
    assert CostRecord.objects.count() == 8


def test_an_uploaded_name_cannot_choose_the_path(leader_client, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        leader_client.post("/ingest/", {"files": [upload("../../etc/evil.csv", FOCUS.read_bytes())]})

    written = list(settings.INGEST_UPLOAD_DIR.rglob("*.csv"))
    assert [path.name for path in written] == ["evil.csv"]
    assert written[0].parent.parent == settings.INGEST_UPLOAD_DIR


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], b"This field is required."),
        ([upload("notes.txt", b"hello")], b"notes.txt: expected a .csv, .csv.gz, .parquet or .json billing export."),
    ],
)
def test_bad_uploads_get_a_400_with_the_field_error(leader_client, files, message):
    response = leader_client.post("/ingest/", {"files": files, "format": "auto"})

    assert response.status_code == 400
    assert message in response.content
    assert not IngestRun.objects.exists()


def test_an_upload_over_the_limit_is_refused_with_the_limit_before_it_is_stored(leader_client, settings, monkeypatch):
    settings.INGEST_UPLOAD_MAX_BYTES = 1000
    monkeypatch.setattr(upload_handlers, "MULTIPART_FRAMING_ALLOWANCE", 0)  # a body this small is all framing

    response = leader_client.post("/ingest/", {"files": [upload("big.csv", FOCUS.read_bytes())]})

    assert response.status_code == 413
    assert b"the limit is 1000\xc2\xa0bytes" in response.content
    assert not settings.INGEST_UPLOAD_DIR.exists()
    assert not IngestRun.objects.exists()


def test_an_unknown_format_is_a_field_error(leader_client):
    response = leader_client.post("/ingest/", {"files": [upload("a.csv", FOCUS.read_bytes())], "format": "excel"})

    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_a_failed_ingest_shows_its_error_on_the_page(leader_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        leader_client.post("/ingest/", {"files": [upload("bad.csv", b"a,b\n1,2\n")]})

    page = leader_client.get("/ingest/")
    assert b"unrecognised billing format" in page.content


def test_members_cannot_see_or_use_the_page(client):
    client.force_login(MembershipFactory(role=TeamMembership.Role.MEMBER).user)

    assert client.get("/ingest/").status_code == 403
    assert client.post("/ingest/", {"files": [upload("a.csv", FOCUS.read_bytes())]}).status_code == 403
    assert not IngestRun.objects.exists()


def test_staff_can_upload(client, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 302


def test_anonymous_visitors_are_sent_to_login(client):
    assert client.get("/ingest/").status_code == 302
