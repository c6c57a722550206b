"""Build vs buy against figures computed by hand on a constructed ten days.

The `chat` workload, 2026-10-01 to 2026-10-10: 25.00 USD of GPU compute a day (250.00 USD,
so 750.00 USD a 30-day month), 1,000 requests, 400,000 input and 100,000 output tokens a day
(10,000 requests and 5M tokens over the window; 30,000 requests and 15M tokens a month).
Self-hosted: 250 / 5 = 50.00 USD per 1M tokens, 250 / 10 = 25.00 USD per 1k requests."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import CostRecord, DailySpend, IngestRun, InferenceVolume, TeamMembership, Workload
from finops.selectors.build_vs_buy import build_vs_buy
from finops.services.rollups import daily_spend_refresh
from tests.factories import ManagedApiPriceFactory, MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
START, END = date(2026, 10, 1), date(2026, 10, 10)
WINDOW = [START + timedelta(days=offset) for offset in range(10)]


def _spend(workload, day, amount, *, currency="USD", tokens=Decimal(0)):
    DailySpend.objects.create(
        day=day, team=workload.team, workload=workload, provider_name="AWS", service_name="Amazon EC2",
        service_category="Compute", charge_category="Usage", billing_currency=currency, billed_cost=Decimal(amount),
        effective_cost=Decimal(amount), list_cost=Decimal(amount), tokens=tokens, record_count=1,
    )


@pytest.fixture
def chat():
    workload = WorkloadFactory(slug="chat", inference_unit=Workload.InferenceUnit.TOKEN)
    for day in WINDOW:
        _spend(workload, day, "25.00")
        InferenceVolume.objects.create(workload=workload, day=day, requests=1_000, input_tokens=400_000, output_tokens=100_000)
    # Outside the window, or another workload's: none of it may count.
    _spend(workload, END + timedelta(days=1), "999.00")
    InferenceVolume.objects.create(workload=workload, day=START - timedelta(days=1), requests=9, input_tokens=9, output_tokens=9)
    _spend(WorkloadFactory(team=workload.team), START, "500.00")
    return workload


@pytest.fixture
def leader():
    return UserFactory(is_staff=True)


def _compare(workload, user, start=START, end=END):
    return build_vs_buy(user=user, workload=workload, start=start, end=end)


def _by_model(result):
    return {row["model_name"]: row for row in result["comparisons"]}


def test_self_hosted_cost_volume_and_unit_costs(chat, leader):
    result = _compare(chat, leader)

    assert result["days"] == 10
    volume = result["volume"]
    assert (volume["requests"], volume["input_tokens"], volume["output_tokens"]) == (10_000, 4_000_000, 1_000_000)
    assert (volume["tokens"], volume["tokens_source"], volume["days_reported"]) == (Decimal(5_000_000), "served", 10)
    assert (volume["monthly_requests"], volume["monthly_tokens"]) == (Decimal(30_000), Decimal(15_000_000))
    [usd] = result["self_hosted"]
    assert usd == {
        "currency": "USD",
        "cost": Decimal("250"),
        "monthly_cost": Decimal("750"),
        "cost_per_1m_tokens": Decimal("50"),
        "cost_per_1k_requests": Decimal("25"),
    }
    assert result["notes"] == []


def test_a_token_priced_api_is_blended_over_the_measured_input_output_mix(chat, leader):
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="small", input_price_per_1m_tokens=Decimal("2.50"), output_price_per_1m_tokens=Decimal("10.00")
    ))

    row = _by_model(_compare(chat, leader))["small"]

    assert (row["basis"], row["price_unit"], row["currency"]) == ("tokens", "1M tokens", "USD")
    assert row["managed_cost"] == Decimal("20")  # 4M × 2.50 + 1M × 10.00 per 1M
    assert row["managed_unit_price"] == Decimal("4")  # 20 USD for 5M tokens
    assert row["difference"] == Decimal("-230")  # 20 − 250
    assert row["self_hosted_monthly_cost"] == Decimal("750")
    assert row["break_even_monthly_volume"] == Decimal("187500000")  # 750 / (4 / 1M)
    assert row["current_monthly_volume"] == Decimal("15000000")
    assert row["cheaper"] == "managed"
    assert row["verdict"] == (
        "Self-hosting is cheaper above 187,500,000 tokens a month; the current volume is "
        "15,000,000 tokens a month, so the managed API is cheaper now."
    )
    assert row["reason"] == ""


def test_a_request_priced_api_breaks_even_below_the_current_volume(chat, leader):
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="rerank", input_price_per_1m_tokens=None, output_price_per_1m_tokens=None,
        price_per_1k_requests=Decimal("40.00"),
    ))

    row = _by_model(_compare(chat, leader))["rerank"]

    assert (row["basis"], row["price_unit"]) == ("requests", "1k requests")
    assert row["managed_cost"] == Decimal("400")  # 10,000 requests × 40 / 1k
    assert row["difference"] == Decimal("150")
    assert row["break_even_monthly_volume"] == Decimal("18750")  # 750 / (40 / 1k)
    assert row["current_monthly_volume"] == Decimal("30000")
    assert row["cheaper"] == "self_hosted"
    assert row["verdict"].endswith("the current volume is 30,000 requests a month, so self-hosting is cheaper now.")


def test_a_break_even_that_does_not_terminate_is_exact_to_28_digits(chat, leader):
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="odd", input_price_per_1m_tokens=Decimal("3"), output_price_per_1m_tokens=Decimal("3")
    ))

    row = _by_model(_compare(chat, leader))["odd"]

    assert row["managed_cost"] == Decimal("15")
    # 750 USD a month / 3 USD per 1M tokens
    assert row["break_even_monthly_volume"] == Decimal("250000000")
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="third", input_price_per_1m_tokens=Decimal("0.7"), output_price_per_1m_tokens=Decimal("0.7")
    ))
    third = _by_model(_compare(chat, leader))["third"]
    assert third["break_even_monthly_volume"] == Decimal("1071428571.428571428571428571")  # 750e6 / 0.7


def test_a_price_in_another_currency_is_skipped_with_its_reason(chat, leader):
    euro = ManagedApiPriceFactory(model_name="euro", currency="EUR")
    chat.managed_api_prices.add(euro)

    result = _compare(chat, leader)

    assert result["comparisons"] == []
    [skipped] = result["skipped"]
    assert skipped["price"] == euro
    assert "priced in EUR while the workload's spend is in USD" in skipped["reason"]


def test_spend_in_two_currencies_compares_each_price_with_its_own(chat, leader):
    _spend(chat, START, "90.00", currency="EUR")
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="euro", currency="EUR", input_price_per_1m_tokens=Decimal("1"), output_price_per_1m_tokens=Decimal("1")
    ))

    result = _compare(chat, leader)

    assert [row["currency"] for row in result["self_hosted"]] == ["EUR", "USD"]
    row = _by_model(result)["euro"]
    assert (row["self_hosted_cost"], row["managed_cost"], row["difference"]) == (Decimal("90"), Decimal("5"), Decimal("-85"))
    assert any("several currencies" in note for note in result["notes"])


def test_prices_not_linked_to_the_workload_are_not_compared(chat, leader):
    ManagedApiPriceFactory(model_name="unrelated")

    assert _compare(chat, leader)["comparisons"] == []


def test_a_free_api_has_no_break_even(chat, leader):
    chat.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="free", input_price_per_1m_tokens=Decimal("0"), output_price_per_1m_tokens=Decimal("0")
    ))

    row = _by_model(_compare(chat, leader))["free"]

    assert (row["managed_cost"], row["difference"], row["cheaper"]) == (Decimal("0"), Decimal("-250"), "managed")
    assert row["break_even_monthly_volume"] is None
    assert "charges nothing per token: self-hosting never breaks even" in row["verdict"]


def test_without_volume_there_are_no_unit_figures_and_reasons_say_why(leader):
    quiet = WorkloadFactory(inference_unit=Workload.InferenceUnit.TOKEN)
    _spend(quiet, START, "300.00")
    chat_price = ManagedApiPriceFactory(model_name="mix", input_price_per_1m_tokens=Decimal("1"), output_price_per_1m_tokens=Decimal("4"))
    request_price = ManagedApiPriceFactory(model_name="per-request", input_price_per_1m_tokens=None, price_per_1k_requests=Decimal("2"))
    quiet.managed_api_prices.add(chat_price, request_price)

    result = _compare(quiet, leader)

    [usd] = result["self_hosted"]
    assert (usd["cost_per_1m_tokens"], usd["cost_per_1k_requests"]) == (None, None)
    assert result["volume"]["monthly_tokens"] is None
    assert any("No tokens were reported" in note for note in result["notes"])
    mix = _by_model(result)["mix"]
    assert (mix["managed_cost"], mix["break_even_monthly_volume"]) == (None, None)
    assert "prices input and output tokens differently: the blended price needs the mix" in mix["reason"]
    # A per-request price needs no mix: the break-even stands, only today's volume is unknown.
    per_request = _by_model(result)["per-request"]
    assert per_request["managed_cost"] is None
    assert per_request["break_even_monthly_volume"] == Decimal("450000")  # 300 × 30/10 / (2 / 1k)
    assert "no current volume to compare" in per_request["verdict"]


def test_billed_tokens_stand_in_when_the_serving_stack_reports_none(leader):
    managed = WorkloadFactory(hosting=Workload.Hosting.MANAGED_API, inference_unit=Workload.InferenceUnit.TOKEN)
    for day in WINDOW[:5]:
        _spend(managed, day, "12.00", tokens=Decimal(1_000_000))
    managed.managed_api_prices.add(ManagedApiPriceFactory(
        model_name="flat", input_price_per_1m_tokens=Decimal("2"), output_price_per_1m_tokens=None
    ))

    result = _compare(managed, leader)

    assert (result["volume"]["tokens"], result["volume"]["tokens_source"]) == (Decimal(5_000_000), "billed")
    assert result["self_hosted"][0]["cost_per_1m_tokens"] == Decimal("12")  # 60 / 5M tokens
    row = _by_model(result)["flat"]
    assert (row["managed_cost"], row["difference"]) == (Decimal("10"), Decimal("-50"))
    assert row["break_even_monthly_volume"] == Decimal("90000000")  # 180 a month / (2 / 1M)


def test_partial_volume_is_flagged(chat, leader):
    InferenceVolume.objects.filter(day__gt=date(2026, 10, 5)).delete()

    result = _compare(chat, leader)

    assert result["volume"]["days_reported"] == 5
    assert result["self_hosted"][0]["cost_per_1m_tokens"] == Decimal("100")  # 250 / 2.5M
    assert any("reported on 5 of 10 days" in note for note in result["notes"])


def test_a_workload_without_spend_skips_every_price(leader):
    idle = WorkloadFactory()
    idle.managed_api_prices.add(ManagedApiPriceFactory())

    result = _compare(idle, leader)

    assert result["self_hosted"] == [] and result["comparisons"] == []
    assert "no self-hosted spend recorded" in result["skipped"][0]["reason"]


def test_spend_rolled_up_from_cost_records_is_what_is_compared(leader, settings):
    settings.TIME_ZONE = "UTC"
    workload = WorkloadFactory(inference_unit=Workload.InferenceUnit.TOKEN)
    run = IngestRun.objects.create(kind=IngestRun.Kind.BILLING, source="test")
    for hour, amount in ((0, "1.2345678901"), (13, "2.0000000099")):
        begins = f"2026-10-01T{hour:02d}:00:00Z"
        CostRecord.objects.create(
            ingest_run=run, workload=workload, charge_period_start=begins, charge_period_end=begins,
            billing_period_start="2026-10-01T00:00:00Z", billing_period_end="2026-11-01T00:00:00Z",
            provider_name="AWS", billing_account_id="1", charge_category="Usage", billed_cost=Decimal(amount),
            effective_cost=Decimal(amount), billing_currency="USD",
        )
    daily_spend_refresh(earliest=run.cost_records.earliest("charge_period_start").charge_period_start,
                        latest=run.cost_records.latest("charge_period_start").charge_period_start)
    InferenceVolume.objects.create(workload=workload, day=START, requests=3, input_tokens=2_000_000, output_tokens=1_000_000)

    result = _compare(workload, leader, end=START)

    [usd] = result["self_hosted"]
    assert usd["cost"] == Decimal("3.2345679000")
    assert usd["cost_per_1m_tokens"] == Decimal("1.0781893")  # 3.2345679 / 3
    assert usd["monthly_cost"] == Decimal("97.037037")  # × 30 days


def test_a_member_sees_their_teams_comparison_and_another_team_gets_does_not_exist(chat):
    member = MembershipFactory(team=chat.team).user
    outsider = MembershipFactory(team=TeamFactory()).user
    leader_elsewhere = MembershipFactory(team=TeamFactory(), role=TeamMembership.Role.LEADER).user

    assert _compare(chat, member)["self_hosted"][0]["cost"] == Decimal("250")
    assert _compare(chat, leader_elsewhere)["self_hosted"][0]["cost"] == Decimal("250")
    with pytest.raises(Workload.DoesNotExist):
        _compare(chat, outsider)


def test_start_after_end_is_refused(chat, leader):
    with pytest.raises(ValueError):
        _compare(chat, leader, start=END, end=START)
