"""Celery tasks for spike alerts, TCO reclassification and GPU sample reassignment. Thin: they
take ids, ISO dates or rule criteria and call services."""

from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from finops.services.alert_detection import spikes_detect
from finops.services.alert_email import DeliveryError, alert_deliveries_stranded, alert_delivery_send
from finops.services.gpu import gpu_rule_criteria
from finops.services.gpu_reassign import gpu_samples_reassign
from finops.services.tco import cost_records_reclassify

# The daily run looks back this far: bills arrive a day or two late and get restated.
DAILY_LOOKBACK_DAYS = 7
SEND_MAX_ATTEMPTS = 7  # retried 1, 2, 4, 8, 16, 32 minutes apart: about an hour of trying
SEND_FIRST_RETRY_SECONDS = 60
SEND_MAX_RETRY_SECONDS = 3600


@shared_task(acks_late=True, reject_on_worker_lost=True)
def detect_spikes_for_charges(earliest_charge: str, latest_charge: str) -> str:
    """After an ingest: evaluate the reporting days between two charge times (ISO 8601).
    Idempotent (one alert per rule, day and currency), so acks_late is safe."""
    tz = timezone.get_default_timezone()
    start = datetime.fromisoformat(earliest_charge).astimezone(tz).date()
    end = datetime.fromisoformat(latest_charge).astimezone(tz).date()
    return str(spikes_detect(start=start, end=end))


def detect_spikes_on_commit(*, earliest: datetime, latest: datetime) -> None:
    """Queue detection of the days between two charge times once the current transaction
    commits (never if it rolls back). An error queueing it is logged, never raised: the
    ingest that calls this has already succeeded."""
    transaction.on_commit(
        lambda: detect_spikes_for_charges.delay(earliest.isoformat(), latest.isoformat()), robust=True
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def detect_spikes_daily() -> str:
    """Beat, every morning: the last week again (late and restated bills), then re-queue any
    e-mail no worker is handling any more."""
    today = timezone.localdate()
    summary = spikes_detect(start=today - timedelta(days=DAILY_LOOKBACK_DAYS), end=today, today=today)
    stranded = alert_deliveries_stranded()
    for delivery_id in stranded:
        send_alert_delivery.delay(delivery_id)
    return f"{summary}; {len(stranded)} stranded e-mails re-queued"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_alert_delivery(delivery_id: int) -> str:
    """Send one alert e-mail. The claim in the service makes a redelivered task a no-op, so
    acks_late is safe. SMTP trouble is tried again with exponential backoff (the count lives on
    the delivery, so it survives worker restarts); the last failure stays recorded on it."""
    try:
        sent = alert_delivery_send(delivery_id=delivery_id, max_attempts=SEND_MAX_ATTEMPTS)
    except DeliveryError as exc:
        if exc.final:
            return f"failed after {exc.attempts} attempts: {exc}"
        delay = min(SEND_FIRST_RETRY_SECONDS * 2 ** (exc.attempts - 1), SEND_MAX_RETRY_SECONDS)
        send_alert_delivery.apply_async(args=[delivery_id], countdown=delay)
        return f"attempt {exc.attempts} failed, next in {delay}s: {exc}"
    return "sent" if sent else "already handled"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def reclassify_cost_records(earliest_charge: str | None = None, latest_charge: str | None = None) -> str:
    """After the TCO rules change: classify the records charged between two times (ISO 8601;
    None leaves that end open) again and rebuild their days. Idempotent, so acks_late is safe."""
    earliest = datetime.fromisoformat(earliest_charge) if earliest_charge else None
    latest = datetime.fromisoformat(latest_charge) if latest_charge else None
    classified = cost_records_reclassify(earliest=earliest, latest=latest)
    return f"{classified} cost records classified"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def reassign_gpu_samples(criteria: list[dict[str, str]] | None = None) -> str:
    """After a GPU assignment rule changes: assign again the samples its old and new criteria
    match (all samples for None) and rebuild their hosts' hourly rollup. Idempotent, so
    acks_late is safe."""
    done = gpu_samples_reassign(criteria=criteria)
    hosts = len(done.hosts)
    return f"{done.assigned} GPU samples assigned on {hosts} host(s), {done.hourly_rows} hourly rows written"


def reassign_gpu_samples_on_commit(*, rules) -> None:
    """Queue the reassignment of what these rules match (a changed rule as it was and as it is
    now; a deleted one) once the current transaction commits. The criteria are read now, so a
    deleted rule's still count. Queued, not run here: one host pattern can cover a whole fleet's
    samples. A broker that is down is logged, not raised: the rule is saved either way."""
    criteria = [gpu_rule_criteria(rule) for rule in rules if rule is not None]
    if criteria:
        transaction.on_commit(lambda: reassign_gpu_samples.delay(criteria), robust=True)
