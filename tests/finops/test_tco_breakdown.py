from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from finops.models import CostRecord, DailySpend, IngestRun, TcoLineItem, TeamMembership
from finops.selectors.spend import SpendFilter, spend_aggregate, spend_totals_by_currency
from finops.selectors.tco import tco_breakdown, tco_totals, tco_waterfall
from finops.services.rollups import daily_spend_refresh
from finops.services.tco import cost_records_classify
from tests.factories import MembershipFactory, TcoLineItemFactory, TeamFactory, UserFactory, WorkloadFactory
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)
OCTOBER = SpendFilter(start=date(2026, 10, 1), end=date(2026, 10, 31))


def spend(workload, *, amount: str, category: str = "compute", is_gpu: bool = False, premium: str = "0",
          currency: str = "USD", day: date = DAY, service_category: str = "Compute", provider: str = "AWS",
          team=None) -> DailySpend:
    return DailySpend.objects.create(
        day=day, team=team or (workload.team if workload else None), workload=workload, provider_name=provider,
        service_name=f"{category} service", service_category=service_category, charge_category="Usage",
        billing_currency=currency, tco_category=category, is_gpu=is_gpu, billed_cost=Decimal(amount),
        effective_cost=Decimal(amount), list_cost=Decimal(amount), managed_premium=Decimal(premium), record_count=1,
    )


def amounts(rows: list[dict], **match) -> dict[tuple, Decimal]:
    """Amounts by (workload, currency, category, is_gpu, source) of the rows matching `match`."""
    found: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        if all(row[key] == value for key, value in match.items()):
            found[(row["workload"], row["billing_currency"], row["category"], row["is_gpu"], row["source"])] += row["amount"]
    return dict(found)


def bill_totals(rows: list[dict]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["source"] == "bill":
            totals[row["billing_currency"]] += row["amount"]
    return dict(totals)


@pytest.fixture
def leader():
    return UserFactory(is_staff=True)


def test_bill_rows_add_up_exactly_to_spend(leader):
    chatbot, search = WorkloadFactory(name="chatbot"), WorkloadFactory(name="search")
    spend(chatbot, amount="1234.5678901234", is_gpu=True, premium="352.4661326302")
    spend(chatbot, amount="0.0000000007", category="storage")
    spend(search, amount="98.7654321098", category="data_egress")
    spend(search, amount="-12.3456789012", category="compute")
    spend(None, amount="45.0000000001", category="")
    spend(search, amount="77.7777777777", currency="EUR", category="operations")

    rows = tco_breakdown(user=leader, spend_filter=OCTOBER)

    expected = spend_totals_by_currency(user=leader, spend_filter=OCTOBER)
    assert set(bill_totals(rows)) == set(expected) == {"EUR", "USD"}
    for currency, total in expected.items():
        assert_same_money(bill_totals(rows)[currency], total)
    totals = tco_totals(user=leader, spend_filter=OCTOBER)
    for currency, total in expected.items():
        assert_same_money(totals[currency]["total"], total)


def test_the_managed_premium_moves_to_its_own_category(leader):
    reranker = WorkloadFactory(name="reranker")
    spend(reranker, amount="140.80", is_gpu=True, premium="40.1984", service_category="AI and Machine Learning")

    rows = tco_breakdown(user=leader, spend_filter=OCTOBER)

    assert amounts(rows) == {
        ("reranker", "USD", "compute", True, "bill"): Decimal("100.6016"),
        ("reranker", "USD", "managed_service_premium", False, "bill"): Decimal("40.1984"),
    }


def test_classified_records_flow_through_the_rollup_into_the_breakdown(settings, leader):
    settings.TIME_ZONE = "UTC"
    workload = WorkloadFactory(name="reranker")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    run = IngestRun.objects.create(source="test")
    common = {"ingest_run": run, "workload": workload, "charge_period_start": start, "charge_period_end": start,
              "billing_period_start": start, "billing_period_end": start, "provider_name": "AWS",
              "billing_account_id": "111122223333", "charge_category": "Usage", "billing_currency": "USD"}
    for description, service, category, amount in (
        ("$1.408 per Hosting ml.g5.xlarge hour in US East (N. Virginia)", "Amazon SageMaker", "AI and Machine Learning",
         "33.7920000000"),
        ("$0.090 per GB - first 10 TB / month data transfer out", "AWS Data Transfer", "Networking", "28.1250000000"),
        ("$0.023 per GB - first 50 TB / month of storage used", "Amazon Simple Storage Service", "Storage",
         "1.1280741000"),
    ):
        CostRecord.objects.create(**common, charge_description=description, service_name=service,
                                  service_category=category, billed_cost=Decimal(amount), effective_cost=Decimal(amount))
    cost_records_classify(records=CostRecord.objects.all())
    daily_spend_refresh(earliest=start, latest=start)

    rows = tco_breakdown(user=leader, spend_filter=OCTOBER)

    found = amounts(rows)
    assert_same_money(found[("reranker", "USD", "compute", True, "bill")], Decimal("24.144384"))  # 33.792 × 71.45 %
    assert_same_money(found[("reranker", "USD", "managed_service_premium", False, "bill")], Decimal("9.647616"))
    assert_same_money(found[("reranker", "USD", "data_egress", False, "bill")], Decimal("28.125"))
    assert_same_money(found[("reranker", "USD", "storage", False, "bill")], Decimal("1.1280741"))
    assert_same_money(sum(found.values()), Decimal("63.0450741"))


def test_idle_waste_is_carved_out_of_gpu_compute(gpus):
    DailySpend.objects.update(tco_category="compute", is_gpu=True)  # busy 240.00, idle 120.00 USD

    rows = tco_breakdown(user=gpus["leader"], spend_filter=SpendFilter(start=DAY, end=DAY))

    assert amounts(rows) == {
        ("busy", "USD", "compute", True, "bill"): Decimal("184.00"),
        ("busy", "USD", "idle_waste", False, "bill"): Decimal("56.00"),  # as idle_waste_by_workload
        ("idle", "USD", "compute", True, "bill"): Decimal("16.00"),
        ("idle", "USD", "idle_waste", False, "bill"): Decimal("104.00"),
    }


def test_idle_waste_never_exceeds_the_gpu_compute_it_comes_from(gpus):
    # Idle waste counts the workload's Compute spend (120.00); only 40.00 of it is GPU time.
    idle = DailySpend.objects.get(workload=gpus["idle"])
    idle.effective_cost = Decimal("40.00")
    idle.tco_category, idle.is_gpu = "compute", True
    idle.save()
    spend(gpus["idle"], amount="80.00", day=DAY, category="compute")

    rows = tco_breakdown(user=gpus["leader"], spend_filter=SpendFilter(start=DAY, end=DAY))

    assert amounts(rows, workload="idle") == {
        ("idle", "USD", "compute", True, "bill"): Decimal("0.00"),
        ("idle", "USD", "compute", False, "bill"): Decimal("80.00"),
        ("idle", "USD", "idle_waste", False, "bill"): Decimal("40.00"),
    }
    assert bill_totals(rows)["USD"] == Decimal("360.00")


def test_monthly_line_items_are_prorated_by_day_and_one_offs_count_on_their_day(leader):
    workload = WorkloadFactory(name="chatbot")
    TcoLineItemFactory(workload=workload, category="licensing", amount=Decimal("300.00"),
                       recurrence=TcoLineItem.Recurrence.MONTHLY, start_date=date(2026, 10, 10),
                       end_date=date(2026, 11, 20))
    TcoLineItemFactory(workload=workload, category="retraining_versioning", amount=Decimal("500.00"),
                       recurrence=TcoLineItem.Recurrence.ONE_OFF, start_date=date(2026, 11, 5))
    TcoLineItemFactory(workload=workload, category="operations", amount=Decimal("999.00"),
                       recurrence=TcoLineItem.Recurrence.ONE_OFF, start_date=date(2026, 12, 1))
    TcoLineItemFactory(workload=workload, category="operations", amount=Decimal("999.00"),
                       recurrence=TcoLineItem.Recurrence.MONTHLY, start_date=date(2026, 1, 1),
                       end_date=date(2026, 9, 30))

    rows = tco_breakdown(user=leader, spend_filter=SpendFilter(start=date(2026, 10, 1), end=date(2026, 11, 15)))

    found = amounts(rows)
    # October: 22 of 31 days; November: 15 of 30 days.
    assert found[("chatbot", "USD", "licensing", False, "manual")].quantize(Decimal("0.01")) == Decimal("362.90")
    assert found[("chatbot", "USD", "licensing", False, "manual")] == Decimal("212.9032258065") + Decimal("150")
    assert found[("chatbot", "USD", "retraining_versioning", False, "manual")] == Decimal("500.00")
    assert set(found) == {("chatbot", "USD", "licensing", False, "manual"),
                          ("chatbot", "USD", "retraining_versioning", False, "manual")}


def test_an_ongoing_monthly_item_counts_whole_months_exactly(leader):
    TcoLineItemFactory(workload=WorkloadFactory(name="ocr"), category="operations", amount=Decimal("1000.00"),
                       start_date=date(2026, 1, 1))

    rows = tco_breakdown(user=leader, spend_filter=SpendFilter(start=date(2026, 2, 1), end=date(2026, 3, 31)))

    assert amounts(rows) == {("ocr", "USD", "operations", False, "manual"): Decimal("2000.00")}


def test_a_member_sees_only_their_teams_rows_and_no_unallocated_spend():
    team_a, team_b = TeamFactory(), TeamFactory()
    a_workload, b_workload = WorkloadFactory(team=team_a, name="a"), WorkloadFactory(team=team_b, name="b")
    spend(a_workload, amount="10.00", is_gpu=True)
    spend(b_workload, amount="20.00", category="storage")
    spend(None, amount="5.00", category="")
    TcoLineItemFactory(workload=a_workload, amount=Decimal("100.00"), start_date=date(2026, 10, 1))
    TcoLineItemFactory(workload=None, team=team_a, amount=Decimal("7.00"), start_date=date(2026, 10, 1),
                       recurrence=TcoLineItem.Recurrence.ONE_OFF)
    TcoLineItemFactory(workload=b_workload, amount=Decimal("31.00"), start_date=date(2026, 10, 1))
    member_b = MembershipFactory(team=team_b).user
    leader = MembershipFactory(team=TeamFactory(), role=TeamMembership.Role.LEADER).user

    member_rows = tco_breakdown(user=member_b, spend_filter=OCTOBER)
    leader_rows = tco_breakdown(user=leader, spend_filter=OCTOBER)

    assert {row["team_id"] for row in member_rows} == {team_b.pk}
    assert amounts(member_rows) == {("b", "USD", "storage", False, "bill"): Decimal("20.00"),
                                    ("b", "USD", "licensing", False, "manual"): Decimal("31.00")}
    assert amounts(leader_rows, workload=None) == {(None, "USD", "", False, "bill"): Decimal("5.00"),
                                                   (None, "USD", "licensing", False, "manual"): Decimal("7.00")}
    assert sum(row["amount"] for row in leader_rows) == Decimal("173.00")


def test_the_filter_narrows_hand_entered_costs_too(leader):
    team = TeamFactory()
    chatbot, search = WorkloadFactory(team=team, name="chatbot"), WorkloadFactory(team=team, name="search")
    TcoLineItemFactory(workload=chatbot, amount=Decimal("31.00"), start_date=date(2026, 10, 1))
    TcoLineItemFactory(workload=search, amount=Decimal("62.00"), start_date=date(2026, 10, 1))
    TcoLineItemFactory(workload=None, team=team, amount=Decimal("93.00"), start_date=date(2026, 10, 1))
    TcoLineItemFactory(workload=WorkloadFactory(name="elsewhere"), amount=Decimal("1.00"), start_date=date(2026, 10, 1))

    by_workload = tco_breakdown(user=leader, spend_filter=SpendFilter(start=OCTOBER.start, end=OCTOBER.end,
                                                                     workload=chatbot))
    by_team = tco_breakdown(user=leader, spend_filter=SpendFilter(start=OCTOBER.start, end=OCTOBER.end, team=team))
    by_provider = tco_breakdown(user=leader, spend_filter=SpendFilter(start=OCTOBER.start, end=OCTOBER.end,
                                                                     provider="AWS"))

    assert amounts(by_workload) == {("chatbot", "USD", "licensing", False, "manual"): Decimal("31.00")}
    assert sum(row["amount"] for row in by_team) == Decimal("186.00")
    assert by_provider == []


def test_totals_split_direct_from_hidden_cost_and_the_waterfall_climbs_to_the_total(leader):
    workload = WorkloadFactory(name="llm")
    spend(workload, amount="1000.00", is_gpu=True, premium="100.00")
    spend(workload, amount="50.00")
    spend(workload, amount="30.00", category="storage")
    spend(workload, amount="20.00", category="data_egress")
    spend(None, amount="5.00", category="")
    TcoLineItemFactory(workload=workload, category="licensing", amount=Decimal("310.00"), start_date=date(2026, 10, 1))

    breakdown = tco_breakdown(user=leader, spend_filter=OCTOBER)
    totals = tco_totals(user=leader, spend_filter=OCTOBER, breakdown=breakdown)
    waterfall = tco_waterfall(user=leader, spend_filter=OCTOBER, breakdown=breakdown)

    assert totals == {"USD": {"direct": Decimal("950.00"), "hidden": Decimal("460.00"), "unclassified": Decimal("5.00"),
                              "manual": Decimal("310.00"), "total": Decimal("1415.00")}}
    assert [(step["step"], step["amount"], step["measure"]) for step in waterfall["USD"]] == [
        ("gpu_compute", Decimal("900.00"), "absolute"),
        ("cpu_compute", Decimal("50.00"), "relative"),
        ("storage", Decimal("30.00"), "relative"),
        ("data_egress", Decimal("20.00"), "relative"),
        ("managed_service_premium", Decimal("100.00"), "relative"),
        ("unclassified", Decimal("5.00"), "relative"),
        ("manual", Decimal("310.00"), "relative"),
        ("total", Decimal("1415.00"), "total"),
    ]
    assert {row["source"] for row in breakdown} == {"bill", "manual"}


def test_spend_groups_by_tco_category_on_pages_and_in_the_api(leader):
    workload = WorkloadFactory(name="llm")
    spend(workload, amount="10.50", is_gpu=True)
    spend(workload, amount="2.25")
    spend(workload, amount="4.00", category="storage")
    spend(None, amount="1.25", category="")

    rows = spend_aggregate(user=leader, spend_filter=OCTOBER, group_by="tco_category", granularity="month")
    client = APIClient()
    client.force_authenticate(leader)
    response = client.get("/api/v1/spend/?group_by=tco_category&granularity=month&start=2026-10-01&end=2026-10-31")

    assert {row["group"]: row["effective_cost"] for row in rows} == {
        "compute": Decimal("12.75"), "storage": Decimal("4.00"), "": Decimal("1.25")}
    assert response.status_code == 200
    assert {row["group"]: Decimal(row["effective_cost"]) for row in response.json()} == {
        "compute": Decimal("12.75"), "storage": Decimal("4.00"), "": Decimal("1.25")}
