"""What people do with alerts and rules: acknowledge, resolve, mute, (un)subscribe."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core import signing
from django.utils import timezone

from finops.models import Alert, AlertRule

UNSUBSCRIBE_SALT = "finops.alerts.unsubscribe"


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """Someone is looking at it. Only an open alert can be acknowledged."""
    if alert.state == Alert.State.OPEN:
        alert.state = Alert.State.ACKNOWLEDGED
        alert.acknowledged_by, alert.acknowledged_at = user, timezone.now()
        alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "updated_at"])
    return alert


def alert_resolve(*, alert: Alert, user) -> Alert:
    if alert.state != Alert.State.RESOLVED:
        alert.state = Alert.State.RESOLVED
        alert.resolved_by, alert.resolved_at = user, timezone.now()
        alert.save(update_fields=["state", "resolved_by", "resolved_at", "updated_at"])
    return alert


def alert_rule_mute(*, rule: AlertRule, until: datetime) -> AlertRule:
    """Until then the rule still records alerts but mails nobody."""
    rule.muted_until = until
    rule.save(update_fields=["muted_until"])
    return rule


def alert_rule_unmute(*, rule: AlertRule) -> AlertRule:
    rule.muted_until = None
    rule.save(update_fields=["muted_until"])
    return rule


def alert_rule_unsubscribe(*, rule: AlertRule, user) -> None:
    rule.unsubscribed.add(user)


def alert_rule_subscribe(*, rule: AlertRule, user) -> None:
    """Undo an unsubscribe; a user who is neither on the team nor named becomes a recipient."""
    rule.unsubscribed.remove(user)
    rule.recipients.add(user)


def unsubscribe_token(*, rule_id: int, user_id: int) -> str:
    """A signed, non-expiring token naming one user and one rule, for the link in each e-mail."""
    return signing.dumps({"rule": rule_id, "user": user_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> tuple[AlertRule, object] | None:
    """The (rule, user) a token names, or None if it is forged or they no longer exist."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    rule = AlertRule.objects.filter(pk=payload.get("rule")).first()
    user = get_user_model().objects.filter(pk=payload.get("user")).first()
    return (rule, user) if rule and user else None
