"""/api/v1/checklist-items/: one item per step for a team, and per step for each of its
workloads; scoped by team (another team's is a 404), kept by the team's members."""

import pytest
from rest_framework.test import APIClient

from finops.models import ChecklistItem, ChecklistStep, TeamMembership
from tests.factories import ChecklistItemFactory, MembershipFactory, TeamFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    data = {}
    for team in (search, vision):
        data[team.name] = {
            "team": team,
            "workload": WorkloadFactory(team=team),
            "item": ChecklistItemFactory(team=team, step=ChecklistStep.AUDIT_TCO),
            "member": MembershipFactory(team=team).user,
        }
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


def test_anonymous_clients_are_refused(org):
    response = APIClient().get("/api/v1/checklist-items/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_member_lists_and_reads_only_their_teams_items(org):
    client = as_user(org["Search"]["member"])
    mine, theirs = org["Search"]["item"], org["Vision"]["item"]

    assert ids(client.get("/api/v1/checklist-items/")) == {mine.pk}
    row = client.get(f"/api/v1/checklist-items/{mine.pk}/").json()
    assert (row["team"], row["workload"], row["step"], row["status"]) == (org["Search"]["team"].pk, None, "audit_tco", "not_started")
    assert client.get(f"/api/v1/checklist-items/{theirs.pk}/").status_code == 404


def test_a_leader_sees_every_teams_items(org):
    listing = as_user(org["leader"]).get("/api/v1/checklist-items/")

    assert ids(listing) == {org["Search"]["item"].pk, org["Vision"]["item"].pk}


def test_a_member_records_changes_and_deletes_items_for_their_team_and_workloads(org):
    client = as_user(org["Search"]["member"])
    search = org["Search"]

    team_wide = client.post("/api/v1/checklist-items/", {"team": search["team"].pk, "step": "benchmark_models"}, format="json")
    for_workload = client.post("/api/v1/checklist-items/", {
        "team": search["team"].pk, "workload": search["workload"].pk, "step": "benchmark_models", "status": "in_progress",
        "owner": search["member"].pk, "notes": "L4 vs A10G", "evidence_url": "https://wiki.example.com/bench",
    }, format="json")
    assert team_wide.status_code == for_workload.status_code == 201
    item = ChecklistItem.objects.get(pk=for_workload.json()["id"])
    assert (item.workload, item.status, item.owner, item.evidence_url) == (
        search["workload"], "in_progress", search["member"], "https://wiki.example.com/bench")

    changed = client.patch(f"/api/v1/checklist-items/{item.pk}/", {"status": "done"}, format="json")
    assert changed.status_code == 200
    item.refresh_from_db()
    assert item.status == "done"

    assert client.delete(f"/api/v1/checklist-items/{item.pk}/").status_code == 204
    assert not ChecklistItem.objects.filter(pk=item.pk).exists()


def test_a_member_cannot_touch_another_teams_items_or_workloads(org):
    client = as_user(org["Search"]["member"])
    search, vision = org["Search"], org["Vision"]

    for_their_team = client.post("/api/v1/checklist-items/", {"team": vision["team"].pk, "step": "assess_platforms"}, format="json")
    for_their_workload = client.post("/api/v1/checklist-items/", {
        "team": search["team"].pk, "workload": vision["workload"].pk, "step": "assess_platforms"}, format="json")

    assert for_their_team.status_code == 400 and "team" in for_their_team.json()
    assert for_their_workload.status_code == 400 and "workload" in for_their_workload.json()
    assert client.patch(f"/api/v1/checklist-items/{vision['item'].pk}/", {"status": "done"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/checklist-items/{vision['item'].pk}/").status_code == 404
    assert ChecklistItem.objects.count() == 2


def test_a_workload_of_another_team_is_a_400_even_for_a_leader(org):
    response = as_user(org["leader"]).post("/api/v1/checklist-items/", {
        "team": org["Search"]["team"].pk, "workload": org["Vision"]["workload"].pk, "step": "assess_platforms"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"workload": ["The workload belongs to another team."]}


def test_one_item_per_step_for_a_team_and_per_step_for_each_workload(org):
    client = as_user(org["Search"]["member"])
    search = org["Search"]
    for_workload = {"team": search["team"].pk, "workload": search["workload"].pk, "step": "audit_tco"}

    team_twin = client.post("/api/v1/checklist-items/", {"team": search["team"].pk, "step": "audit_tco"}, format="json")
    first_for_workload = client.post("/api/v1/checklist-items/", for_workload, format="json")
    workload_twin = client.post("/api/v1/checklist-items/", for_workload, format="json")
    other_workload = client.post("/api/v1/checklist-items/", {**for_workload, "workload": WorkloadFactory(team=search["team"]).pk}, format="json")

    assert team_twin.status_code == 400
    assert team_twin.json() == {"step": ["This team already has an item for this step."]}
    assert first_for_workload.status_code == 201
    assert workload_twin.status_code == 400
    assert workload_twin.json() == {"step": ["This workload already has an item for this step."]}
    assert other_workload.status_code == 201


def test_changing_an_item_into_a_twin_is_a_400_and_saving_it_unchanged_is_not(org):
    client = as_user(org["Search"]["member"])
    other = ChecklistItemFactory(team=org["Search"]["team"], step=ChecklistStep.LOW_HANGING_FRUIT)

    into_twin = client.patch(f"/api/v1/checklist-items/{other.pk}/", {"step": "audit_tco"}, format="json")
    unchanged = client.put(f"/api/v1/checklist-items/{other.pk}/", {
        "team": org["Search"]["team"].pk, "step": "low_hanging_fruit", "notes": "rightsizing first"}, format="json")

    assert into_twin.status_code == 400 and "step" in into_twin.json()
    assert unchanged.status_code == 200
    other.refresh_from_db()
    assert (other.step, other.notes) == ("low_hanging_fruit", "rightsizing first")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"step": "celebrate"}, "step"),
        ({"status": "half_done"}, "status"),
        ({"evidence_url": "not a url"}, "evidence_url"),
        ({"owner": 999_999}, "owner"),
        ({"team": None}, "team"),
        ({"workload": 999_999}, "workload"),
    ],
)
def test_bad_items_get_a_400_naming_the_field(org, changes, field):
    payload = {"team": org["Search"]["team"].pk, "step": "assess_platforms", **changes}

    response = as_user(org["Search"]["member"]).post("/api/v1/checklist-items/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert ChecklistItem.objects.count() == 2


def test_the_owner_must_see_the_team(org):
    response = as_user(org["Search"]["member"]).post("/api/v1/checklist-items/", {
        "team": org["Search"]["team"].pk, "step": "assess_platforms", "owner": org["Vision"]["member"].pk}, format="json")

    assert response.status_code == 400
    assert "owner" in response.json()


def test_items_filter_by_team_workload_step_status_and_level(org):
    client = as_user(org["leader"])
    search = org["Search"]
    for_workload = ChecklistItemFactory(team=search["team"], workload=search["workload"], step=ChecklistStep.BENCHMARK_MODELS,
                                        status=ChecklistItem.Status.DONE)

    assert ids(client.get(f"/api/v1/checklist-items/?team={search['team'].pk}")) == {search["item"].pk, for_workload.pk}
    assert ids(client.get(f"/api/v1/checklist-items/?workload={search['workload'].pk}")) == {for_workload.pk}
    assert ids(client.get("/api/v1/checklist-items/?step=benchmark_models")) == {for_workload.pk}
    assert ids(client.get("/api/v1/checklist-items/?status=done")) == {for_workload.pk}
    assert ids(client.get("/api/v1/checklist-items/?team_level=true")) == {search["item"].pk, org["Vision"]["item"].pk}
    assert ids(client.get("/api/v1/checklist-items/?team_level=false")) == {for_workload.pk}
