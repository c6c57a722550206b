"""An upload over INGEST_UPLOAD_MAX_BYTES is refused before any handler after ours (memory,
temporary file) receives a byte of it, and the page says why instead of failing CSRF or 500."""

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from finops.models import IngestRun, TeamMembership
from ingest import upload_handlers
from ingest.upload_handlers import UploadSizeLimitHandler, upload_refusal
from tests.factories import MembershipFactory

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"
LIMIT = 1000

received_after_the_limit_handler: list[int] = []


class RecordingHandler(FileUploadHandler):
    """Stands where Django's spooling handlers stand: whatever reaches it would be written."""

    chunk_size = 256  # the parser reads in the smallest handler's chunks

    def receive_data_chunk(self, raw_data, start):
        received_after_the_limit_handler.append(len(raw_data))
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture(autouse=True)
def small_limit(settings, monkeypatch):
    settings.INGEST_UPLOAD_MAX_BYTES = LIMIT
    # The framing allowance (64 KiB) would dwarf these small bodies: the mechanism is tested.
    monkeypatch.setattr(upload_handlers, "MULTIPART_FRAMING_ALLOWANCE", 0)
    settings.FILE_UPLOAD_HANDLERS = [
        "ingest.upload_handlers.UploadSizeLimitHandler",
        f"{__name__}.RecordingHandler",
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
    ]
    received_after_the_limit_handler.clear()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.mark.django_db
def test_a_browser_upload_over_the_limit_keeps_its_csrf_token_and_gets_the_message(settings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(MembershipFactory(role=TeamMembership.Role.LEADER).user)
    browser.get("/ingest/")
    token = browser.cookies["csrftoken"].value

    # As the page's form sends it: the token first, then the files.
    response = browser.post("/ingest/", {"csrfmiddlewaretoken": token, "files": [upload("big.csv", FOCUS.read_bytes())]})

    assert response.status_code == 413
    assert re.search(r"The upload is \d\.\d\xa0KB; the limit is 1000\xa0bytes\.", response.content.decode())
    assert received_after_the_limit_handler == []
    assert not IngestRun.objects.exists()
    assert not settings.INGEST_UPLOAD_DIR.exists()


@pytest.mark.django_db
def test_an_upload_under_the_limit_passes_through_unchanged(settings, django_capture_on_commit_callbacks):
    settings.INGEST_UPLOAD_MAX_BYTES = 1 << 20
    client = Client()
    client.force_login(MembershipFactory(role=TeamMembership.Role.LEADER).user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/ingest/", {"files": [upload("oct.csv", FOCUS.read_bytes())]})

    assert response.status_code == 302
    assert sum(received_after_the_limit_handler) == FOCUS.stat().st_size
    assert IngestRun.objects.get().rows_loaded == 8


def parse(body: bytes, *, declared: int) -> tuple[HttpRequest, dict]:
    request = HttpRequest()
    handlers = [UploadSizeLimitHandler(request), RecordingHandler(request), MemoryFileUploadHandler(request)]
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(declared)}
    post, files = MultiPartParser(meta, io.BytesIO(body), handlers).parse()
    return request, {"post": post, "files": files}


def test_a_body_declared_over_the_limit_is_refused_at_its_first_file():
    body = encode_multipart(BOUNDARY, {"format": "focus", "files": upload("big.csv", b"x" * 5000)})

    request, parsed = parse(body, declared=len(body))

    refusal = upload_refusal(request)
    assert refusal.status == 413
    assert re.match(r"The upload is 5\.\d\xa0KB; the limit is 1000\xa0bytes\.", refusal.message)
    assert parsed["post"]["format"] == "focus"  # fields before the file are kept (the CSRF token)
    assert not parsed["files"]
    assert received_after_the_limit_handler == []


def test_bytes_beyond_what_was_declared_are_counted_and_refused(settings):
    """A server that hands over more than the Content-Length it passed on (a body read to its
    end rather than to the declared length): the file bytes themselves are counted."""
    settings.INGEST_UPLOAD_MAX_BYTES = 2000
    body = encode_multipart(BOUNDARY, {"files": upload("big.csv", b"x" * 5000)})

    request, parsed = parse(body, declared=1500)

    assert upload_refusal(request).message == (
        "The upload is over the limit of 2.0\xa0KB. "
        "Load bigger exports from S3 or a folder with `manage.py ingest_billing`."
    )
    assert not parsed["files"]
    # The chunks within the limit went on; the one that passed it, and the rest, did not.
    assert 0 < sum(received_after_the_limit_handler) <= 2000


def test_a_body_within_the_limit_is_not_refused():
    body = encode_multipart(BOUNDARY, {"files": upload("small.csv", b"x" * 100)})

    request, parsed = parse(body, declared=len(body))

    assert upload_refusal(request) is None
    assert parsed["files"]["files"].read() == b"x" * 100
