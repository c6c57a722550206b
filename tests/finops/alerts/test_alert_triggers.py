"""What runs detection: an ingest that succeeded, the daily beat, and `manage.py detect_spikes`."""

from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.db.models import Max, Min
from django.utils import timezone

from finops.celery import app as celery_app
from finops.models import Alert, AlertDelivery, CostRecord, IngestRun
from finops.tasks import detect_spikes_daily, detect_spikes_for_charges
from ingest.services.billing import billing_uri_ingest
from tests.finops.alerts.builders import SPIKE_DAY, history

pytestmark = pytest.mark.django_db
FOCUS = Path(__file__).parents[2] / "fixtures" / "focus" / "aws-focus-1.2.csv"


def test_a_successful_ingest_queues_detection_of_its_days_after_commit(django_capture_on_commit_callbacks):
    with mock.patch.object(detect_spikes_for_charges, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            billing_uri_ingest(uri=str(FOCUS))
        delay.assert_not_called()  # nothing before the commit

        for callback in callbacks:
            callback()

    charges = CostRecord.objects.aggregate(first=Min("charge_period_start"), last=Max("charge_period_start"))
    delay.assert_called_once_with(charges["first"].isoformat(), charges["last"].isoformat())


def test_a_failed_ingest_queues_nothing(tmp_path, django_capture_on_commit_callbacks):
    bad = tmp_path / "bill.csv"
    header = FOCUS.read_text(encoding="utf-8-sig").splitlines()[0]
    bad.write_text(header + "\n" + ",".join("seven dollars" for _ in header.split(",")) + "\n")

    with mock.patch.object(detect_spikes_for_charges, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            [run] = billing_uri_ingest(uri=str(bad))

    assert run.status == IngestRun.Status.FAILED
    delay.assert_not_called()


def test_the_after_ingest_task_evaluates_the_reporting_days_of_the_charges(team_setup):
    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})

    result = detect_spikes_for_charges.delay(f"{SPIKE_DAY}T00:00:00+00:00", f"{SPIKE_DAY}T23:00:00+00:00").get()

    assert Alert.objects.get().day == SPIKE_DAY
    assert "1 alerts created" in result


def test_beat_runs_the_daily_detection_each_morning():
    entry = settings.CELERY_BEAT_SCHEDULE["detect-spikes-daily"]

    assert entry["task"] == "finops.tasks.detect_spikes_daily"
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].hour == {6} and entry["schedule"].minute == {0}


def test_the_daily_detection_finds_yesterdays_spike_and_mails_it(team_setup, django_capture_on_commit_callbacks):
    yesterday = timezone.localdate() - timedelta(days=1)
    history(team=team_setup["team"], workload=team_setup["workload"], end=yesterday, spikes={yesterday: 1.8})

    with django_capture_on_commit_callbacks(execute=True):
        detect_spikes_daily.delay().get()

    alert = Alert.objects.get()
    assert alert.day == yesterday
    assert [message.to for message in mail.outbox] == [["ana@example.com"]]


def test_the_daily_detection_requeues_stranded_emails(team_setup):
    yesterday = timezone.localdate() - timedelta(days=1)
    history(team=team_setup["team"], workload=team_setup["workload"], end=yesterday, spikes={yesterday: 1.8})
    detect_spikes_daily.delay().get()  # in a test transaction on_commit never fires: the e-mail is stranded
    AlertDelivery.objects.update(created_at=timezone.now() - timedelta(hours=1))

    result = detect_spikes_daily.delay().get()

    assert "1 stranded e-mails re-queued" in result
    assert AlertDelivery.objects.get().status == AlertDelivery.Status.SENT
    assert len(mail.outbox) == 1


def test_the_command_back_fills_the_whole_history_without_mailing(team_setup):
    history(team=team_setup["team"], workload=team_setup["workload"], days=120,
            spikes={SPIKE_DAY - timedelta(days=40): 1.9, SPIKE_DAY: 1.7})
    out = StringIO()

    call_command("detect_spikes", stdout=out)

    assert [alert.day for alert in Alert.objects.order_by("day")] == [SPIKE_DAY - timedelta(days=40), SPIKE_DAY]
    assert not AlertDelivery.objects.exists()
    assert "2 alerts created" in out.getvalue()


def test_the_command_evaluates_only_the_days_asked_for(team_setup):
    history(team=team_setup["team"], workload=team_setup["workload"], days=120,
            spikes={SPIKE_DAY - timedelta(days=40): 1.9, SPIKE_DAY: 1.7})

    call_command("detect_spikes", "--start", str(SPIKE_DAY - timedelta(days=5)), "--end", str(SPIKE_DAY),
                 stdout=StringIO())

    assert [alert.day for alert in Alert.objects.all()] == [SPIKE_DAY]


def test_the_command_refuses_a_backwards_range():
    with pytest.raises(CommandError, match="--start must not be after --end"):
        call_command("detect_spikes", "--start", "2026-03-10", "--end", "2026-03-01")


def test_the_command_says_so_when_there_is_no_spend():
    out = StringIO()

    call_command("detect_spikes", stdout=out)

    assert "No spend loaded yet" in out.getvalue()
