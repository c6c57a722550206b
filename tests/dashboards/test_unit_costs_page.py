import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finops.models import DailySpend, InferenceVolume
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
