"""Alert e-mails through Django's SMTP backend to a real SMTP server on loopback."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from finops.models import Alert, AlertDelivery
from finops.services.alert_detection import alert_rules_ensure_defaults, spikes_detect
from finops.services.alert_email import alert_deliveries_stranded, alert_delivery_send
from finops.tasks import SEND_MAX_ATTEMPTS, send_alert_delivery
from tests.finops.alerts.builders import GPU, MODEL_API, SPIKE_DAY, cost_record, history

pytestmark = pytest.mark.django_db


@pytest.fixture
def spike(team_setup):
    team, workload = team_setup["team"], team_setup["workload"]
    history(team=team, workload=workload, service=GPU)
    history(team=team, workload=workload, service=MODEL_API, base=300, seed=1, spikes={SPIKE_DAY: 3.5})
    cost_record(workload=workload, day=SPIKE_DAY, amount="812.40", resource_id="arn:aws:bedrock:us-east-1::claude",
                resource_name="claude-sonnet", service=MODEL_API)
    return team_setup


def detect_and_send(capture):
    with capture(execute=True):
        spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, today=SPIKE_DAY + timedelta(days=1))
    return Alert.objects.get()


def test_the_alert_arrives_by_smtp_with_its_numbers_drivers_and_links(
    spike, smtp_server, site_url, django_capture_on_commit_callbacks
):
    alert = detect_and_send(django_capture_on_commit_callbacks)

    [message] = smtp_server.to("ana@example.com")
    percent = round(alert.excess_percent)
    assert message["Subject"] == (
        f"[FinOps] Spend spike in team Search: {alert.observed_amount:,.2f} USD on 10 Mar 2026, +{percent}% over expected"
    )
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert f"{alert.observed_amount:,.2f} USD" in body
        assert f"{alert.expected_amount:,.2f} USD" in body
        assert "Amazon Bedrock" in body  # the service behind the jump
        assert "claude-sonnet" in body  # the costliest resource that day
    dashboard = next(word for word in text.split() if word.startswith(f"{site_url}/?"))
    assert parse_qs(urlsplit(dashboard).query) == {"team": [str(spike["team"].pk)], "day": ["2026-03-10"]}
    assert f'href="{dashboard.replace("&", "&amp;")}"' in html
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith(f"{site_url}/alerts/unsubscribe/")
    assert unsubscribe in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    delivery = alert.deliveries.get(email="ana@example.com")
    assert (delivery.status, delivery.attempts, delivery.last_error) == (AlertDelivery.Status.SENT, 1, "")
    assert delivery.sent_at is not None


def test_an_address_that_is_not_a_user_gets_no_unsubscribe_link(spike, smtp_server, django_capture_on_commit_callbacks):
    alert_rules_ensure_defaults()
    rule = spike["team"].alert_rules.get(is_default=True)
    rule.email_addresses = "oncall@example.com"
    rule.save()

    detect_and_send(django_capture_on_commit_callbacks)

    [message] = smtp_server.to("oncall@example.com")
    assert message["List-Unsubscribe"] is None
    assert "a leader can remove it" in message.get_body(preferencelist=("plain",)).get_content()


def test_a_refused_connection_is_recorded_and_retried(spike, refusing_smtp, django_capture_on_commit_callbacks):
    alert = detect_and_send(django_capture_on_commit_callbacks)

    delivery = alert.deliveries.get()
    assert delivery.status == AlertDelivery.Status.FAILED
    assert delivery.attempts == SEND_MAX_ATTEMPTS  # the first try and every retry
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.sent_at is None


def test_a_retry_after_a_failure_sends_it(spike, settings, smtp_server, django_capture_on_commit_callbacks):
    working_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there
    alert = detect_and_send(django_capture_on_commit_callbacks)
    delivery = alert.deliveries.get()
    AlertDelivery.objects.filter(pk=delivery.pk).update(status=AlertDelivery.Status.PENDING)  # as between retries

    settings.EMAIL_PORT = working_port
    send_alert_delivery.delay(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        AlertDelivery.Status.SENT, SEND_MAX_ATTEMPTS + 1, "")
    assert len(smtp_server.messages) == 1


def test_a_refused_recipient_is_given_up_at_once(spike, smtp_server, django_capture_on_commit_callbacks):
    get_user_model().objects.filter(pk=spike["member"].pk).update(email="bounce@example.com")

    alert = detect_and_send(django_capture_on_commit_callbacks)

    delivery = alert.deliveries.get()
    assert (delivery.status, delivery.attempts) == (AlertDelivery.Status.FAILED, 1)
    assert "SMTPRecipientsRefused" in delivery.last_error and "550" in delivery.last_error
    assert smtp_server.messages == []


def test_a_delivery_is_sent_once_whoever_asks(spike, smtp_server):
    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, today=SPIKE_DAY)  # on_commit never runs: nothing sent yet
    delivery = AlertDelivery.objects.get()

    assert alert_delivery_send(delivery_id=delivery.pk, max_attempts=1) is True
    assert alert_delivery_send(delivery_id=delivery.pk, max_attempts=1) is False  # a redelivered task
    assert len(smtp_server.messages) == 1
    assert AlertDelivery.objects.get().attempts == 1


def test_a_claim_held_by_a_live_worker_is_respected_and_a_dead_ones_is_taken_over(spike, smtp_server):
    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, today=SPIKE_DAY)
    delivery = AlertDelivery.objects.get()
    AlertDelivery.objects.filter(pk=delivery.pk).update(status=AlertDelivery.Status.SENDING, claimed_at=timezone.now())

    assert alert_delivery_send(delivery_id=delivery.pk, max_attempts=1) is False
    assert alert_deliveries_stranded() == []

    AlertDelivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert alert_deliveries_stranded() == [delivery.pk]
    assert alert_delivery_send(delivery_id=delivery.pk, max_attempts=1) is True
    assert len(smtp_server.messages) == 1


def test_a_delivery_no_task_picked_up_is_stranded(spike):
    spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, today=SPIKE_DAY)
    delivery = AlertDelivery.objects.get()

    assert alert_deliveries_stranded() == []
    assert alert_deliveries_stranded(now=timezone.now() + timedelta(hours=1)) == [delivery.pk]
