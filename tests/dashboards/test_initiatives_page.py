import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import DailySpend, InferenceVolume, Initiative
from tests.factories import InitiativeFactory, MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
GO_LIVE = date(2026, 6, 1)
QUERY = "start=2026-06-01&end=2026-06-10"


@pytest.fixture
def batching():
    """Ten baseline days at 0.010 a request and ten days after at 0.008, traffic flat at
    10,000 requests: a saving of 20.00 a day, 200.00 over the ten days."""
    workload = WorkloadFactory(team=TeamFactory(), name="Ranker")
    for offset in range(-10, 10):
        cost = Decimal("100.00") if offset < 0 else Decimal("80.00")
        day = GO_LIVE + timedelta(days=offset)
        DailySpend.objects.create(
            day=day, team=workload.team, workload=workload, provider_name="AWS", service_name="EC2",
            service_category="Compute", charge_category="Usage", billing_currency="USD",
            billed_cost=cost, effective_cost=cost, list_cost=cost, record_count=1,
        )
        InferenceVolume.objects.create(workload=workload, day=day, requests=10_000)
    return InitiativeFactory(
        title="Continuous batching", team=workload.team, workloads=[workload], technique="continuous_batching",
        status=Initiative.Status.DONE, effective_on=GO_LIVE, baseline_days=10,
        implementation_cost=Decimal("100.00"), expected_monthly_saving=Decimal("608.75"),
    )


def test_the_page_shows_measured_savings_roi_and_the_cumulative_lines(client, batching):
    client.force_login(MembershipFactory(team=batching.team).user)

    response = client.get(f"/initiatives/?{QUERY}")

    [row] = response.context["rows"]
    assert row["realized_saving"] == Decimal("200.00")
    assert row["roi"] == Decimal("1.0000")  # (200 − 100) / 100
    assert row["payback_months"] == Decimal("0.2")  # 100 / 608.75
    cumulative = next(c for c in response.context["charts"] if c["figure_id"] == "cumulative-usd-figure")
    expected, realized = cumulative["figure"]["data"]
    assert realized["y"][-1] == 200.0 and expected["y"][-1] == 200.0  # 608.75 a month = 20 a day
    assert b"Continuous batching" in response.content


def test_the_csvs_carry_the_numbers_of_the_table_and_the_timeline(client, batching):
    client.force_login(MembershipFactory(team=batching.team).user)

    [row] = csv.DictReader(io.StringIO(client.get(f"/initiatives/data.csv?{QUERY}").content.decode()))
    timeline = list(csv.DictReader(io.StringIO(client.get(f"/initiatives/timeline.csv?{QUERY}").content.decode())))

    assert (row["realized_saving"], row["roi"], row["confidence"]) == ("200.00", "1.0000", "medium")
    assert len(timeline) == 10
    assert (timeline[-1]["day"], timeline[-1]["realized_cumulative_saving"]) == ("2026-06-10", "200.00")


def test_a_member_of_another_team_sees_neither_the_initiative_nor_its_numbers(client, batching):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    response = client.get(f"/initiatives/?{QUERY}")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/initiatives/data.csv?{QUERY}").content.decode())))

    assert response.context["rows"] == [] and rows == []
    assert b"No initiatives for these filters" in response.content


def test_anonymous_visitors_are_sent_to_log_in(client, batching):
    assert client.get("/initiatives/").status_code == 302
    assert client.get("/initiatives/data.csv").status_code == 302
