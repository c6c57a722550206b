"""Hostile files through the real ingestion services, database included: a bad delivery
fails as a recorded run and leaves earlier data exactly as it was; whatever a reader lets
through the database stores (no DataError, IntegrityError or ValueError out of a load);
formula-looking names reach CSV downloads as harmless text; uploads over the limit are
refused with the limit in the message."""

import csv
import gzip
import io
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.models import CostRecord, DailySpend, GpuHourly, GpuSample, IngestRun, TeamMembership
from ingest.services.billing import billing_uri_ingest
from ingest.services.gpu import gpu_uri_ingest
from tests.factories import MembershipFactory, UserFactory
from tests.ingest.hostile import CSV_BILLING_SAMPLES, GPU_SAMPLES, HOSTILE_CELLS, gzip_bomb

pytestmark = pytest.mark.django_db

FOCUS = CSV_BILLING_SAMPLES[0]
SMI = GPU_SAMPLES[0]
FORMULAS = ['=HYPERLINK("http://x")', "+cmd", "@SUM(1)"]


def write(folder: Path, name: str, data: bytes) -> Path:
    """Each delivery in a folder of its own, as exports arrive."""
    delivery = folder / f"delivery-{len(list(folder.iterdir()))}"
    delivery.mkdir()
    path = delivery / name
    path.write_bytes(data)
    return path


def ingest_billing(folder: Path, name: str, data: bytes) -> IngestRun:
    [run] = billing_uri_ingest(uri=str(write(folder, name, data)))
    return run


def rows_of(data: bytes) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) if row]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def snapshot() -> tuple[list, list]:
    """Every stored cost row and daily rollup row, to compare before and after."""
    records = list(
        CostRecord.objects.order_by("pk").values_list(
            "pk", "ingest_run_id", "billed_cost", "effective_cost", "service_name"
        )
    )
    rollup = list(
        DailySpend.objects.order_by("pk").values_list(
            "day", "service_name", "billed_cost", "effective_cost", "record_count"
        )
    )
    return records, rollup


def big_restatement(*, last_row=None) -> bytes:
    """The sample's month restated in ~1.6 MB (two CSV blocks, so rows reach the database
    before the last one is read), with the last row optionally replaced."""
    header, *rows = rows_of(FOCUS.data)
    body = [header, *(rows * 400)]
    if last_row:
        body[-1] = last_row(list(body[-1]), header)
    return csv_bytes(body)


def cell(column: str, value: str):
    def change(row: list[str], header: list[str]) -> list[str]:
        row[header.index(column)] = value
        return row

    return change


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        (
            "bill.csv",
            lambda: big_restatement(last_row=cell("BilledCost", "9" * 30)),
            "column 'BilledCost': '999999999999999999999999999999' is not a valid number",
        ),
        (
            "bill.csv",
            lambda: big_restatement(last_row=cell("ServiceName", "Amazon\x00EC2")),
            "column 'ServiceName': the value contains a NUL character",
        ),
        (
            "bill.csv",
            lambda: big_restatement(last_row=cell("ServiceName", "x" * 201)),
            "column 'ServiceName': the value is 201 characters long; at most 200 fit",
        ),
        (
            "bill.csv",
            lambda: big_restatement(last_row=cell("Tags", '{"team": "\\u0000"}')),
            "column 'Tags': tags contain a NUL character",
        ),
        (
            "bill.csv",
            lambda: big_restatement(last_row=cell("ChargePeriodStart", "0000-01-01T00:00:00Z")),
            "outside the years 1900-2199",
        ),
        (
            "bill.csv",
            lambda: big_restatement(last_row=lambda row, header: row + ["surplus"]),
            "expected 38 comma-separated values as in the header, found 39",
        ),
        (
            "bill.csv.gz",
            lambda: gzip.compress(big_restatement())[:-100],
            "the gzip data is truncated or corrupt",
        ),
        ("bill.csv", lambda: big_restatement().decode().encode("utf-16"), "not UTF-8"),
        ("bill.csv", lambda: b"", "the file is empty"),
    ],
    ids=[
        "30-digit cost",
        "NUL",
        "long name",
        "NUL in tags",
        "year 0",
        "ragged row",
        "truncated gzip",
        "utf-16",
        "empty",
    ],
)
def test_a_corrupted_second_delivery_fails_and_leaves_the_first_exactly_as_it_was(
    tmp_path, name, damage, message
):
    first = ingest_billing(tmp_path, "bill.csv", FOCUS.data)
    before = snapshot()

    second = ingest_billing(tmp_path, name, damage())

    assert first.status == IngestRun.Status.SUCCEEDED
    assert second.status == IngestRun.Status.FAILED
    assert second.error.startswith(str(tmp_path))
    assert message in second.error
    assert (second.rows_loaded, second.files) == (0, [])
    assert snapshot() == before
    assert CostRecord.objects.filter(ingest_run=first).count() == 8


def test_a_gzip_bomb_fails_as_a_run_and_leaves_earlier_data_intact(tmp_path, settings):
    settings.INGEST_MAX_INFLATED_BYTES = 16 << 20
    ingest_billing(tmp_path, "bill.csv", FOCUS.data)
    before = snapshot()
    header, row = FOCUS.data.splitlines(keepends=True)[:2]

    run = ingest_billing(tmp_path, "bill.csv.gz", gzip_bomb(header, row, inflated=1 << 30))

    assert run.status == IngestRun.Status.FAILED
    assert "the file inflates past 16 MiB (INGEST_MAX_INFLATED_BYTES)" in run.error
    assert snapshot() == before


def test_a_corrupted_gpu_delivery_fails_and_keeps_the_earlier_samples(tmp_path):
    [first] = gpu_uri_ingest(uri=str(write(tmp_path, "gpu-node-07.csv", SMI.data)))
    samples = list(GpuSample.objects.order_by("pk").values_list("pk", "sampled_at", "utilization"))
    hourly = list(GpuHourly.objects.order_by("pk").values_list("pk", "hour"))
    header, *rows = SMI.data.decode().splitlines()
    rows[-1] = rows[-1].replace("GPU-", "GPU-\x00", 1)

    [second] = gpu_uri_ingest(
        uri=str(write(tmp_path, "gpu-node-07.csv.gz", gzip.compress("\n".join([header, *rows]).encode())))
    )

    assert first.status == IngestRun.Status.SUCCEEDED
    assert second.status == IngestRun.Status.FAILED
    assert f"line {len(rows) + 1}, column 'uuid': the value contains a NUL character" in second.error
    assert list(GpuSample.objects.order_by("pk").values_list("pk", "sampled_at", "utilization")) == samples
    assert list(GpuHourly.objects.order_by("pk").values_list("pk", "hour")) == hourly


# --- whatever a reader lets through, the database stores ------------------------------------

# One database per test, shared by its examples: each ingest is its own transaction
# (savepoint) and replaces the same billing period, so examples do not see each other.
on_the_database = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hostile_cell = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(st.characters(codec="utf-8"), max_size=300))


@pytest.mark.parametrize(
    "sample", [CSV_BILLING_SAMPLES[0], CSV_BILLING_SAMPLES[2], CSV_BILLING_SAMPLES[4]], ids=str
)
@on_the_database
@given(data=st.data())
def test_any_cell_the_readers_accept_the_database_stores(sample, data):
    rows = rows_of(sample.data)
    for _ in range(data.draw(st.integers(1, 3))):
        rows[data.draw(st.integers(1, len(rows) - 1))][data.draw(st.integers(0, len(rows[0]) - 1))] = (
            data.draw(hostile_cell)
        )

    with tempfile.TemporaryDirectory() as folder:
        run = ingest_billing(
            Path(folder), sample.path.name, csv_bytes(rows)
        )  # raises on anything but bad input

    if run.status == IngestRun.Status.FAILED:
        assert run.error.startswith(folder)
    elif run.status == IngestRun.Status.SUCCEEDED:
        assert CostRecord.objects.filter(ingest_run=run).count() == run.rows_loaded == len(rows) - 1
    else:  # an example that changed nothing is the delivery loaded before
        assert run.status == IngestRun.Status.SKIPPED


@on_the_database
@given(data=st.data())
def test_any_gpu_metrics_field_the_reader_accepts_the_database_stores(data):
    header, *rows = SMI.data.decode().splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        number = data.draw(st.integers(0, len(rows) - 1))
        fields = rows[number].split(",")
        fields[data.draw(st.integers(0, len(fields) - 1))] = data.draw(hostile_cell).replace(",", "")
        rows[number] = ",".join(fields)

    with tempfile.TemporaryDirectory() as folder:
        [run] = gpu_uri_ingest(
            uri=str(
                write(
                    Path(folder),
                    "gpu-node-07.csv",
                    "\n".join([header, *rows]).encode("utf-8", "surrogatepass"),
                )
            )
        )

    assert run.status in (IngestRun.Status.SUCCEEDED, IngestRun.Status.FAILED, IngestRun.Status.SKIPPED)
    if run.status == IngestRun.Status.FAILED:
        assert run.error.startswith(folder)


# --- formula-looking names are data, and downloads disarm them ------------------------------


@pytest.fixture
def bill_with_formulas(tmp_path) -> list[str]:
    """The sample bill, with the services of its first rows named like spreadsheet formulas."""
    rows = rows_of(FOCUS.data)
    service = rows[0].index("ServiceName")
    for row, formula in zip(rows[1:], FORMULAS, strict=False):
        row[service] = formula
    run = ingest_billing(tmp_path, "bill.csv", csv_bytes(rows))
    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    return FORMULAS


def test_formula_looking_service_names_are_stored_as_they_were_written(bill_with_formulas):
    stored = set(CostRecord.objects.values_list("service_name", flat=True))

    assert set(bill_with_formulas) <= stored


def test_the_spend_download_quotes_formula_looking_names(bill_with_formulas, client):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(
        "/spend/data.csv",
        {"group_by": "service", "granularity": "month", "start": "2026-10-01", "end": "2026-10-31"},
    )

    assert response.status_code == 200
    services = [row["service"] for row in csv.DictReader(io.StringIO(response.content.decode()))]
    for formula in bill_with_formulas:
        assert "'" + formula in services
    assert not any(name.startswith(("=", "+", "@")) for name in services)


def test_the_focus_export_hands_names_back_exactly_as_data(bill_with_formulas, client):
    # A FOCUS file is read by tools, not spreadsheets (finops/selectors/focus_export.py): a
    # leading "'" would corrupt it, so the name comes back exactly, as one quoted-safe cell.
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/api/v1/export/focus.csv")

    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode()
    services = [row["ServiceName"] for row in csv.DictReader(io.StringIO(content))]
    assert set(bill_with_formulas) <= set(services)


# --- upload limits ---------------------------------------------------------------------------


@pytest.fixture
def leader_client(client, settings, tmp_path):
    settings.INGEST_UPLOAD_DIR = tmp_path / "uploads"
    client.force_login(MembershipFactory(role=TeamMembership.Role.LEADER).user)
    return client


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_parts_each_under_the_limit_but_over_it_together_are_refused_with_both_sizes(leader_client, settings):
    settings.INGEST_UPLOAD_MAX_BYTES = len(FOCUS.data) + 100

    response = leader_client.post(
        "/ingest/", {"files": [upload("part-1.csv", FOCUS.data), upload("part-2.csv", FOCUS.data)]}
    )

    assert response.status_code == 400
    total, limit = filesizeformat(2 * len(FOCUS.data)), filesizeformat(len(FOCUS.data) + 100)
    sizes = f"The upload is {total}; the limit is {limit}."
    assert sizes.encode() in response.content
    assert b"manage.py ingest_billing" in response.content
    assert not IngestRun.objects.exists()
    assert not settings.INGEST_UPLOAD_DIR.exists()  # nothing of a refused upload is kept


def test_an_upload_exactly_at_the_limit_is_accepted(
    leader_client, settings, django_capture_on_commit_callbacks
):
    settings.INGEST_UPLOAD_MAX_BYTES = len(FOCUS.data)

    with django_capture_on_commit_callbacks(execute=True):
        response = leader_client.post("/ingest/", {"files": [upload("bill.csv", FOCUS.data)]})

    assert response.status_code == 302
    assert IngestRun.objects.get().status == IngestRun.Status.SUCCEEDED


def test_an_uploaded_gzip_bomb_under_the_upload_limit_fails_with_the_inflation_limit(
    leader_client, settings, django_capture_on_commit_callbacks
):
    settings.INGEST_MAX_INFLATED_BYTES = 16 << 20
    header, row = FOCUS.data.splitlines(keepends=True)[:2]
    bomb = gzip_bomb(header, row, inflated=1 << 30)
    assert len(bomb) < settings.INGEST_UPLOAD_MAX_BYTES

    with django_capture_on_commit_callbacks(execute=True):
        response = leader_client.post("/ingest/", {"files": [upload("bill.csv.gz", bomb)]})

    assert response.status_code == 302
    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.FAILED
    assert "inflates past 16 MiB" in run.error
    assert b"inflates past 16 MiB" in leader_client.get("/ingest/").content
    assert not CostRecord.objects.exists()
