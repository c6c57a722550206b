import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finops.models import DailySpend, InferenceVolume, TeamMembership
from finops.selectors.spend import SpendFilter
from finops.selectors.unit_costs import unit_costs_daily
from tests.factories import MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
QUERY = "start=2026-10-01&end=2026-10-02"


@pytest.fixture
def ranker():
    workload = WorkloadFactory(team=TeamFactory(), name="Ranker")
    for day, amount in ((date(2026, 10, 1), "12.00"), (date(2026, 10, 2), "9.00")):
        DailySpend.objects.create(
            day=day, team=workload.team, workload=workload, provider_name="AWS", service_name="EC2",
            service_category="Compute", charge_category="Usage", billing_currency="USD",
            billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
        )
    InferenceVolume.objects.create(workload=workload, day=date(2026, 10, 1), requests=4000)
    return workload


def test_the_chart_has_a_point_per_day_with_volume_and_a_gap_without(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    response = client.get(f"/unit-costs/?{QUERY}")

    [chart] = response.context["unit_charts"]
    [trace] = chart["figure"]["data"]
    assert trace["name"] == "Ranker"
    assert trace["y"] == [3.0, None]  # 12.00 / 4000 × 1000, then a day without volume


def test_the_csv_carries_the_exact_unit_costs(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    rows = list(csv.DictReader(io.StringIO(client.get(f"/unit-costs/data.csv?{QUERY}").content.decode())))

    assert [(row["day"], row["cost_per_1k_requests"]) for row in rows] == [("2026-10-01", "3.0000000000"), ("2026-10-02", "")]


def test_other_teams_see_nothing(client, ranker):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    response = client.get(f"/unit-costs/?{QUERY}")

    assert response.context["unit_charts"] == []
    assert b"no allocated spend" in response.content


def test_a_workload_or_team_filter_keeps_each_days_unit_cost(ranker):
    """The filtered selector reads only the filtered workloads' volumes; the figures stay those of
    the unfiltered rows."""
    sibling = WorkloadFactory(team=ranker.team, name="Sibling")
    DailySpend.objects.create(
        day=date(2026, 10, 1), team=ranker.team, workload=sibling, provider_name="AWS", service_name="EC2",
        service_category="Compute", charge_category="Usage", billing_currency="USD",
        billed_cost=Decimal("5"), effective_cost=Decimal("5"), list_cost=Decimal("5"), record_count=1,
    )
    InferenceVolume.objects.create(workload=sibling, day=date(2026, 10, 1), requests=1000)
    leader = MembershipFactory(team=ranker.team, role=TeamMembership.Role.LEADER).user
    period = {"start": date(2026, 10, 1), "end": date(2026, 10, 2)}
    everything = unit_costs_daily(user=leader, spend_filter=SpendFilter(**period))

    for scope in ({"workload": ranker}, {"workload": sibling}, {"team": ranker.team}):
        filtered = unit_costs_daily(user=leader, spend_filter=SpendFilter(**period, **scope))
        kept = {scope["workload"].pk} if "workload" in scope else {ranker.pk, sibling.pk}
        assert filtered == [row for row in everything if row["workload_id"] in kept]
    assert [row["cost_per_1k_requests"] for row in everything] == [Decimal("3.0000000000"), Decimal("5.0000000000"), None]
