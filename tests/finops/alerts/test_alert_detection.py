"""spikes_detect on the DailySpend rollup: what fires, what is recorded, what is mailed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail

from finops.models import Alert, AlertDelivery, AlertRule, DailySpend, InferenceVolume
from finops.services.alert_detection import RESTATED, alert_rules_ensure_defaults, spikes_detect
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory
from tests.finops.alerts.builders import GPU, MODEL_API, SPIKE_DAY, cost_record, history, restate, spend
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db
WEEK = (SPIKE_DAY - timedelta(days=6), SPIKE_DAY)


def detect(day=SPIKE_DAY, *, start=None, today=None):
    return spikes_detect(start=start or day, end=day, today=today or day + timedelta(days=1))


def default_rule(team) -> AlertRule:
    alert_rules_ensure_defaults()
    return AlertRule.objects.get(team=team, is_default=True)


def test_every_team_gets_a_default_rule_once():
    first, second = TeamFactory(), TeamFactory()

    assert alert_rules_ensure_defaults() == 2
    assert alert_rules_ensure_defaults() == 0
    rule = AlertRule.objects.get(team=first, is_default=True)
    assert (rule.method, rule.threshold, rule.window_days, rule.cooldown_days, rule.min_amount) == (
        AlertRule.Method.ROBUST_ZSCORE, Decimal("3.25"), 42, 7, Decimal(50))
    assert rule.notify_team and rule.enabled
    assert AlertRule.objects.filter(team=second, is_default=True).count() == 1


def test_it_records_a_spike_with_the_services_and_resources_behind_it(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    gpu = history(team=team, workload=workload, service=GPU)
    api = history(team=team, workload=workload, service=MODEL_API, base=300, seed=1, spikes={SPIKE_DAY: 3.0})
    cost_record(workload=workload, day=SPIKE_DAY, amount="700.00", resource_id="arn:bedrock:claude", service=MODEL_API)
    cost_record(workload=workload, day=SPIKE_DAY, amount="90.00", resource_id="i-0abc", service=GPU)

    summary = detect()

    alert = Alert.objects.get()
    assert summary.created == 1
    assert (alert.rule, alert.day, alert.currency, alert.state) == (default_rule(team), SPIKE_DAY, "USD", "open")
    assert_same_money(alert.observed_amount, gpu[SPIKE_DAY] + api[SPIKE_DAY])
    assert alert.expected_amount < alert.observed_amount
    assert alert.scope_label == "team Search"
    assert alert.drivers["services"][0]["name"] == MODEL_API
    assert Decimal(alert.drivers["services"][0]["change"]) > 500
    assert [r["resource_id"] for r in alert.drivers["resources"]] == ["arn:bedrock:claude", "i-0abc"]
    assert alert.details["z"] >= 3.25


def test_running_again_neither_duplicates_nor_mails_again(team_setup, django_capture_on_commit_callbacks):
    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})

    with django_capture_on_commit_callbacks(execute=True):
        detect(start=SPIKE_DAY - timedelta(days=6))
        second = detect(start=SPIKE_DAY - timedelta(days=6))

    assert Alert.objects.count() == 1
    assert (second.created, second.updated, len(second.deliveries)) == (0, 0, 0)
    assert len(mail.outbox) == 1
    assert AlertDelivery.objects.get().status == AlertDelivery.Status.SENT


def test_a_restated_bill_updates_the_alert_and_can_take_it_back(team_setup, django_capture_on_commit_callbacks):
    team = team_setup["team"]
    written = history(team=team, workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})
    with django_capture_on_commit_callbacks(execute=True):
        detect()
    alert = Alert.objects.get()

    restate(team=team, day=SPIKE_DAY, amount=written[SPIKE_DAY] * 2)
    with django_capture_on_commit_callbacks(execute=True):
        bigger = detect()
    alert.refresh_from_db()
    assert (bigger.created, bigger.updated) == (0, 1)
    assert_same_money(alert.observed_amount, written[SPIKE_DAY] * 2)
    assert alert.state == Alert.State.OPEN

    restate(team=team, day=SPIKE_DAY, amount=written[SPIKE_DAY] / Decimal("1.8"))
    gone = detect()
    alert.refresh_from_db()
    assert gone.resolved == 1
    assert alert.state == Alert.State.RESOLVED and alert.resolved_by is None
    assert alert.details["resolution"] == RESTATED
    assert Alert.objects.count() == 1
    assert len(mail.outbox) == 1  # restatements are never mailed


def test_a_lasting_step_is_one_alert_until_it_escalates(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    step = {SPIKE_DAY + timedelta(days=offset): 1.6 for offset in range(10)}
    step[SPIKE_DAY + timedelta(days=8)] = 4.0  # the incident gets much worse
    history(team=team, workload=workload, end=SPIKE_DAY + timedelta(days=9), days=80, spikes=step)

    summary = spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY + timedelta(days=9))

    assert [alert.day for alert in Alert.objects.order_by("day")] == [SPIKE_DAY, SPIKE_DAY + timedelta(days=8)]
    assert summary.suppressed >= 5


def test_a_new_incident_after_the_cooldown_is_announced(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    later = SPIKE_DAY + timedelta(days=15)
    history(team=team, workload=workload, end=later, days=85, spikes={SPIKE_DAY: 1.7, later: 1.7})

    spikes_detect(start=SPIKE_DAY - timedelta(days=1), end=later)

    assert [alert.day for alert in Alert.objects.order_by("day")] == [SPIKE_DAY, later]


def test_back_filled_days_are_recorded_but_not_mailed(team_setup):
    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})

    summary = detect(today=SPIKE_DAY + timedelta(days=30))

    alert = Alert.objects.get()
    assert summary.deliveries == []
    assert not alert.deliveries.exists()
    assert alert.notification_note == "not mailed: found by back-fill, 30 days after the day"


def test_a_muted_rule_records_but_mails_nobody(team_setup):
    from django.utils import timezone

    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})
    rule = default_rule(team_setup["team"])
    rule.muted_until = timezone.now() + timedelta(days=3)
    rule.save()

    detect()

    alert = Alert.objects.get()
    assert not alert.deliveries.exists()
    assert alert.notification_note.startswith("not mailed: the rule is muted until")


def test_a_disabled_rule_is_not_evaluated(team_setup):
    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})
    AlertRule.objects.filter(pk=default_rule(team_setup["team"]).pk).update(enabled=False)

    summary = detect()

    assert summary.rules == 1  # the other team's default rule only
    assert not Alert.objects.exists()


def test_a_rule_watches_only_its_scope(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    quiet = WorkloadFactory(team=team, name="Embedder")
    history(team=team, workload=workload, service=GPU, spikes={SPIKE_DAY: 2.0})
    history(team=team, workload=quiet, service=MODEL_API, base=800, seed=2)
    history(team=None, workload=None, service="Amazon S3", base=400, seed=3, spikes={SPIKE_DAY: 3.0})
    AlertRule.objects.filter(team=team).delete()
    rules = {
        "workload": AlertRule.objects.create(name="w", workload=workload, team=team, threshold=Decimal("3.25")),
        "quiet workload": AlertRule.objects.create(name="q", workload=quiet, team=team, threshold=Decimal("3.25")),
        "service": AlertRule.objects.create(name="s", service_name=GPU, threshold=Decimal("3.25")),
        "other service": AlertRule.objects.create(name="o", service_name=MODEL_API, threshold=Decimal("3.25")),
        "all spend": AlertRule.objects.create(name="a", threshold=Decimal("3.25")),
    }

    detect()

    fired = {name for name, rule in rules.items() if rule.alerts.exists()}
    assert fired == {"workload", "service", "all spend"}
    assert rules["workload"].alerts.get().scope_label == "workload Reranker (Search)"
    drivers = [driver["name"] for driver in rules["all spend"].alerts.get().drivers["services"]]
    assert set(drivers[:2]) == {GPU, "Amazon S3"}  # unallocated spend, too


def test_each_currency_is_watched_on_its_own(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    history(team=team, workload=workload, currency="USD", spikes={SPIKE_DAY: 2.0})
    history(team=team, workload=workload, currency="EUR", base=5000, seed=4)

    detect()

    alert = Alert.objects.get()
    assert alert.currency == "USD"
    assert alert.observed_amount < 5000  # no euros added to dollars


def test_the_unit_cost_rule_reads_billed_tokens(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    per_usd = Decimal(1_000_000) / 3  # 3 USD per 1M tokens
    written = history(team=team, workload=workload, service=MODEL_API, tokens_per_unit=per_usd, spikes={SPIKE_DAY: 2.0})
    rule = AlertRule.objects.create(name="Bedrock efficiency", team=team, service_name=MODEL_API,
                                    method=AlertRule.Method.UNIT_COST, threshold=Decimal(30), window_days=28)

    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, rule_ids=[rule.pk], today=SPIKE_DAY)
    assert not rule.alerts.exists()  # twice the bill for twice the tokens: efficiency unchanged

    spend(team=team, workload=workload, day=SPIKE_DAY, amount=written[SPIKE_DAY], service=MODEL_API,
          tokens=Decimal(0))  # another line item that day, billed but producing no tokens...
    restate(team=team, day=SPIKE_DAY, amount=written[SPIKE_DAY] * Decimal("1.5"), service=MODEL_API)
    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, rule_ids=[rule.pk], today=SPIKE_DAY)

    alert = rule.alerts.get()  # ...is ignored; the token-billed line got 50% dearer per token
    assert alert.details["unit"] == "1M billed tokens"
    assert alert.details["observed_per_unit"].startswith("4.5")
    assert alert.details["expected_per_unit"].startswith("3.0")


def test_recipients_are_the_team_who_may_see_it_plus_named_addresses(team_setup, django_capture_on_commit_callbacks):
    team = team_setup["team"]
    history(team=team, workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})
    rule = default_rule(team)
    quitter = MembershipFactory(team=team, user__email="quit@example.com").user
    rule.unsubscribed.add(quitter)
    rule.recipients.add(team_setup["outsider"], team_setup["leader"], UserFactory(email=""))
    rule.email_addresses = "oncall@example.com\nANA@example.com"
    rule.save()

    with django_capture_on_commit_callbacks(execute=True):
        detect()

    mailed = set(AlertDelivery.objects.values_list("email", flat=True))
    # the outsider cannot see Search's spend; the leader can; ANA@ is ana@ already
    assert mailed == {"ana@example.com", "lea@example.com", "oncall@example.com"}
    assert {message.to[0] for message in mail.outbox} == mailed


def test_the_unit_cost_rule_divides_by_reported_inferences_when_the_serving_stack_reports_them(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    written = history(team=team, workload=workload, spikes={SPIKE_DAY: 2.0})
    for day, amount in written.items():  # 4 USD per 1,000 requests, traffic growing and cycling with spend
        InferenceVolume.objects.create(workload=workload, day=day, requests=int(amount * 250))
    rule = AlertRule.objects.create(name="Efficiency", team=team, method=AlertRule.Method.UNIT_COST,
                                    threshold=Decimal(30), window_days=28)

    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, rule_ids=[rule.pk], today=SPIKE_DAY)
    assert not rule.alerts.exists()  # twice the bill for twice the requests

    InferenceVolume.objects.filter(workload=workload, day=SPIKE_DAY).update(requests=int(written[SPIKE_DAY] * 125))
    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, rule_ids=[rule.pk], today=SPIKE_DAY)

    alert = rule.alerts.get()  # the same bill for half the requests: twice the cost per inference
    assert alert.details["unit"] == "1k inferences"
    assert alert.details["observed_per_unit"].startswith("8.0")
    assert alert.details["expected_per_unit"].startswith("4.0")


def test_a_rule_scoped_to_a_tco_category_watches_only_that_category(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    history(team=team, workload=workload, spikes={SPIKE_DAY: 3.0})  # compute spend spikes...
    DailySpend.objects.filter(team=team).update(tco_category="compute")
    for day in range(60, 0, -1):  # ...while egress stays flat
        spend(team=team, workload=workload, day=SPIKE_DAY - timedelta(days=day - 1), amount=Decimal("40.00"),
              service="AWS Data Transfer")
    DailySpend.objects.filter(team=team, service_name="AWS Data Transfer").update(tco_category="data_egress")
    egress = AlertRule.objects.create(name="Egress", team=team, tco_category="data_egress", threshold=Decimal("3.25"))
    compute = AlertRule.objects.create(name="Compute", team=team, tco_category="compute", threshold=Decimal("3.25"))

    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, rule_ids=[egress.pk, compute.pk], today=SPIKE_DAY)

    assert not egress.alerts.exists()
    assert compute.alerts.get().scope_label == "compute (Search)"
