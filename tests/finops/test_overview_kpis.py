from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import Alert, AlertRule, DailySpend, InferenceVolume, TeamMembership
from finops.selectors.overview import (
    cost_per_1k_inferences,
    month_to_date,
    open_alert_count,
    realized_savings_year_to_date,
    top_movers,
)
from finops.selectors.spend import SpendFilter
from tests.factories import InitiativeFactory, MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 3, 10)
EVERYTHING = SpendFilter(start=date(2025, 1, 1), end=AS_OF)


def _spend(workload, day, amount, currency="USD"):
    DailySpend.objects.create(
        day=day, team=workload.team if workload else None, workload=workload, provider_name="AWS",
        service_name="EC2", service_category="Compute", charge_category="Usage", billing_currency=currency,
        billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
    )


@pytest.fixture
def leader():
    user = UserFactory()
    MembershipFactory(user=user, role=TeamMembership.Role.LEADER)
    return user


def test_month_to_date_compares_the_same_days_and_forecasts_from_the_last_week(leader):
    workload = WorkloadFactory()
    for day in range(1, 11):
        _spend(workload, date(2026, 3, day), "10.00" if day <= 3 else "20.00")
    for day in range(1, 29):  # February: 28 days at 5.00
        _spend(workload, date(2026, 2, day), "5.00")

    [mtd] = month_to_date(user=leader, spend_filter=EVERYTHING, as_of=AS_OF)

    assert mtd.month_to_date == Decimal("170.00")  # 3 × 10 + 7 × 20
    assert mtd.same_days_last_month == Decimal("50.00")  # 1-10 February
    assert mtd.change == Decimal("240")
    assert mtd.forecast == Decimal("590.00")  # 170 + 20 a day × 21 days left


def test_the_same_day_last_month_is_clamped_to_the_end_of_a_shorter_month(leader):
    workload = WorkloadFactory()
    _spend(workload, date(2026, 2, 28), "7.00")
    _spend(workload, date(2026, 3, 31), "9.00")

    [mtd] = month_to_date(user=leader, spend_filter=EVERYTHING, as_of=date(2026, 3, 31))

    assert mtd.same_days_last_month == Decimal("7.00") and mtd.forecast == Decimal("9.00")


def test_cost_per_1k_inferences_counts_only_days_with_a_volume(leader):
    workload = WorkloadFactory()
    for offset in range(60):
        day = AS_OF - timedelta(days=offset)
        _spend(workload, day, "30.00" if offset < 30 else "40.00")
        if offset != 5:
            InferenceVolume.objects.create(workload=workload, day=day, requests=10_000)

    unit = cost_per_1k_inferences(user=leader, spend_filter=EVERYTHING, as_of=AS_OF)["USD"]

    assert unit["current"] == Decimal("3.0000") and unit["previous"] == Decimal("4.0000")
    assert len(unit["series"]) == 29


def test_top_movers_rank_by_the_size_of_the_change_including_unallocated(leader):
    steady, growing, shrinking = WorkloadFactory(name="steady"), WorkloadFactory(name="growing"), WorkloadFactory(name="shrinking")
    for offset in range(14):
        day = AS_OF - timedelta(days=offset)
        recent = offset < 7
        _spend(steady, day, "10.00")
        _spend(growing, day, "30.00" if recent else "10.00")
        _spend(shrinking, day, "5.00" if recent else "25.00")
        _spend(None, day, "12.00" if recent else "10.00")

    movers = top_movers(user=leader, spend_filter=EVERYTHING, as_of=AS_OF)

    assert [(m["workload"], m["change"]) for m in movers] == [
        ("growing", Decimal("140.00")), ("shrinking", Decimal("-140.00")), (None, Decimal("14.00")),
        ("steady", Decimal("0.00"))]


def test_a_member_sees_only_their_teams_figures(leader):
    ours, theirs = WorkloadFactory(), WorkloadFactory()
    _spend(ours, AS_OF, "10.00")
    _spend(theirs, AS_OF, "99.00")
    _spend(None, AS_OF, "5.00")
    member = MembershipFactory(team=ours.team).user

    [mtd] = month_to_date(user=member, spend_filter=EVERYTHING, as_of=AS_OF)
    movers = top_movers(user=member, spend_filter=EVERYTHING, as_of=AS_OF)

    assert mtd.month_to_date == Decimal("10.00")
    assert [m["workload_id"] for m in movers] == [ours.pk]


def test_savings_this_year_count_only_days_since_the_first_of_january(leader):
    workload = WorkloadFactory()
    go_live = date(2025, 12, 22)
    for offset in range(-10, 20):  # 0.010 a request before, 0.008 after, flat traffic: 20.00 a day
        day = go_live + timedelta(days=offset)
        _spend(workload, day, "100.00" if offset < 0 else "80.00")
        InferenceVolume.objects.create(workload=workload, day=day, requests=10_000)
    InitiativeFactory(team=workload.team, workloads=[workload], effective_on=go_live, baseline_days=10)

    saved = realized_savings_year_to_date(user=leader, spend_filter=EVERYTHING, as_of=AS_OF)

    assert saved == {"USD": Decimal("200.00")}  # 1-10 January; the 10 December days are last year's


def test_open_alerts_are_counted_for_the_rules_a_user_may_see(leader):
    ours, theirs = TeamFactory(), TeamFactory()
    for team in (ours, theirs):
        rule = AlertRule.objects.create(name="r", team=team, threshold=Decimal(3))
        Alert.objects.create(rule=rule, scope_label="t", day=AS_OF, currency="USD", observed_amount=2,
                             expected_amount=1)
    member = MembershipFactory(team=ours).user

    assert open_alert_count(user=member) == 1
    assert open_alert_count(user=leader) == 2
