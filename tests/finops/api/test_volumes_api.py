from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from finops.models import DailySpend, InferenceVolume, TeamMembership
from tests.factories import MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)


@pytest.fixture
def org():
    search, vision = TeamFactory(), TeamFactory()
    ranker = WorkloadFactory(team=search, slug="ranker")
    tagger = WorkloadFactory(team=vision, slug="tagger")
    for workload, amount, tokens in ((ranker, "12.00", "0"), (tagger, "50.00", "0")):
        DailySpend.objects.create(
            day=DAY, team=workload.team, workload=workload, provider_name="AWS", service_name="EC2",
            service_category="Compute", charge_category="Usage", billing_currency="USD",
            billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount),
            tokens=Decimal(tokens), record_count=1,
        )
    return {"ranker": ranker, "tagger": tagger, "member": MembershipFactory(team=search).user,
            "leader": MembershipFactory(team=vision, role=TeamMembership.Role.LEADER).user}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def push(client, rows):
    return client.post("/api/v1/inference-volumes/", rows, format="json")


def test_a_push_sets_the_days_volumes_and_a_retry_changes_nothing(org):
    client = client_for(org["member"])
    batch = [{"workload": "ranker", "day": "2026-10-01", "requests": 4000, "input_tokens": 1_500_000, "output_tokens": 500_000}]

    first = push(client, batch)
    retry = push(client, batch)

    assert first.status_code == retry.status_code == 201
    volume = InferenceVolume.objects.get()
    assert (volume.requests, volume.input_tokens, volume.output_tokens) == (4000, 1_500_000, 500_000)


def test_a_batch_is_validated_whole_before_anything_is_written(org):
    response = push(client_for(org["member"]), [
        {"workload": "ranker", "day": "2026-10-01", "requests": 10},
        {"workload": "ranker", "day": "not a day", "requests": -1},
    ])

    assert response.status_code == 400
    errors = response.json()  # keyed by the index of each bad row
    assert list(errors) == ["1"]
    assert set(errors["1"]) == {"day", "requests"}
    assert not InferenceVolume.objects.exists()


def test_another_teams_workload_reads_as_unknown(org):
    response = push(client_for(org["member"]), [{"workload": "tagger", "day": "2026-10-01", "requests": 10}])

    assert response.status_code == 400
    assert "does not exist" in response.json()["0"]["workload"][0]


def test_anonymous_pushes_are_refused(org):
    assert push(APIClient(), [{"workload": "ranker", "day": "2026-10-01", "requests": 1}]).status_code == 401


def test_unit_costs_divide_the_days_spend_by_its_volume(org):
    client = client_for(org["member"])
    push(client, [{"workload": "ranker", "day": "2026-10-01", "requests": 4000, "input_tokens": 1_500_000, "output_tokens": 500_000}])

    [row] = client.get("/api/v1/unit-costs/?start=2026-10-01&end=2026-10-01").json()

    assert row["workload"] == org["ranker"].name
    assert Decimal(row["cost_per_1k_requests"]) == Decimal("3")  # 12.00 / 4000 * 1000
    assert Decimal(row["cost_per_1m_tokens"]) == Decimal("6")  # 12.00 / 2M * 1M


def test_a_day_without_volume_has_no_unit_cost(org):
    rows = client_for(org["leader"]).get("/api/v1/unit-costs/?start=2026-10-01&end=2026-10-01").json()

    assert {row["workload"]: row["cost_per_1k_requests"] for row in rows} == {org["ranker"].name: None, org["tagger"].name: None}


def test_billed_tokens_of_managed_apis_give_a_cost_per_million_tokens(org):
    DailySpend.objects.filter(workload=org["tagger"]).update(tokens=Decimal(25_000_000))

    rows = client_for(org["leader"]).get("/api/v1/unit-costs/?start=2026-10-01&end=2026-10-01").json()

    tagger = next(row for row in rows if row["workload"] == org["tagger"].name)
    assert Decimal(tagger["cost_per_1m_tokens"]) == Decimal("2")  # 50.00 / 25M * 1M
