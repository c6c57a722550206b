from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import DailySpend, InferenceVolume, Initiative, TeamMembership, Workload
from finops.selectors.initiatives import initiative_results, initiatives_for_user
from tests.factories import InitiativeFactory, MembershipFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db

GO_LIVE = date(2026, 6, 1)
AS_OF = GO_LIVE + timedelta(days=29)  # 30 days measured after the change


def _day(workload, day, *, cost, requests=0, tokens=0, currency="USD"):
    DailySpend.objects.create(
        day=day, team=workload.team, workload=workload, provider_name="AWS",
        service_name="Amazon Elastic Compute Cloud", service_category="Compute", charge_category="Usage",
        billing_currency=currency, billed_cost=cost, effective_cost=cost, list_cost=cost, record_count=1,
    )
    if requests or tokens:
        InferenceVolume.objects.update_or_create(
            workload=workload, day=day, defaults={"requests": requests, "input_tokens": tokens},
        )


def _growing_traffic_after_quantization(workload):
    """28 baseline days at 10,000 requests for 120.00 (0.012 a request); after the change the
    traffic grows 1 % of the baseline a day while a request costs 0.009."""
    for offset in range(1, 29):
        _day(workload, GO_LIVE - timedelta(days=offset), cost=Decimal("120.00"), requests=10_000)
    for offset in range(30):
        requests = 10_000 + 100 * offset
        _day(workload, GO_LIVE + timedelta(days=offset), cost=Decimal("0.009") * requests, requests=requests)


@pytest.fixture
def leader():
    user = UserFactory()
    MembershipFactory(user=user, role=TeamMembership.Role.LEADER)
    return user


def _result(user, initiative):
    return initiative_results(user=user, initiatives=[initiative], as_of=AS_OF)[initiative.pk]


def test_saving_credits_growth_in_traffic_to_the_cent(leader):
    workload = WorkloadFactory()
    _growing_traffic_after_quantization(workload)
    initiative = InitiativeFactory(
        team=workload.team, workloads=[workload], status=Initiative.Status.DONE, effective_on=GO_LIVE,
        implementation_cost=Decimal("2000.00"), expected_monthly_saving=Decimal("900.00"),
    )

    result = _result(leader, initiative)

    # (0.012 − 0.009) × (30 × 10,000 + 100 × (0 + 1 + … + 29)) = 0.003 × 343,500
    assert result.realized_saving == Decimal("1030.50")
    assert result.monthly_realized_saving == Decimal("1045.53")  # 1030.50 / 30 days × 30.4375
    assert result.roi == Decimal("-0.4848")  # (1030.50 − 2000) / 2000, not paid back yet
    assert result.payback_months == Decimal("1.9")  # 2000 / 1045.53
    saving = result.workloads[0]
    assert (saving.baseline.days_measured, saving.after.days_measured) == (28, 30)
    assert saving.baseline.cost_per_inference == Decimal("0.012")
    assert saving.after.cost_per_inference == Decimal("0.009")
    assert result.interval == (Decimal("1030.50"), Decimal("1030.50"))  # no day-to-day spread
    assert result.confidence == "high"


def test_spend_that_grows_with_traffic_at_the_same_unit_cost_saved_nothing(leader):
    workload = WorkloadFactory()
    for offset in range(1, 15):
        _day(workload, GO_LIVE - timedelta(days=offset), cost=Decimal("50.00"), requests=5_000)
    for offset in range(14):
        _day(workload, GO_LIVE + timedelta(days=offset), cost=Decimal("100.00"), requests=10_000)
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], effective_on=GO_LIVE)

    result = initiative_results(user=leader, initiatives=[initiative], as_of=GO_LIVE + timedelta(days=13))

    assert result[initiative.pk].realized_saving == Decimal("0.00")


def test_cumulative_series_ends_at_the_realized_saving_and_tracks_expected(leader):
    workload = WorkloadFactory()
    _growing_traffic_after_quantization(workload)
    initiative = InitiativeFactory(
        team=workload.team, workloads=[workload], effective_on=GO_LIVE, expected_monthly_saving=Decimal("913.13")
    )

    series = _result(leader, initiative).cumulative_series()

    assert len(series) == 30
    assert series[0] == {"day": GO_LIVE, "realized": Decimal("30.00"), "expected": Decimal("30.00")}
    assert series[-1]["realized"] == Decimal("1030.50")
    assert series[-1]["expected"] == Decimal("900.00")  # 913.13 / 30.4375 × 30


def test_noisy_short_series_is_low_confidence_with_an_interval_around_the_figure(leader):
    workload = WorkloadFactory()
    for offset, cost in enumerate(["100", "120", "80", "110", "90"], start=1):
        _day(workload, GO_LIVE - timedelta(days=offset), cost=Decimal(cost), requests=10_000)
    for offset, cost in enumerate(["95", "70", "85"]):
        _day(workload, GO_LIVE + timedelta(days=offset), cost=Decimal(cost), requests=10_000)
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], effective_on=GO_LIVE, baseline_days=5)

    result = initiative_results(user=leader, initiatives=[initiative], as_of=GO_LIVE + timedelta(days=2))[initiative.pk]

    assert result.realized_saving == Decimal("50.00")  # 500 × 30,000 / 50,000 − 250
    low, high = result.interval
    assert low < Decimal("50.00") < high
    assert result.confidence == "low"


def test_token_workloads_are_measured_per_token(leader):
    workload = WorkloadFactory(inference_unit=Workload.InferenceUnit.TOKEN)
    for offset in range(1, 8):
        _day(workload, GO_LIVE - timedelta(days=offset), cost=Decimal("40.00"), requests=1, tokens=20_000_000)
    for offset in range(7):
        _day(workload, GO_LIVE + timedelta(days=offset), cost=Decimal("30.00"), requests=1, tokens=20_000_000)
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], effective_on=GO_LIVE, baseline_days=7)

    result = initiative_results(user=leader, initiatives=[initiative], as_of=GO_LIVE + timedelta(days=6))[initiative.pk]

    assert result.workloads[0].after.cost_per_inference * 1_000_000 == Decimal("1.5")
    assert result.realized_saving == Decimal("70.00")


def test_days_without_a_volume_and_other_currencies_do_not_count(leader):
    workload = WorkloadFactory()
    _growing_traffic_after_quantization(workload)
    _day(workload, GO_LIVE - timedelta(days=29), cost=Decimal("999.00"))  # spend, no volume reported
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], effective_on=GO_LIVE, currency="EUR")
    in_usd = InitiativeFactory(team=workload.team, workloads=[workload], effective_on=GO_LIVE, baseline_days=29)

    results = initiative_results(user=leader, initiatives=[initiative, in_usd], as_of=AS_OF)

    assert results[initiative.pk].realized_saving is None
    assert "EUR" in results[initiative.pk].reason
    assert results[in_usd.pk].realized_saving == Decimal("1030.50")


def test_an_initiative_without_a_go_live_date_has_no_figure_and_says_why(leader):
    workload = WorkloadFactory()
    _growing_traffic_after_quantization(workload)
    initiative = InitiativeFactory(team=workload.team, workloads=[workload], status=Initiative.Status.APPROVED)

    result = _result(leader, initiative)

    assert result.realized_saving is None and result.roi is None and result.payback_months is None
    assert result.confidence == "none"
    assert "effective on" in result.reason


def test_members_see_their_teams_initiatives_and_only_their_workloads_in_the_figure():
    ours, theirs = WorkloadFactory(), WorkloadFactory()
    _growing_traffic_after_quantization(ours)
    _growing_traffic_after_quantization(theirs)
    shared = InitiativeFactory(team=ours.team, workloads=[ours, theirs], effective_on=GO_LIVE)
    other_team = InitiativeFactory(team=theirs.team, workloads=[theirs], effective_on=GO_LIVE)
    member = MembershipFactory(team=ours.team).user

    assert list(initiatives_for_user(member)) == [shared]
    result = _result(member, shared)
    assert [w.workload_id for w in result.workloads] == [ours.pk]
    assert result.realized_saving == Decimal("1030.50")
    assert other_team not in initiatives_for_user(member)
