"""/api/v1/alert-rules/ and /api/v1/alerts/: scoped like every endpoint (another team's is a
404), leaders change rules, anyone who sees a rule or alert mutes, acknowledges, resolves."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from finops.models import Alert, AlertRule, TeamMembership
from finops.services.alert_detection import alert_rules_ensure_defaults
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 10)


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    alert_rules_ensure_defaults()
    data = {}
    for team in (search, vision):
        rule = AlertRule.objects.get(team=team, is_default=True)
        data[team.name] = {
            "team": team,
            "workload": WorkloadFactory(team=team),
            "rule": rule,
            "alert": Alert.objects.create(rule=rule, scope_label=rule.scope_label, day=DAY, currency="USD",
                                          observed_amount=Decimal("1900.50"), expected_amount=Decimal("1000.25")),
            "member": MembershipFactory(team=team).user,
        }
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


@pytest.mark.parametrize("endpoint,key", [("alert-rules", "rule"), ("alerts", "alert")])
def test_a_member_lists_and_reads_only_their_team(org, endpoint, key):
    client = as_user(org["Search"]["member"])
    mine, theirs = org["Search"][key].pk, org["Vision"][key].pk

    assert ids(client.get(f"/api/v1/{endpoint}/")) == {mine}
    assert client.get(f"/api/v1/{endpoint}/{mine}/").status_code == 200
    assert client.get(f"/api/v1/{endpoint}/{theirs}/").status_code == 404


@pytest.mark.parametrize("endpoint,key", [("alert-rules", "rule"), ("alerts", "alert")])
def test_a_leader_sees_every_team(org, endpoint, key):
    assert ids(as_user(org["leader"]).get(f"/api/v1/{endpoint}/")) == {org[t][key].pk for t in ("Search", "Vision")}


@pytest.mark.parametrize("url", ["/api/v1/alert-rules/", "/api/v1/alerts/"])
def test_anonymous_clients_are_refused(org, url):
    assert APIClient().get(url).status_code == 401


def test_an_alert_carries_exact_money_and_a_dashboard_link(org, settings):
    settings.SITE_URL = "https://finops.example.com"
    alert = org["Search"]["alert"]

    row = as_user(org["Search"]["member"]).get(f"/api/v1/alerts/{alert.pk}/").json()

    assert (row["observed_amount"], row["expected_amount"], row["excess_amount"]) == (
        "1900.5000000000", "1000.2500000000", "900.2500000000")
    assert row["team"] == org["Search"]["team"].pk
    assert row["dashboard_url"] == f"https://finops.example.com/?team={org['Search']['team'].pk}&day=2026-03-10"
    assert row["state"] == "open" and row["deliveries"] == []


def test_alerts_filter_by_state_and_days(org):
    client = as_user(org["leader"])
    Alert.objects.filter(pk=org["Vision"]["alert"].pk).update(state=Alert.State.RESOLVED, day=DAY - timedelta(days=9))

    assert ids(client.get("/api/v1/alerts/?state=open")) == {org["Search"]["alert"].pk}
    assert ids(client.get("/api/v1/alerts/?start=2026-03-05")) == {org["Search"]["alert"].pk}
    assert ids(client.get(f"/api/v1/alerts/?team={org['Vision']['team'].pk}")) == {org["Vision"]["alert"].pk}


def test_a_member_acknowledges_and_resolves_their_alert(org):
    client, alert, member = as_user(org["Search"]["member"]), org["Search"]["alert"], org["Search"]["member"]

    acknowledged = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    resolved = client.post(f"/api/v1/alerts/{alert.pk}/resolve/")

    assert acknowledged.status_code == 200 and acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledged_by"] == member.username
    assert resolved.json()["state"] == "resolved" and resolved.json()["resolved_by"] == member.username
    assert client.post(f"/api/v1/alerts/{org['Vision']['alert'].pk}/resolve/").status_code == 404
    assert Alert.objects.get(pk=org["Vision"]["alert"].pk).state == "open"


def test_a_member_mutes_and_unmutes_their_teams_rule(org):
    client, rule = as_user(org["Search"]["member"]), org["Search"]["rule"]

    muted = client.post(f"/api/v1/alert-rules/{rule.pk}/mute/", {"days": 2}, format="json")

    rule.refresh_from_db()
    assert muted.status_code == 200
    assert rule.muted_until - timezone.now() == pytest.approx(timedelta(days=2), abs=timedelta(minutes=1))
    assert client.post(f"/api/v1/alert-rules/{rule.pk}/mute/", {"days": 0}, format="json").status_code == 400
    assert client.post(f"/api/v1/alert-rules/{rule.pk}/unmute/").json()["muted_until"] is None
    assert client.post(f"/api/v1/alert-rules/{org['Vision']['rule'].pk}/mute/").status_code == 404


def test_a_member_unsubscribes_and_subscribes_again(org):
    client, rule = as_user(org["Search"]["member"]), org["Search"]["rule"]

    assert client.post(f"/api/v1/alert-rules/{rule.pk}/unsubscribe/").json()["subscribed"] is False
    assert rule.unsubscribed.filter(pk=org["Search"]["member"].pk).exists()
    assert client.post(f"/api/v1/alert-rules/{rule.pk}/subscribe/").json()["subscribed"] is True


def test_a_member_cannot_create_or_change_rules(org):
    client = as_user(org["Search"]["member"])

    assert client.post("/api/v1/alert-rules/", {"name": "x", "team": org["Search"]["team"].pk}).status_code == 403
    assert client.patch(f"/api/v1/alert-rules/{org['Search']['rule'].pk}/", {"threshold": "9"}).status_code == 403


def test_a_leader_creates_a_workload_rule_with_method_defaults(org):
    workload = org["Vision"]["workload"]

    response = as_user(org["leader"]).post("/api/v1/alert-rules/", {
        "name": "Reranker unit cost", "workload": workload.pk, "method": "unit_cost",
        "email_addresses": ["oncall@example.com", "finance@example.com"],
    }, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["team"] == workload.team_id  # taken from the workload
    assert body["threshold"] == "30.0000"
    assert body["email_addresses"] == ["oncall@example.com", "finance@example.com"]
    assert body["scope_label"] == f"workload {workload.name} (Vision)"
    assert AlertRule.objects.get(pk=body["id"]).extra_addresses() == ["oncall@example.com", "finance@example.com"]


@pytest.mark.parametrize("payload,field", [
    ({"method": "daily_budget", "currency": "USD"}, "threshold"),
    ({"method": "daily_budget", "threshold": "500"}, "currency"),
    ({"email_addresses": ["not an address"]}, "email_addresses"),
    ({"window_days": 3}, "window_days"),
])
def test_a_rule_is_validated(org, payload, field):
    response = as_user(org["leader"]).post("/api/v1/alert-rules/", {"name": "x", **payload}, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_workload_of_another_team_is_refused(org):
    response = as_user(org["leader"]).post("/api/v1/alert-rules/", {
        "name": "x", "team": org["Search"]["team"].pk, "workload": org["Vision"]["workload"].pk}, format="json")

    assert response.status_code == 400
    assert "workload" in response.json()


def test_recipients_must_be_allowed_to_see_the_scope(org):
    outsider = UserFactory(username="outsider")

    response = as_user(org["leader"]).post("/api/v1/alert-rules/", {
        "name": "x", "team": org["Search"]["team"].pk,
        "recipients": [outsider.pk, org["Search"]["member"].pk]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"recipients": ["Not allowed to see this scope: outsider."]}


def test_a_default_rule_is_disabled_not_deleted(org):
    client = as_user(org["leader"])
    extra = AlertRule.objects.create(name="Budget", team=org["Search"]["team"], method="daily_budget",
                                     threshold=1000, currency="USD")

    assert client.delete(f"/api/v1/alert-rules/{org['Search']['rule'].pk}/").status_code == 400
    assert client.patch(f"/api/v1/alert-rules/{org['Search']['rule'].pk}/", {"enabled": False},
                        format="json").json()["enabled"] is False
    assert client.delete(f"/api/v1/alert-rules/{extra.pk}/").status_code == 204


def test_the_schema_documents_the_alert_endpoints(org):
    schema = as_user(org["leader"]).get("/api/schema/?format=json").json()

    for path in ("/api/v1/alert-rules/", "/api/v1/alert-rules/{id}/mute/", "/api/v1/alerts/{id}/acknowledge/"):
        assert path in schema["paths"]
