"""Spike detection: evaluate every enabled rule on a range of days and record what fired.

Idempotent by construction: one Alert per (rule, day, currency), enforced by a unique
constraint; running again over the same days updates those rows (a restated bill) and never
creates or mails a second alert. Each rule is evaluated in its own transaction holding its
row lock, so concurrent runs (after an ingest and the daily beat) take turns per rule.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from finops.models import Alert, AlertDelivery, AlertRule, Team
from finops.selectors.alerts import alert_drivers, alert_recipients, rule_daily_spend, rule_unit_cost_series
from finops.services.alert_methods import METHODS, Evaluation

logger = logging.getLogger(__name__)

# Within an episode a new alert breaks through only if it is at least this many times as far
# over expected (relatively) as what was announced: an escalating incident is news, the same
# one again is spam.
ESCALATION_FACTOR = 2
RESTATED = "restated: no longer a spike"

DEFAULT_RULE = {
    "method": AlertRule.Method.ROBUST_ZSCORE,
    "threshold": Decimal("3.25"),
    "min_amount": Decimal(50),
    "window_days": 42,
    "cooldown_days": 7,
    "notify_team": True,
}


@dataclass
class DetectionSummary:
    rules: int = 0
    created: int = 0
    updated: int = 0
    resolved: int = 0  # alerts whose day a restated bill no longer shows as a spike
    suppressed: int = 0  # spikes inside a cooldown
    deliveries: list[int] = field(default_factory=list)

    def __str__(self):
        return (f"{self.rules} rules: {self.created} alerts created, {self.updated} updated, "
                f"{self.resolved} resolved by restated bills, {self.suppressed} in cooldown, "
                f"{len(self.deliveries)} e-mails queued")


def alert_rules_ensure_defaults() -> int:
    """Give every team its default spike rule (robust z-score on the team's spend, mailed to
    its members). Returns how many were created. A default is re-created if deleted: disable
    it instead."""
    created = 0
    for team in Team.objects.exclude(alert_rules__is_default=True):
        _, was_created = AlertRule.objects.get_or_create(
            team=team, is_default=True, defaults={"name": f"{team.name}: spend spike", **DEFAULT_RULE}
        )
        created += was_created
    return created


def spikes_detect(
    *, start: date, end: date, rule_ids: list[int] | None = None, today: date | None = None
) -> DetectionSummary:
    """Evaluate the enabled rules on every day from start to end (inclusive)."""
    alert_rules_ensure_defaults()
    today = today or timezone.localdate()
    rules = AlertRule.objects.filter(enabled=True).order_by("pk")
    if rule_ids is not None:
        rules = rules.filter(pk__in=rule_ids)
    summary = DetectionSummary()
    for rule_id in rules.values_list("pk", flat=True):
        _rule_detect(rule_id, start=start, end=end, today=today, summary=summary)
        summary.rules += 1
    logger.info("spike detection %s..%s: %s", start, end, summary)
    return summary


def _rule_detect(rule_id: int, *, start: date, end: date, today: date, summary: DetectionSummary) -> None:
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule_id)
        # Days before `start` are evaluated too when needed, to tell whether a spike continues
        # an incident that began earlier (see _Episode.announced).
        lookback = start - timedelta(days=rule.window_days + rule.cooldown_days)
        first_day = lookback - timedelta(days=rule.window_days)
        options = {}
        if rule.method == AlertRule.Method.UNIT_COST:
            options["unit"], series = rule_unit_cost_series(rule=rule, start=first_day, end=end)
        else:
            series = rule_daily_spend(rule=rule, start=first_day, end=end)
        alerts = {(alert.day, alert.currency): alert for alert in rule.alerts.filter(day__gte=lookback, day__lte=end)}
        for currency in sorted(set(series) | {currency for _, currency in alerts}):
            episode = _Episode(
                rule, series.get(currency, {}), {d: a for (d, c), a in alerts.items() if c == currency}, options
            )
            day = start
            while day <= end:
                evaluation = episode.evaluate(day)
                alert = episode.alerts.get(day)
                if alert is not None and evaluation is not None:
                    _restate(rule, alert, evaluation, summary=summary)
                elif evaluation is not None and evaluation.fires:
                    alert = _create(rule, day, currency, evaluation, episode, today=today, summary=summary)
                    if alert is not None:
                        episode.alerts[day] = alert
                day += timedelta(days=1)


class _Episode:
    """One rule's evaluations of one currency, memoised, and the alerts already recorded.

    Firing days at most `cooldown_days` apart form one episode (one incident): it is
    announced once, on its first day, and again only if it escalates. A step up in spend that
    lasts two weeks until the baseline absorbs it is one alert, not one a week."""

    def __init__(self, rule: AlertRule, history: dict, alerts: dict[date, Alert], options: dict):
        self.rule, self.history, self.alerts, self.options = rule, history, alerts, options
        self._evaluations: dict[date, Evaluation | None] = {}

    def evaluate(self, day: date) -> Evaluation | None:
        if day not in self._evaluations:
            self._evaluations[day] = METHODS[self.rule.method](
                self.history, day, window_days=self.rule.window_days, threshold=self.rule.threshold,
                min_amount=self.rule.min_amount, **self.options,
            )
        return self._evaluations[day]

    def announced(self, day: date) -> list[Alert]:
        """The alerts of the episode `day` would continue: walk back over firing days until
        a quiet stretch longer than the cooldown."""
        found, quiet = [], 0
        for back in range(1, self.rule.window_days + self.rule.cooldown_days + 1):
            earlier = day - timedelta(days=back)
            evaluation = self.evaluate(earlier)
            alert = self.alerts.get(earlier)
            if alert is not None and alert.details.get("resolution") == RESTATED:
                alert = None  # a restated bill took that spike back
            if alert is not None or (evaluation is not None and evaluation.fires):
                quiet = 0
                if alert is not None:
                    found.append(alert)
            else:
                quiet += 1
                if quiet >= self.rule.cooldown_days:
                    break
        return found


def _create(
    rule: AlertRule, day: date, currency: str, evaluation: Evaluation, episode: _Episode, *, today: date,
    summary: DetectionSummary,
) -> Alert | None:
    announced = episode.announced(day)
    if announced and _relative_excess(evaluation) < ESCALATION_FACTOR * max(_relative_excess(a) for a in announced):
        summary.suppressed += 1
        return None
    alert = Alert.objects.create(
        rule=rule,
        scope_label=rule.scope_label,
        day=day,
        currency=currency,
        observed_amount=evaluation.observed,
        expected_amount=evaluation.expected,
        details=evaluation.details,
        drivers=_drivers(rule, day, currency),
    )
    summary.created += 1
    _notify(rule, alert, today=today, summary=summary)
    return alert


def _relative_excess(spike: Evaluation | Alert) -> Decimal:
    """How far over expected, as a fraction: weekday-neutral, unlike the amount."""
    observed = spike.observed_amount if isinstance(spike, Alert) else spike.observed
    expected = spike.expected_amount if isinstance(spike, Alert) else spike.expected
    return observed / expected - 1 if expected > 0 else Decimal("Infinity")


def _restate(rule: AlertRule, alert: Alert, evaluation: Evaluation, *, summary: DetectionSummary) -> None:
    """The day was evaluated again (a restated bill, or just a second run): same row, new
    numbers. A day that is no longer a spike is resolved; one that is again, reopened."""
    changed = (alert.observed_amount, alert.expected_amount) != (evaluation.observed, evaluation.expected)
    alert.observed_amount = evaluation.observed
    alert.expected_amount = evaluation.expected
    alert.details = {**evaluation.details, **({"resolution": RESTATED} if not evaluation.fires else {})}
    if not evaluation.fires and alert.state != Alert.State.RESOLVED:
        alert.state, alert.resolved_at, alert.resolved_by = Alert.State.RESOLVED, timezone.now(), None
        summary.resolved += 1
    elif evaluation.fires and alert.state == Alert.State.RESOLVED and alert.resolved_by_id is None:
        alert.state, alert.resolved_at = Alert.State.OPEN, None
    if changed:
        alert.drivers = _drivers(rule, alert.day, alert.currency)
        summary.updated += 1
    alert.save()


def _drivers(rule: AlertRule, day: date, currency: str) -> dict:
    return alert_drivers(
        rule=rule, day=day, currency=currency,
        baseline_start=day - timedelta(days=rule.window_days), baseline_end=day - timedelta(days=1),
    )


def _notify(rule: AlertRule, alert: Alert, *, today: date, summary: DetectionSummary) -> None:
    """Create one pending delivery per recipient and queue them once this rule's transaction
    commits. Back-filled days, muted rules and rules nobody receives are recorded, not mailed."""
    age = (today - alert.day).days
    recipients = alert_recipients(rule)
    if age > settings.ALERT_EMAIL_MAX_AGE_DAYS:
        note = f"not mailed: found by back-fill, {age} days after the day"
    elif rule.is_muted():
        note = f"not mailed: the rule is muted until {timezone.localtime(rule.muted_until):%Y-%m-%d %H:%M}"
    elif not recipients:
        note = "not mailed: the rule has no recipients"
    else:
        note = ""
    if note:
        alert.notification_note = note
        alert.save(update_fields=["notification_note"])
        return
    deliveries = AlertDelivery.objects.bulk_create(
        [AlertDelivery(alert=alert, user=user, email=email) for user, email in recipients]
    )
    ids = [delivery.pk for delivery in deliveries]
    summary.deliveries.extend(ids)
    transaction.on_commit(lambda: _enqueue(ids), robust=True)  # if queueing fails, the daily sweep re-queues


def _enqueue(delivery_ids: list[int]) -> None:
    # Imported here: the tasks module imports the services, not the other way round.
    from finops.tasks import send_alert_delivery

    for delivery_id in delivery_ids:
        send_alert_delivery.delay(delivery_id)
