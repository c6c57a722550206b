"""/api/v1/initiatives/: scoped by team (another team's is a 404), kept by the team's
members, who may only use their team's workloads; leaders may link any workload, and members
never see the links to workloads they cannot see."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from finops.models import Initiative, TeamMembership
from tests.factories import InitiativeFactory, MembershipFactory, TeamFactory, UserFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    data = {}
    for team in (search, vision):
        workload = WorkloadFactory(team=team)
        data[team.name] = {
            "team": team,
            "workload": workload,
            "initiative": InitiativeFactory(team=team, workloads=[workload]),
            "member": MembershipFactory(team=team).user,
        }
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


def an_initiative(side, **changes) -> dict:
    payload = {
        "title": "INT8 quantization of the ranker", "team": side["team"].pk, "workloads": [side["workload"].pk],
        "technique": "quantization", "expected_monthly_saving": "1200.00", "implementation_cost": "4000.00",
    }
    payload.update(changes)
    return payload


def test_anonymous_clients_are_refused(org):
    response = APIClient().get("/api/v1/initiatives/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_member_lists_and_reads_only_their_teams_initiatives(org):
    client = as_user(org["Search"]["member"])
    mine, theirs = org["Search"]["initiative"], org["Vision"]["initiative"]

    assert ids(client.get("/api/v1/initiatives/")) == {mine.pk}
    row = client.get(f"/api/v1/initiatives/{mine.pk}/").json()
    assert (row["team"], row["workloads"], row["status"], row["baseline_days"]) == (
        org["Search"]["team"].pk, [org["Search"]["workload"].pk], "proposed", 28)
    assert client.get(f"/api/v1/initiatives/{theirs.pk}/").status_code == 404


def test_a_leader_sees_every_teams_initiatives(org):
    listing = as_user(org["leader"]).get("/api/v1/initiatives/")

    assert ids(listing) == {org["Search"]["initiative"].pk, org["Vision"]["initiative"].pk}


def test_a_member_records_changes_and_deletes_their_teams_initiative(org):
    client = as_user(org["Search"]["member"])
    search = org["Search"]

    created = client.post("/api/v1/initiatives/", an_initiative(search, owner=search["member"].pk), format="json")
    assert created.status_code == 201
    initiative = Initiative.objects.get(pk=created.json()["id"])
    assert (initiative.team, list(initiative.workloads.all()), initiative.owner) == (search["team"], [search["workload"]], search["member"])
    assert (initiative.expected_monthly_saving, initiative.implementation_cost) == (Decimal("1200"), Decimal("4000"))

    changed = client.patch(f"/api/v1/initiatives/{initiative.pk}/", {
        "status": "done", "started_on": "2026-09-01", "effective_on": "2026-09-15",
    }, format="json")
    assert changed.status_code == 200
    initiative.refresh_from_db()
    assert (initiative.status, initiative.effective_on) == ("done", date(2026, 9, 15))

    assert client.delete(f"/api/v1/initiatives/{initiative.pk}/").status_code == 204
    assert not Initiative.objects.filter(pk=initiative.pk).exists()


def test_a_member_cannot_touch_another_teams_initiatives_or_workloads(org):
    client = as_user(org["Search"]["member"])
    search, vision = org["Search"], org["Vision"]

    for_their_team = client.post("/api/v1/initiatives/", an_initiative(vision), format="json")
    with_their_workload = client.post("/api/v1/initiatives/", an_initiative(search, workloads=[vision["workload"].pk]), format="json")

    assert for_their_team.status_code == 400 and "team" in for_their_team.json()
    assert with_their_workload.status_code == 400 and "workloads" in with_their_workload.json()
    assert client.patch(f"/api/v1/initiatives/{vision['initiative'].pk}/", {"title": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/initiatives/{vision['initiative'].pk}/").status_code == 404
    assert Initiative.objects.count() == 2


def test_a_member_of_two_teams_keeps_each_initiative_to_its_own_teams_workloads(org):
    both = MembershipFactory(team=org["Search"]["team"]).user
    MembershipFactory(team=org["Vision"]["team"], user=both)
    client = as_user(both)
    search, vision = org["Search"], org["Vision"]

    mixed = client.post("/api/v1/initiatives/", an_initiative(search, workloads=[search["workload"].pk, vision["workload"].pk]), format="json")
    moved = client.patch(f"/api/v1/initiatives/{search['initiative'].pk}/", {"team": vision["team"].pk}, format="json")
    moved_with_workloads = client.patch(f"/api/v1/initiatives/{search['initiative'].pk}/", {
        "team": vision["team"].pk, "workloads": [vision["workload"].pk]}, format="json")

    assert mixed.status_code == 400 and "workloads" in mixed.json()
    assert moved.status_code == 400 and "workloads" in moved.json()
    assert moved_with_workloads.status_code == 200
    assert Initiative.objects.get(pk=search["initiative"].pk).team == vision["team"]


def test_a_leader_links_workloads_of_several_teams_and_members_see_only_theirs(org):
    search, vision = org["Search"], org["Vision"]

    created = as_user(org["leader"]).post("/api/v1/initiatives/", an_initiative(
        search, technique="right_sizing", workloads=[search["workload"].pk, vision["workload"].pk]), format="json")
    assert created.status_code == 201
    initiative = Initiative.objects.get(pk=created.json()["id"])

    shown = as_user(search["member"]).get(f"/api/v1/initiatives/{initiative.pk}/").json()
    assert shown["workloads"] == [search["workload"].pk]

    # Replacing the list they were shown keeps the link they were not shown.
    another = WorkloadFactory(team=search["team"])
    changed = as_user(search["member"]).patch(f"/api/v1/initiatives/{initiative.pk}/", {"workloads": [another.pk]}, format="json")
    assert changed.status_code == 200
    assert changed.json()["workloads"] == [another.pk]
    assert set(initiative.workloads.all()) == {another, vision["workload"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "done"}, "effective_on"),
        ({"started_on": "2026-09-15", "effective_on": "2026-09-01"}, "effective_on"),
        ({"workloads": []}, "workloads"),
        ({"workloads": [999_999]}, "workloads"),
        ({"technique": "magic"}, "technique"),
        ({"status": "finished"}, "status"),
        ({"implementation_cost": "-1"}, "implementation_cost"),
        ({"baseline_days": 0}, "baseline_days"),
        ({"expected_monthly_saving": "1e30"}, "expected_monthly_saving"),
        ({"currency": "eur"}, "currency"),
        ({"title": ""}, "title"),
        ({"owner": 999_999}, "owner"),
    ],
)
def test_bad_initiatives_get_a_400_naming_the_field(org, changes, field):
    response = as_user(org["leader"]).post("/api/v1/initiatives/", an_initiative(org["Search"], **changes), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Initiative.objects.count() == 2


def test_marking_an_initiative_done_without_its_live_date_is_a_400(org):
    initiative = org["Search"]["initiative"]
    client = as_user(org["Search"]["member"])

    done = client.patch(f"/api/v1/initiatives/{initiative.pk}/", {"status": "done"}, format="json")
    started_late = client.patch(f"/api/v1/initiatives/{initiative.pk}/", {"effective_on": "2026-09-01"}, format="json")
    started_after = client.patch(f"/api/v1/initiatives/{initiative.pk}/", {"started_on": "2026-09-02"}, format="json")

    assert done.status_code == 400 and "effective_on" in done.json()
    assert started_late.status_code == 200
    assert started_after.status_code == 400 and "effective_on" in started_after.json()
    initiative.refresh_from_db()
    assert (initiative.status, initiative.started_on) == ("proposed", None)


def test_the_owner_must_see_the_team(org):
    client = as_user(org["Search"]["member"])
    search = org["Search"]

    outsider = client.post("/api/v1/initiatives/", an_initiative(search, owner=org["Vision"]["member"].pk), format="json")
    leader = client.post("/api/v1/initiatives/", an_initiative(search, owner=org["leader"].pk), format="json")
    inactive = client.post("/api/v1/initiatives/", an_initiative(search, owner=UserFactory(is_active=False).pk), format="json")

    assert outsider.status_code == 400 and "owner" in outsider.json()
    assert leader.status_code == 201
    assert inactive.status_code == 400 and "owner" in inactive.json()


def test_initiatives_filter_by_team_workload_status_and_technique(org):
    client = as_user(org["leader"])
    search, vision = org["Search"], org["Vision"]
    batching = InitiativeFactory(team=vision["team"], workloads=[vision["workload"], search["workload"]],
                                 technique=Initiative.Technique.BATCHING, status=Initiative.Status.IN_PROGRESS)

    assert ids(client.get(f"/api/v1/initiatives/?team={vision['team'].pk}")) == {vision["initiative"].pk, batching.pk}
    assert ids(client.get(f"/api/v1/initiatives/?workload={search['workload'].pk}")) == {search["initiative"].pk, batching.pk}
    assert ids(client.get("/api/v1/initiatives/?technique=batching")) == {batching.pk}
    assert ids(client.get("/api/v1/initiatives/?status=in_progress")) == {batching.pk}
    assert client.get("/api/v1/initiatives/?status=finished").status_code == 400


def test_a_member_filtering_by_another_teams_workload_learns_nothing(org):
    client = as_user(org["Search"]["member"])

    theirs = client.get(f"/api/v1/initiatives/?workload={org['Vision']['workload'].pk}")
    unknown = client.get("/api/v1/initiatives/?workload=999999")

    assert theirs.status_code == unknown.status_code == 400
    assert theirs.json() == unknown.json()


def test_each_initiative_carries_its_measured_saving_roi_and_confidence(client):
    from datetime import timedelta

    from django.utils import timezone

    from finops.models import DailySpend, InferenceVolume
    from tests.factories import InitiativeFactory, MembershipFactory, WorkloadFactory

    workload = WorkloadFactory()
    go_live = timezone.localdate() - timedelta(days=10)
    for offset in range(-10, 10):  # 0.010 a request before, 0.008 after, flat traffic: 20.00 a day
        day = go_live + timedelta(days=offset)
        cost = Decimal("100.00") if offset < 0 else Decimal("80.00")
        DailySpend.objects.create(
            day=day, team=workload.team, workload=workload, provider_name="AWS", service_name="EC2",
            service_category="Compute", charge_category="Usage", billing_currency="USD", billed_cost=cost,
            effective_cost=cost, list_cost=cost, record_count=1,
        )
        InferenceVolume.objects.create(workload=workload, day=day, requests=10_000)
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], status="done", effective_on=go_live,
                                   baseline_days=10, implementation_cost=Decimal("100.00"))
    client.force_login(MembershipFactory(team=workload.team).user)

    listed = client.get("/api/v1/initiatives/").json()["results"][0]["measured"]
    single = client.get(f"/api/v1/initiatives/{initiative.pk}/").json()["measured"]

    assert listed == single
    assert (listed["realized_saving"], listed["roi"], listed["confidence"]) == ("200.00", "1.0000", "medium")
    assert listed["days_measured_after"] == 10
