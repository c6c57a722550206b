import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finops.models import ChecklistStep
from tests.factories import BenchmarkFactory, ChecklistItemFactory, MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def benchmarked():
    workload = WorkloadFactory(team=TeamFactory(name="Search"), name="Ranker")
    BenchmarkFactory(workload=workload, instance_type="g5.xlarge")
    ChecklistItemFactory(team=workload.team, step=ChecklistStep.AUDIT_TCO, status="in_progress", notes="CUR tags first")
    return workload


def test_the_page_shows_each_step_with_its_evidence_for_the_team_and_its_workloads(client, benchmarked):
    client.force_login(MembershipFactory(team=benchmarked.team).user)

    response = client.get("/checklist/")

    [(team, team_entries, workloads)] = response.context["subjects"]
    statuses = {linked["entry"].step: linked["entry"].status for linked in team_entries}
    assert statuses == {"audit_tco": "in_progress", "benchmark_models": "done", "low_hanging_fruit": "not_started",
                        "assess_platforms": "not_started", "start_small_and_scale": "not_started"}
    [(workload, entries)] = workloads
    assert workload == benchmarked and entries[1]["entry"].proven
    assert b"CUR tags first" in response.content and b"proven by data" in response.content


def test_the_csv_lists_every_step_of_the_team_and_each_workload(client, benchmarked):
    client.force_login(MembershipFactory(team=benchmarked.team).user)

    rows = list(csv.DictReader(io.StringIO(client.get("/checklist/data.csv").content.decode())))

    assert len(rows) == 10
    benchmark = [row for row in rows if row["step"] == "benchmark_models"]
    assert [(row["workload"], row["status"], row["proven_by_data"]) for row in benchmark] == [
        ("", "done", "True"), ("Ranker", "done", "True")]


def test_another_teams_checklist_is_not_shown_or_downloaded(client, benchmarked):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    response = client.get("/checklist/")
    rows = list(csv.DictReader(io.StringIO(client.get("/checklist/data.csv").content.decode())))

    assert [team for team, _, _ in response.context["subjects"]] != [benchmarked.team]
    assert all(row["team"] != "Search" for row in rows)
    assert b"Ranker" not in response.content


def test_filtering_to_a_workload_of_another_team_is_refused(client, benchmarked):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    assert client.get(f"/checklist/?workload={benchmarked.pk}").status_code == 400


def test_the_page_queries_the_same_whatever_the_number_of_teams_and_workloads(client):
    client.force_login(UserFactory(is_staff=True))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/checklist/").status_code == 200
        return len(captured)

    for _ in range(2):
        BenchmarkFactory(workload=WorkloadFactory(team=TeamFactory()))
    queries()  # the filter bar's choices are cached after the first request
    few = queries()
    for _ in range(6):
        team = TeamFactory()
        for _ in range(3):
            BenchmarkFactory(workload=WorkloadFactory(team=team))
    assert queries() == few
