from datetime import date
from decimal import Decimal

import pytest

from finops.models import DailySpend, InferenceVolume, TeamMembership
from tests.factories import (
    BenchmarkFactory,
    InitiativeFactory,
    ManagedApiPriceFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
    WorkloadFactory,
)

pytestmark = pytest.mark.django_db
QUERY = "start=2026-10-01&end=2026-10-31"


@pytest.fixture
def ranker():
    workload = WorkloadFactory(team=TeamFactory(name="Search"), name="Ranker")
    for day, category, amount in ((5, "compute", "300.00"), (6, "compute", "300.00"), (6, "storage", "40.00")):
        DailySpend.objects.create(
            day=date(2026, 10, day), team=workload.team, workload=workload, provider_name="AWS",
            service_name="Amazon Elastic Compute Cloud", service_category="Compute", charge_category="Usage",
            billing_currency="USD", tco_category=category, is_gpu=category == "compute", billed_cost=Decimal(amount),
            effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
        )
    for day in (5, 6):
        InferenceVolume.objects.create(workload=workload, day=date(2026, 10, day), requests=100_000)
    BenchmarkFactory(workload=workload, instance_type="g5.xlarge")
    ManagedApiPriceFactory(provider_name="OpenAI", model_name="gpt-4o-mini", price_per_1k_requests=Decimal("0.50")
                           ).compared_workloads.add(workload)
    InitiativeFactory(title="Int8 quantization", team=workload.team, workloads=[workload])
    return workload


def test_the_workload_page_gathers_spend_tco_unit_costs_build_vs_buy_initiatives_and_checklist(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    response = client.get(f"/workloads/{ranker.pk}/?{QUERY}")

    assert response.status_code == 200
    assert response.context["totals"] == {"USD": Decimal("640.00")}
    assert [c["figure_id"] for c in response.context["charts"]] == [
        "spend-usd-figure", "waterfall-usd-figure", "unit-usd-figure"]
    assert all(c["csv"] for c in response.context["charts"])
    assert f"workload={ranker.pk}" in response.context["charts"][0]["csv"]
    assert response.context["build_vs_buy"]["comparisons"][0]["model_name"] == "gpt-4o-mini"
    assert b"Int8 quantization" in response.content and b"g5.xlarge" in response.content
    assert [e["entry"].proven for e in response.context["checklist"]] == [False, True, False, True, False]


def test_the_team_page_lists_its_workloads_and_draws_spend_and_tco(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    response = client.get(f"/teams/{ranker.team.pk}/?{QUERY}")

    assert response.status_code == 200
    assert list(response.context["workloads"]) == [ranker]
    assert [c["figure_id"] for c in response.context["charts"]] == ["spend-usd-figure", "treemap-usd-figure"]
    assert response.context["tco_totals"]["USD"]["hidden"] == Decimal("40.00")


def test_another_teams_workload_and_team_are_404(client, ranker):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    assert client.get(f"/workloads/{ranker.pk}/").status_code == 404
    assert client.get(f"/teams/{ranker.team.pk}/").status_code == 404


def test_leaders_open_any_team_and_anonymous_visitors_log_in_first(client, ranker):
    assert client.get(f"/workloads/{ranker.pk}/").status_code == 302
    leader = UserFactory()
    MembershipFactory(user=leader, role=TeamMembership.Role.LEADER)
    client.force_login(leader)

    assert client.get(f"/teams/{ranker.team.pk}/?{QUERY}").status_code == 200
