import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from finops.models import CostRecord, DataSource, IngestRun
from ingest.services.data_sources import data_sources_claim_due
from ingest.tasks import ingest_due_data_sources

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"

pytestmark = pytest.mark.django_db


def test_a_never_run_source_is_due_and_claimed_once():
    source = DataSource.objects.create(name="cur", uri="/nowhere", interval_minutes=60)
    now = timezone.now()

    assert data_sources_claim_due(now=now) == [source]
    assert data_sources_claim_due(now=now + timedelta(minutes=59)) == []
    assert data_sources_claim_due(now=now + timedelta(minutes=60)) == [source]


def test_disabled_sources_are_never_due():
    DataSource.objects.create(name="off", uri="/nowhere", enabled=False)

    assert data_sources_claim_due() == []


def test_the_beat_task_ingests_each_due_source(tmp_path):
    folder = tmp_path / "exports" / "2026-10"
    folder.mkdir(parents=True)
    shutil.copy(FOCUS, folder / "bill.csv")
    source = DataSource.objects.create(name="local drop", uri=str(tmp_path / "exports"))

    assert ingest_due_data_sources() == [source.pk]

    run = IngestRun.objects.get()
    assert run.data_source == source
    assert run.status == IngestRun.Status.SUCCEEDED
    assert CostRecord.objects.count() == 8
    assert ingest_due_data_sources() == []
