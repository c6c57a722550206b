import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finops.models import DailySpend
from tests.factories import MembershipFactory, TcoLineItemFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
QUERY = "start=2026-10-01&end=2026-10-31"


def _spend(workload, category, amount, *, is_gpu=False, premium="0"):
    DailySpend.objects.create(
        day=date(2026, 10, 5), team=workload.team, workload=workload, provider_name="AWS",
        service_name="Amazon SageMaker", service_category="AI and Machine Learning", charge_category="Usage",
        billing_currency="USD", tco_category=category, is_gpu=is_gpu, billed_cost=Decimal(amount),
        effective_cost=Decimal(amount), list_cost=Decimal(amount), managed_premium=Decimal(premium), record_count=1,
    )


@pytest.fixture
def ranker():
    workload = WorkloadFactory(team=TeamFactory(name="Search"), name="Ranker")
    _spend(workload, "compute", "1000.00", is_gpu=True, premium="285.50")
    _spend(workload, "data_egress", "120.00")
    _spend(workload, "storage", "80.00")
    TcoLineItemFactory(team=workload.team, workload=workload, category="licensing", amount=Decimal("310.00"),
                       recurrence="monthly", start_date=date(2026, 1, 1))
    return workload


def test_the_page_splits_the_tco_into_direct_and_hidden_and_draws_both_figures(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    response = client.get(f"/hidden-costs/?{QUERY}")

    [total] = response.context["totals"]
    assert total["total"] == Decimal("1510.00")  # 1,200 on the bill + 310 licence for October
    assert total["direct"] == Decimal("714.50")  # GPU compute without the SageMaker premium
    assert total["hidden"] == Decimal("795.50")  # premium 285.50 + egress 120 + storage 80 + licence 310
    assert [chart["figure_id"] for chart in response.context["charts"]] == [
        "tco-treemap-usd-figure", "tco-waterfall-usd-figure"]
    waterfall = response.context["charts"][1]["figure"]["data"][0]
    assert waterfall["measure"][0] == "absolute" and waterfall["measure"][-1] == "total"
    assert waterfall["y"][-1] == 1510.0
    [called_out] = response.context["called_out"]
    assert (called_out["data_egress"], called_out["managed_service_premium"]) == (Decimal("120.00"), Decimal("285.50"))


def test_the_csvs_carry_the_numbers_of_the_treemap_and_the_waterfall(client, ranker):
    client.force_login(MembershipFactory(team=ranker.team).user)

    rows = list(csv.DictReader(io.StringIO(client.get(f"/hidden-costs/data.csv?{QUERY}").content.decode())))
    steps = list(csv.DictReader(io.StringIO(client.get(f"/hidden-costs/waterfall.csv?{QUERY}").content.decode())))

    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("1510.00")
    assert {(row["tco_category"], row["source"]) for row in rows} >= {("Licensing", "manual"), ("Data egress", "bill")}
    assert (steps[-1]["step"], Decimal(steps[-1]["amount"])) == ("total", Decimal("1510.00"))


def test_another_team_sees_an_empty_state_and_an_empty_download(client, ranker):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    response = client.get(f"/hidden-costs/?{QUERY}")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/hidden-costs/data.csv?{QUERY}").content.decode())))

    assert response.context["totals"] == [] and rows == []
    assert b"No costs for these filters" in response.content and b"Ranker" not in response.content
