"""Every endpoint for the allowed user, a member of another team (404) and anonymous (401)."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from finops.models import AllocationRule, CostRecord, DailySpend, IngestRun, TeamMembership
from finops.selectors.spend import SpendFilter, spend_aggregate
from tests.factories import AllocationRuleFactory, MembershipFactory, TeamFactory, UserFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db
OCT1 = datetime(2026, 10, 1, tzinfo=timezone.utc)


@pytest.fixture
def org():
    """Two teams with a workload, a rule, a cost record and a day of spend each, plus
    unallocated spend, and a member of each team, a leader and an outsider."""
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    run = IngestRun.objects.create(source="test", status=IngestRun.Status.SUCCEEDED)
    data = {"run": run}
    for team in (search, vision):
        workload = WorkloadFactory(team=team)
        data[team.name] = {
            "team": team,
            "workload": workload,
            "rule": AllocationRuleFactory(workload=workload),
            "record": cost_record(run, workload, "10.50"),
            "member": MembershipFactory(team=team).user,
        }
        spend_day(team, workload, "10.50")
    data["unallocated"] = cost_record(run, None, "3.25")
    spend_day(None, None, "3.25")
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


def cost_record(run, workload, amount: str) -> CostRecord:
    return CostRecord.objects.create(
        ingest_run=run, workload=workload, charge_period_start=OCT1, charge_period_end=OCT1,
        billing_period_start=OCT1, billing_period_end=OCT1, provider_name="AWS", billing_account_id="1",
        service_name="Amazon EC2", charge_category="Usage", billed_cost=Decimal(amount),
        effective_cost=Decimal(amount), billing_currency="USD",
    )


def spend_day(team, workload, amount: str) -> DailySpend:
    return DailySpend.objects.create(
        day=date(2026, 10, 1), team=team, workload=workload, provider_name="AWS", service_name="Amazon EC2",
        service_category="Compute", charge_category="Usage", billing_currency="USD",
        billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
    )


DETAIL_ENDPOINTS = {
    "teams": lambda side: side["team"].pk,
    "workloads": lambda side: side["workload"].pk,
    "allocation-rules": lambda side: side["rule"].pk,
    "cost-records": lambda side: side["record"].pk,
}


@pytest.mark.parametrize("endpoint", sorted(DETAIL_ENDPOINTS))
def test_a_member_lists_and_reads_only_their_team(org, endpoint):
    client = as_user(org["Search"]["member"])
    mine, theirs = DETAIL_ENDPOINTS[endpoint](org["Search"]), DETAIL_ENDPOINTS[endpoint](org["Vision"])

    listing = client.get(f"/api/v1/{endpoint}/")

    assert listing.status_code == 200
    assert ids(listing) == {mine}
    assert client.get(f"/api/v1/{endpoint}/{mine}/").status_code == 200
    assert client.get(f"/api/v1/{endpoint}/{theirs}/").status_code == 404


@pytest.mark.parametrize("endpoint", sorted(DETAIL_ENDPOINTS))
def test_a_leader_sees_every_team(org, endpoint):
    listing = as_user(org["leader"]).get(f"/api/v1/{endpoint}/")

    expected = {DETAIL_ENDPOINTS[endpoint](org[name]) for name in ("Search", "Vision")}
    assert expected <= ids(listing)


@pytest.mark.parametrize(
    "url", ["/api/v1/teams/", "/api/v1/workloads/", "/api/v1/allocation-rules/", "/api/v1/cost-records/",
            "/api/v1/ingest-runs/", "/api/v1/spend/?start=2026-10-01&end=2026-10-31"],
)
def test_anonymous_clients_are_refused(org, url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_unallocated_cost_records_are_for_leaders_only(org):
    unallocated = org["unallocated"].pk

    assert as_user(org["Search"]["member"]).get(f"/api/v1/cost-records/{unallocated}/").status_code == 404
    assert as_user(org["leader"]).get(f"/api/v1/cost-records/{unallocated}/").status_code == 200
    listing = as_user(org["leader"]).get("/api/v1/cost-records/?unallocated=true")
    assert ids(listing) == {unallocated}


def test_cost_records_keep_money_exact_as_strings(org):
    row = as_user(org["Search"]["member"]).get("/api/v1/cost-records/").json()["results"][0]

    assert row["effective_cost"] == "10.5000000000"
    assert row["charge_period_start"] == "2026-10-01T00:00:00Z"


def test_ingest_runs_are_for_leaders_and_staff(org):
    run = org["run"].pk

    assert as_user(org["Search"]["member"]).get("/api/v1/ingest-runs/").status_code == 403
    assert as_user(org["leader"]).get(f"/api/v1/ingest-runs/{run}/").json()["status"] == "succeeded"
    assert as_user(UserFactory(is_staff=True)).get("/api/v1/ingest-runs/").status_code == 200


def test_spend_matches_the_dashboard_numbers(org):
    leader = org["leader"]
    response = as_user(leader).get("/api/v1/spend/?group_by=team&granularity=month&start=2026-10-01&end=2026-10-31")

    assert response.status_code == 200
    rows = {row["group"]: Decimal(row["effective_cost"]) for row in response.json()}
    october = SpendFilter(start=date(2026, 10, 1), end=date(2026, 10, 31))
    dashboard = {row["group"]: row["effective_cost"] for row in spend_aggregate(user=leader, spend_filter=october, group_by="team", granularity="month")}
    assert rows == dashboard == {"Search": Decimal("10.5"), "Vision": Decimal("10.5"), None: Decimal("3.25")}
    assert {row["period"] for row in response.json()} == {"2026-10-01"}


def test_spend_for_a_member_leaves_out_other_teams_and_unallocated(org):
    response = as_user(org["Vision"]["member"]).get("/api/v1/spend/?group_by=workload&start=2026-10-01&end=2026-10-01")

    assert [row["group"] for row in response.json()] == [org["Vision"]["workload"].name]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-10-01", "end"),
        ("start=yesterday&end=2026-10-01", "start"),
        ("start=2026-10-02&end=2026-10-01", "end"),
        ("start=2026-10-01&end=2026-10-02&group_by=colour", "group_by"),
        ("start=2026-10-01&end=2026-10-02&granularity=hour", "granularity"),
    ],
)
def test_bad_spend_queries_get_a_400_naming_the_field(org, query, field):
    response = as_user(org["leader"]).get(f"/api/v1/spend/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_members_cannot_change_workloads_or_rules(org):
    client = as_user(org["Search"]["member"])
    workload = org["Search"]["workload"]

    assert client.patch(f"/api/v1/workloads/{workload.pk}/", {"name": "x"}).status_code == 403
    assert client.post("/api/v1/allocation-rules/", {"workload": workload.pk, "tag_key": "a"}).status_code == 403


def test_a_leader_creates_a_rule_and_bad_rules_get_field_errors(org):
    client = as_user(org["leader"])
    workload = org["Vision"]["workload"]

    created = client.post("/api/v1/allocation-rules/", {"workload": workload.pk, "account_id": "123", "priority": 5})
    no_criterion = client.post("/api/v1/allocation-rules/", {"workload": workload.pk})
    value_without_key = client.post("/api/v1/allocation-rules/", {"workload": workload.pk, "tag_value": "x"})

    assert created.status_code == 201
    assert AllocationRule.objects.filter(account_id="123", priority=5, workload=workload).exists()
    assert no_criterion.status_code == 400
    assert "non_field_errors" in no_criterion.json()
    assert value_without_key.status_code == 400


def test_a_token_authenticates_a_tool(org):
    token = Token.objects.create(user=org["Search"]["member"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert ids(client.get("/api/v1/teams/")) == {org["Search"]["team"].pk}


def test_the_schema_and_its_docs_are_served_offline(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/spend/" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
