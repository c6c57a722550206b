import io
from datetime import date

import pytest

from finops.models import InferenceVolume, Workload
from finops.services.volume_import import inference_volumes_import_csv
from ingest.errors import IngestError
from tests.factories import MembershipFactory, WorkloadFactory

pytestmark = pytest.mark.django_db


def _import(text: str, workloads=None) -> int:
    return inference_volumes_import_csv(
        stream=io.BytesIO(text.encode()), source_name="volumes.csv",
        team_workloads=workloads if workloads is not None else Workload.objects.all(),
    )


def test_it_sets_each_workload_day_and_a_second_import_replaces_it():
    WorkloadFactory(slug="ranker")
    text = "\ufeffWorkload,Date,Requests,Prompt_Tokens,Completion_Tokens\r\nranker,2026-10-01,\"12,000\",5,7\r\n\r\nranker,2026-10-02,9,,\r\n"

    assert _import(text) == 2
    assert _import("workload,day,requests\nranker,2026-10-01,100\n") == 1

    volumes = {v.day: (v.requests, v.input_tokens, v.output_tokens, v.source) for v in InferenceVolume.objects.all()}
    assert volumes == {date(2026, 10, 1): (100, 0, 0, "csv"), date(2026, 10, 2): (9, 0, 0, "csv")}


@pytest.mark.parametrize("row, column, words", [
    ("ranker,2026-13-01,5", "day", "not a date"),
    ("ranker,2026-10-01,-5", "requests", "not a whole, non-negative count"),
    ("ranker,2026-10-01,1.5", "requests", "not a whole"),
    ("ranker,2026-10-01,", "requests", "a value is required"),
    ("nobody,2026-10-01,5", "workload", "not the slug of a workload"),
    ("ranker,2026-10-01", None, "the row has 2 fields"),
])
def test_a_bad_row_names_line_and_column_and_nothing_is_written(row, column, words):
    WorkloadFactory(slug="ranker")

    with pytest.raises(IngestError) as raised:
        _import(f"workload,day,requests\nranker,2026-10-05,1\n{row}\n")

    message = str(raised.value)
    assert "volumes.csv, line 3" in message and words in message
    if column:
        assert f"column '{column}'" in message
    assert not InferenceVolume.objects.exists()


def test_a_missing_required_column_is_named():
    with pytest.raises(IngestError, match="required inference volume column requests is missing"):
        _import("workload,day\nranker,2026-10-01\n")


def test_another_teams_workload_reads_as_unknown_and_the_page_shows_the_error(client):
    ours, theirs = WorkloadFactory(slug="ours"), WorkloadFactory(slug="theirs")
    client.force_login(MembershipFactory(team=ours.team).user)
    upload = io.BytesIO(b"workload,day,requests\nours,2026-10-01,5\ntheirs,2026-10-01,5\n")
    upload.name = "volumes.csv"

    response = client.post("/manage/volumes/", {"file": upload})

    assert response.status_code == 400
    assert b"Nothing was imported" in response.content and b"line 3" in response.content
    assert not InferenceVolume.objects.exists()
    good = io.BytesIO(b"workload,day,requests\nours,2026-10-01,5\n")
    good.name = "volumes.csv"
    assert client.post("/manage/volumes/", {"file": good}).status_code == 302
    assert InferenceVolume.objects.get().workload == ours
    client.logout()
    assert client.get("/manage/volumes/").status_code == 302
