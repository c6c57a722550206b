"""Alert e-mails: build the message, claim the delivery, talk to SMTP, record the outcome.

Sending goes through Django's mail API and whatever EMAIL_URL configures. A delivery is
claimed with a conditional UPDATE before SMTP is contacted, so two workers (or a redelivered
task) never send it twice; every attempt and its error are recorded on the delivery.
"""

import smtplib
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from finops.models import Alert, AlertDelivery, AlertRule
from finops.services.alerts import unsubscribe_token

# A claim older than this belongs to a worker that died mid-send: the delivery may be retried.
# Far above EMAIL_TIMEOUT, so a live send is never taken over.
STALE_CLAIM = timedelta(minutes=15)


class DeliveryError(Exception):
    """An e-mail could not be sent. `final` when it will not be tried again: the server
    refused the address (permanent), or the delivery has used all its attempts."""

    def __init__(self, message: str, *, final: bool, attempts: int):
        super().__init__(message)
        self.final = final
        self.attempts = attempts


def alert_delivery_send(*, delivery_id: int, max_attempts: int) -> bool:
    """Send one delivery if this caller wins its claim. Returns True if it was sent now,
    False if another worker has it or it was already sent or given up.

    A failure is recorded on the delivery (attempts, last error; status `pending` while
    attempts remain, `failed` after the last or on a refused address) and raised as
    DeliveryError, so the caller can schedule the next attempt."""
    now = timezone.now()
    claimable = Q(status=AlertDelivery.Status.PENDING) | Q(
        status=AlertDelivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    )
    won = AlertDelivery.objects.filter(claimable, pk=delivery_id).update(
        status=AlertDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not won:
        return False
    delivery = AlertDelivery.objects.select_related("alert__rule__team", "alert__rule__workload", "user").get(
        pk=delivery_id
    )
    try:
        alert_message(delivery).send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _failed(delivery, exc, final=True) from exc
    except OSError as exc:  # smtplib.SMTPException is an OSError, as are refused connections and timeouts
        raise _failed(delivery, exc, final=delivery.attempts >= max_attempts) from exc
    except Exception as exc:  # a bug (a template error...): recorded, not retried, not hidden
        _failed(delivery, exc, final=True)
        raise
    AlertDelivery.objects.filter(pk=delivery_id).update(
        status=AlertDelivery.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def alert_deliveries_stranded(*, now=None) -> list[int]:
    """Deliveries no task is working on any more: never picked up (a lost message), or claimed
    by a worker that died. The daily job queues them again."""
    now = now or timezone.now()
    return list(
        AlertDelivery.objects.filter(
            Q(status=AlertDelivery.Status.PENDING, claimed_at__isnull=True, created_at__lt=now - STALE_CLAIM)
            | Q(status=AlertDelivery.Status.PENDING, claimed_at__lt=now - timedelta(hours=2))
            | Q(status=AlertDelivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM)
        ).values_list("pk", flat=True)
    )


def _failed(delivery: AlertDelivery, exc: Exception, *, final: bool) -> DeliveryError:
    status = AlertDelivery.Status.FAILED if final else AlertDelivery.Status.PENDING
    AlertDelivery.objects.filter(pk=delivery.pk).update(status=status, last_error=_describe(exc))
    return DeliveryError(_describe(exc), final=final, attempts=delivery.attempts)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def alert_message(delivery: AlertDelivery) -> EmailMultiAlternatives:
    alert, rule = delivery.alert, delivery.alert.rule
    context = alert_email_context(alert)
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    if delivery.user_id:
        url = site_url(reverse("alerts:unsubscribe", args=[unsubscribe_token(rule_id=rule.pk, user_id=delivery.user_id)]))
        context["unsubscribe_url"] = url
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    subject = " ".join(render_to_string("emails/alert_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.email],
        headers=headers,
    )
    message.attach_alternative(render_to_string("emails/alert.html", context), "text/html")
    return message


def alert_email_context(alert: Alert) -> dict:
    rule = alert.rule
    return {
        "alert": alert,
        "rule": rule,
        "method": rule.get_method_display(),
        "threshold_meaning": AlertRule.THRESHOLD_MEANING[rule.method],
        "excess": alert.excess_amount,
        "percent": alert.excess_percent,
        "services": alert.drivers.get("services", []),
        "resources": alert.drivers.get("resources", []),
        "dashboard_url": dashboard_url(alert),
        "alerts_url": site_url(reverse("alerts:list")) + f"#alert-{alert.pk}",
    }


def dashboard_url(alert: Alert) -> str:
    """The overview filtered to the alert's scope and day."""
    rule = alert.rule
    params = {"team": rule.team_id, "workload": rule.workload_id, "service": rule.service_name or None}
    query = {key: value for key, value in params.items() if value} | {"day": alert.day.isoformat()}
    return site_url(reverse("dashboards:overview")) + "?" + urlencode(query)


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path
