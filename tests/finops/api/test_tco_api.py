"""/api/v1/tco-rules/ (global: everyone reads, leaders change, each change queues a
reclassification) and /api/v1/tco-line-items/ (team data: another team's is a 404)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from finops import tasks
from finops.models import CostRecord, IngestRun, TcoCategory, TcoLineItem, TcoRule, TeamMembership
from tests.factories import MembershipFactory, TcoLineItemFactory, TcoRuleFactory, TeamFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    data = {"rule": TcoRuleFactory(name="Egress", service_name="*data transfer*", category=TcoCategory.DATA_EGRESS)}
    for team in (search, vision):
        workload = WorkloadFactory(team=team)
        data[team.name] = {
            "team": team,
            "workload": workload,
            "item": TcoLineItemFactory(team=team, workload=workload),
            "member": MembershipFactory(team=team).user,
        }
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


@pytest.fixture
def reclassifications(monkeypatch):
    """Counts the reclassifications queued (and run: the callbacks are executed) by a test."""
    queued = []
    monkeypatch.setattr(tasks.reclassify_cost_records, "delay", lambda: queued.append("queued"))
    return queued


@pytest.mark.parametrize("url", ["/api/v1/tco-rules/", "/api/v1/tco-line-items/"])
def test_anonymous_clients_are_refused(org, url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


# --- rules ---


def test_every_member_reads_the_rules(org):
    client = as_user(org["Vision"]["member"])
    rule = org["rule"]

    listing = client.get("/api/v1/tco-rules/", {"limit": 1000})
    assert listing.json()["count"] == TcoRule.objects.count() > 1  # with the built-in defaults
    assert rule.pk in ids(listing)
    row = client.get(f"/api/v1/tco-rules/{rule.pk}/").json()
    assert (row["service_name"], row["category"], row["managed_premium_percent"], row["builtin"]) == (
        "*data transfer*", "data_egress", "0.00", False)


def test_members_cannot_change_rules(org, reclassifications, django_capture_on_commit_callbacks):
    client = as_user(org["Search"]["member"])
    rule = org["rule"]

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/tco-rules/", {"name": "x", "service_name": "*", "category": "other"})
        changed = client.patch(f"/api/v1/tco-rules/{rule.pk}/", {"category": "storage"})
        deleted = client.delete(f"/api/v1/tco-rules/{rule.pk}/")

    assert (created.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert TcoRule.objects.get(pk=rule.pk).category == TcoCategory.DATA_EGRESS
    assert not TcoRule.objects.filter(name="x").exists()
    assert reclassifications == []


def test_a_leader_creates_changes_and_deletes_rules_and_each_change_reclassifies(org, reclassifications, django_capture_on_commit_callbacks):
    client = as_user(org["leader"])

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/tco-rules/", {
            "name": "SageMaker hosting", "priority": 10, "service_name": "Amazon SageMaker", "category": "compute",
            "is_gpu": True, "managed_premium_percent": "20.5",
        })
    assert created.status_code == 201
    rule = TcoRule.objects.get(pk=created.json()["id"])
    assert (rule.priority, rule.is_gpu, rule.managed_premium_percent, rule.enabled) == (10, True, Decimal("20.50"), True)
    assert reclassifications == ["queued"]

    with django_capture_on_commit_callbacks(execute=True):
        changed = client.patch(f"/api/v1/tco-rules/{rule.pk}/", {"managed_premium_percent": "100"})
    assert changed.status_code == 200
    assert changed.json()["managed_premium_percent"] == "100.00"
    assert reclassifications == ["queued"] * 2

    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(f"/api/v1/tco-rules/{rule.pk}/")
    assert deleted.status_code == 204
    assert not TcoRule.objects.filter(pk=rule.pk).exists()
    assert reclassifications == ["queued"] * 3


def test_a_new_rule_reclassifies_the_records_it_matches_once_committed(org, django_capture_on_commit_callbacks):
    when = datetime(2026, 10, 1, tzinfo=UTC)
    record = CostRecord.objects.create(
        ingest_run=IngestRun.objects.create(source="test"), workload=org["Search"]["workload"], charge_period_start=when,
        charge_period_end=when, billing_period_start=when, billing_period_end=when, provider_name="Acme",
        billing_account_id="1", service_name="Acme GPU Cloud", charge_category="Usage", billed_cost=Decimal("10"),
        effective_cost=Decimal("10"), billing_currency="USD",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(org["leader"]).post("/api/v1/tco-rules/", {
            "name": "Acme GPUs", "priority": 0, "provider_name": "acme", "service_name": "*gpu*", "category": "compute",
            "is_gpu": True,
        })

    assert response.status_code == 201
    record.refresh_from_db()
    assert (record.tco_category, record.is_gpu) == ("compute", True)


def test_a_rejected_rule_queues_no_reclassification(org, reclassifications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(org["leader"]).post("/api/v1/tco-rules/", {"name": "x", "category": "other"})

    assert response.status_code == 400
    assert reclassifications == []


def test_builtin_cannot_be_set_or_cleared(org, reclassifications):
    client = as_user(org["leader"])
    builtin = TcoRuleFactory(builtin=True)

    created = client.post("/api/v1/tco-rules/", {"name": "x", "sku_id": "abc", "category": "other", "builtin": True})
    changed = client.patch(f"/api/v1/tco-rules/{builtin.pk}/", {"builtin": False, "enabled": False})

    assert created.status_code == 201 and created.json()["builtin"] is False
    assert changed.status_code == 200 and changed.json()["builtin"] is True
    builtin.refresh_from_db()
    assert (builtin.builtin, builtin.enabled) == (True, False)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "no criterion", "category": "other"}, "non_field_errors"),
        ({"name": "blank criteria", "service_name": "  ", "tag_key": "", "category": "other"}, "non_field_errors"),
        ({"name": "value, no key", "service_name": "*", "tag_value": "prod", "category": "other"}, "tag_value"),
        ({"name": "over 100", "service_name": "*", "category": "compute", "managed_premium_percent": "100.01"}, "managed_premium_percent"),
        ({"name": "negative", "service_name": "*", "category": "compute", "managed_premium_percent": "-1"}, "managed_premium_percent"),
        ({"name": "unknown category", "service_name": "*", "category": "gpu"}, "category"),
        ({"name": "negative priority", "service_name": "*", "category": "other", "priority": -1}, "priority"),
    ],
)
def test_bad_rules_get_a_400_naming_the_field(org, reclassifications, payload, field):
    response = as_user(org["leader"]).post("/api/v1/tco-rules/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert not TcoRule.objects.filter(name=payload["name"]).exists()


def test_a_change_that_leaves_a_rule_without_criteria_is_a_400(org, reclassifications):
    rule = TcoRuleFactory(service_name="", tag_key="team", tag_value="search")
    client = as_user(org["leader"])

    cleared = client.patch(f"/api/v1/tco-rules/{rule.pk}/", {"tag_key": ""}, format="json")
    value_without_key = client.patch(f"/api/v1/tco-rules/{rule.pk}/", {"tag_key": "", "sku_id": "x"}, format="json")

    assert cleared.status_code == 400 and "non_field_errors" in cleared.json()
    assert value_without_key.status_code == 400 and "tag_value" in value_without_key.json()
    rule.refresh_from_db()
    assert rule.tag_key == "team"


def test_rules_filter_by_category_and_builtin(org):
    compute = TcoRuleFactory(category=TcoCategory.COMPUTE, priority=0)
    client = as_user(org["Search"]["member"])

    assert ids(client.get("/api/v1/tco-rules/?category=compute&builtin=false")) == {compute.pk}
    assert ids(client.get("/api/v1/tco-rules/?builtin=false")) == {compute.pk, org["rule"].pk}
    builtin = client.get("/api/v1/tco-rules/?builtin=true&limit=1000").json()["results"]
    assert len(builtin) == TcoRule.objects.filter(builtin=True).count()
    assert {row["category"] for row in builtin} >= {"compute", "data_egress", "storage"}
    first = client.get("/api/v1/tco-rules/?ordering=priority&limit=1").json()["results"]
    assert first[0]["id"] == compute.pk


# --- line items ---


def test_a_member_lists_and_reads_only_their_teams_line_items(org):
    client = as_user(org["Search"]["member"])
    mine, theirs = org["Search"]["item"].pk, org["Vision"]["item"].pk

    assert ids(client.get("/api/v1/tco-line-items/")) == {mine}
    row = client.get(f"/api/v1/tco-line-items/{mine}/").json()
    assert (row["amount"], row["category"], row["recurrence"]) == ("300.0000000000", "licensing", "monthly")
    assert client.get(f"/api/v1/tco-line-items/{theirs}/").status_code == 404


def test_a_leader_sees_every_teams_line_items(org):
    listing = as_user(org["leader"]).get("/api/v1/tco-line-items/")

    assert ids(listing) == {org["Search"]["item"].pk, org["Vision"]["item"].pk}


def test_members_write_line_items_of_their_own_team_only(org):
    client = as_user(org["Search"]["member"])
    search, vision = org["Search"], org["Vision"]

    created = client.post("/api/v1/tco-line-items/", {
        "team": search["team"].pk, "category": "licensing", "description": "x", "amount": "1", "start_date": "2026-01-01",
    })
    foreign = client.post("/api/v1/tco-line-items/", {
        "team": vision["team"].pk, "category": "licensing", "description": "x", "amount": "1", "start_date": "2026-01-01",
    })

    assert created.status_code == 201
    assert foreign.status_code == 400 and "team" in foreign.json()
    assert client.patch(f"/api/v1/tco-line-items/{search['item'].pk}/", {"amount": "2"}).status_code == 200
    assert client.delete(f"/api/v1/tco-line-items/{vision['item'].pk}/").status_code == 404
    assert TcoLineItem.objects.count() == 3


def test_a_leader_records_changes_and_deletes_a_line_item(org):
    client = as_user(org["leader"])
    vision = org["Vision"]

    created = client.post("/api/v1/tco-line-items/", {
        "team": vision["team"].pk, "workload": vision["workload"].pk, "category": "operations",
        "description": "On-call engineer, half time", "amount": "6250.50", "recurrence": "monthly",
        "start_date": "2026-01-01", "end_date": "2026-06-30",
    })
    assert created.status_code == 201
    item = TcoLineItem.objects.get(pk=created.json()["id"])
    assert (item.amount, item.currency, item.end_date, item.created_by) == (
        Decimal("6250.50"), "USD", date(2026, 6, 30), org["leader"])
    assert created.json()["created_by"] == org["leader"].username

    changed = client.patch(f"/api/v1/tco-line-items/{item.pk}/", {"end_date": ""})
    assert changed.status_code == 200
    item.refresh_from_db()
    assert item.end_date is None

    assert client.delete(f"/api/v1/tco-line-items/{item.pk}/").status_code == 204
    assert not TcoLineItem.objects.filter(pk=item.pk).exists()


def test_created_by_is_the_requester_whatever_is_sent(org):
    response = as_user(org["leader"]).post("/api/v1/tco-line-items/", {
        "team": org["Search"]["team"].pk, "category": "licensing", "description": "x", "amount": "1",
        "start_date": "2026-01-01", "created_by": org["Search"]["member"].pk,
    })

    assert TcoLineItem.objects.get(pk=response.json()["id"]).created_by == org["leader"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"workload": "other team's"}, "workload"),
        ({"end_date": "2025-12-31"}, "end_date"),
        ({"recurrence": "one_off", "end_date": "2026-02-01"}, "end_date"),
        ({"category": "gpu"}, "category"),
        ({"amount": "12.345678901234"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"start_date": "someday"}, "start_date"),
        ({"team": 999_999}, "team"),
    ],
)
def test_bad_line_items_get_a_400_naming_the_field(org, changes, field):
    search = org["Search"]
    payload = {
        "team": search["team"].pk, "workload": search["workload"].pk, "category": "licensing",
        "description": "Licence", "amount": "10", "start_date": "2026-01-01",
    }
    payload.update(changes)
    if payload["workload"] == "other team's":
        payload["workload"] = org["Vision"]["workload"].pk

    response = as_user(org["leader"]).post("/api/v1/tco-line-items/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert TcoLineItem.objects.count() == 2


def test_moving_a_line_item_to_a_team_that_does_not_own_its_workload_is_a_400(org):
    item = org["Search"]["item"]

    response = as_user(org["leader"]).patch(f"/api/v1/tco-line-items/{item.pk}/", {"team": org["Vision"]["team"].pk})

    assert response.status_code == 400
    assert "workload" in response.json()


def test_line_items_filter_by_team_workload_and_category(org):
    client = as_user(org["leader"])
    vision = org["Vision"]
    team_wide = TcoLineItemFactory(team=vision["team"], workload=None, category=TcoCategory.OPERATIONS)

    assert ids(client.get(f"/api/v1/tco-line-items/?team={vision['team'].pk}")) == {vision["item"].pk, team_wide.pk}
    assert ids(client.get(f"/api/v1/tco-line-items/?workload={vision['workload'].pk}")) == {vision["item"].pk}
    assert ids(client.get("/api/v1/tco-line-items/?category=operations")) == {team_wide.pk}


def test_a_member_filtering_by_another_team_learns_nothing(org):
    client = as_user(org["Search"]["member"])
    vision_team = org["Vision"]["team"].pk

    other_team = client.get(f"/api/v1/tco-line-items/?team={vision_team}")
    no_team = client.get("/api/v1/tco-line-items/?team=999999")

    assert other_team.status_code == no_team.status_code == 400
    assert other_team.json()["team"] == no_team.json()["team"]
