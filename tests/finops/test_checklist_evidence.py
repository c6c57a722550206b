from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import (
    ChecklistItem,
    ChecklistStep,
    DailySpend,
    InferenceVolume,
    Initiative,
    TeamMembership,
)
from finops.selectors.checklist import checklist_for_team, checklist_for_workload
from tests.factories import (
    BenchmarkFactory,
    ChecklistItemFactory,
    InitiativeFactory,
    ManagedApiPriceFactory,
    MembershipFactory,
    UserFactory,
    WorkloadFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 15)  # the last full month is October 2026


@pytest.fixture
def leader():
    user = UserFactory()
    MembershipFactory(user=user, role=TeamMembership.Role.LEADER)
    return user


@pytest.fixture
def workload():
    return WorkloadFactory()


def _steps(entries) -> dict[str, object]:
    return {entry.step: entry for entry in entries}


def _spend(workload, day, cost, *, category="compute", premium="0", requests=0):
    DailySpend.objects.create(
        day=day, team=workload.team, workload=workload, provider_name="AWS", service_name="Amazon SageMaker",
        service_category="AI and Machine Learning", charge_category="Usage", billing_currency="USD",
        tco_category=category, billed_cost=Decimal(cost), effective_cost=Decimal(cost), list_cost=Decimal(cost),
        managed_premium=Decimal(premium), record_count=1,
    )
    if requests:
        InferenceVolume.objects.create(workload=workload, day=day, requests=requests)


def test_nothing_is_proven_without_data(leader, workload):
    entries = checklist_for_team(user=leader, team=workload.team, as_of=TODAY)

    assert [entry.step for entry in entries] == list(ChecklistStep.values)
    assert not any(entry.proven for entry in entries)
    assert {entry.status for entry in entries} == {ChecklistItem.Status.NOT_STARTED}


def test_what_people_said_shows_until_the_data_proves_it(leader, workload):
    ChecklistItemFactory(team=workload.team, step=ChecklistStep.BENCHMARK_MODELS, status="in_progress", notes="vLLM vs TGI")

    before = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.BENCHMARK_MODELS]
    BenchmarkFactory(workload=workload, instance_type="g5.xlarge")
    after = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.BENCHMARK_MODELS]

    assert (before.status, before.proven, before.item.notes) == ("in_progress", False, "vLLM vs TGI")
    assert (after.status, after.proven) == ("done", True)
    assert "g5.xlarge" in after.evidence.summary


def test_tco_audit_is_proven_when_last_months_spend_is_all_classified(leader, workload):
    _spend(workload, date(2026, 10, 3), "700", premium="200")
    _spend(workload, date(2026, 10, 4), "300", category="storage")
    _spend(workload, date(2026, 11, 2), "50", category="")  # this month: not yet audited, does not count

    audit = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.AUDIT_TCO]

    assert audit.proven
    assert audit.evidence.subject == ("month", date(2026, 10, 1))
    assert "1,000.00 USD of October 2026" in audit.evidence.summary
    assert "50 % of it is hidden cost" in audit.evidence.summary  # 300 storage + 200 premium


def test_unclassified_spend_in_the_last_month_leaves_the_audit_open(leader, workload):
    _spend(workload, date(2026, 10, 3), "700")
    _spend(workload, date(2026, 10, 9), "0.01", category="")

    audit = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.AUDIT_TCO]

    assert not audit.proven


@pytest.mark.parametrize("technique", ["right_sizing", "batching", "continuous_batching"])
def test_a_done_right_sizing_or_batching_initiative_picks_the_low_hanging_fruit(leader, workload, technique):
    planned = InitiativeFactory(team=workload.team, workloads=[workload], technique=technique, status="in_progress")
    steps = _steps(checklist_for_workload(user=leader, workload=workload, as_of=TODAY))
    assert not steps[ChecklistStep.LOW_HANGING_FRUIT].proven

    planned.status, planned.effective_on = Initiative.Status.DONE, date(2026, 9, 1)
    planned.save()
    steps = _steps(checklist_for_workload(user=leader, workload=workload, as_of=TODAY))
    assert steps[ChecklistStep.LOW_HANGING_FRUIT].evidence.subject == ("initiative", planned.pk)


def test_a_done_quantization_is_not_low_hanging_fruit(leader, workload):
    InitiativeFactory(team=workload.team, workloads=[workload], technique="quantization", status="done",
                      effective_on=date(2026, 9, 1))

    steps = _steps(checklist_for_workload(user=leader, workload=workload, as_of=TODAY))

    assert not steps[ChecklistStep.LOW_HANGING_FRUIT].proven


def test_comparing_with_a_managed_api_price_assesses_platforms(leader, workload):
    other = WorkloadFactory()
    price = ManagedApiPriceFactory(provider_name="OpenAI", model_name="gpt-4o-mini")
    price.compared_workloads.add(other)
    assert not _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.ASSESS_PLATFORMS].proven

    price.compared_workloads.add(workload)
    step = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.ASSESS_PLATFORMS]

    assert step.proven and "OpenAI gpt-4o-mini" in step.evidence.summary


def _pilot_with_saving(workload, *, saving: bool):
    go_live = date(2026, 9, 1)
    for offset in range(1, 15):
        _spend(workload, go_live - timedelta(days=offset), "100", requests=10_000)
    for offset in range(14):
        _spend(workload, go_live + timedelta(days=offset), "80" if saving else "120", requests=10_000)
    return InitiativeFactory(
        team=workload.team, workloads=[workload], technique="quantization", status="done", effective_on=go_live,
        baseline_days=14,
    )


def test_a_pilot_that_saved_then_rolled_out_wider_proves_start_small_and_scale(leader, workload):
    pilot = _pilot_with_saving(workload, saving=True)
    others = [WorkloadFactory(team=workload.team) for _ in range(2)]
    rollout = InitiativeFactory(team=workload.team, workloads=others, technique="quantization", status="in_progress",
                                started_on=date(2026, 10, 1))

    step = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))[ChecklistStep.START_SMALL_AND_SCALE]

    assert step.evidence.subject == ("initiative", rollout.pk)
    assert f"“{pilot.title}” saved 280.00 USD" in step.evidence.summary


def test_a_pilot_without_a_saving_does_not_prove_start_small_and_scale(leader, workload):
    _pilot_with_saving(workload, saving=False)
    InitiativeFactory(team=workload.team, workloads=[WorkloadFactory(team=workload.team)], technique="quantization",
                      status="in_progress", started_on=date(2026, 10, 1))

    steps = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))

    assert not steps[ChecklistStep.START_SMALL_AND_SCALE].proven


def test_a_pilot_that_saved_but_was_not_rolled_out_wider_does_not(leader, workload):
    _pilot_with_saving(workload, saving=True)
    InitiativeFactory(team=workload.team, workloads=[workload], technique="quantization", status="done",
                      effective_on=date(2026, 10, 1))  # the same workload again
    InitiativeFactory(team=workload.team, workloads=[WorkloadFactory(team=workload.team)], technique="quantization",
                      status="proposed")  # wider, but only proposed
    InitiativeFactory(team=workload.team, workloads=[WorkloadFactory(team=workload.team)], technique="pruning",
                      status="done", effective_on=date(2026, 10, 1))  # wider, another technique

    steps = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))

    assert not steps[ChecklistStep.START_SMALL_AND_SCALE].proven


def test_a_rollout_that_started_before_the_pilot_went_live_does_not_count(leader, workload):
    _pilot_with_saving(workload, saving=True)
    InitiativeFactory(team=workload.team, workloads=[WorkloadFactory(team=workload.team)], technique="quantization",
                      status="done", started_on=date(2026, 8, 1), effective_on=date(2026, 8, 20))

    steps = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))

    assert not steps[ChecklistStep.START_SMALL_AND_SCALE].proven


def test_evidence_of_another_teams_workload_does_not_count(leader, workload):
    BenchmarkFactory()  # another team's workload

    steps = _steps(checklist_for_team(user=leader, team=workload.team, as_of=TODAY))

    assert not steps[ChecklistStep.BENCHMARK_MODELS].proven
