from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from finops.celery import app as celery_app
from finops.models import DailySpend, GpuAssignmentRule, GpuSample, IngestRun
from finops.services.gpu import gpu_hourly_refresh, gpu_samples_assign
from tests.factories import TeamFactory, UserFactory, WorkloadFactory


@pytest.fixture(autouse=True)
def _eager_celery_by_default():
    """Tasks run in-process unless a test starts a real worker (tests/test_celery_worker.py)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _demo_data_in_tmp(settings, tmp_path):
    settings.DEMO_DATA_DIR = tmp_path / "demo"


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploads from any test (pages, API, the schema fuzzer) land in the test's own folder."""
    settings.INGEST_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cache keys carry row ids, which SQLite hands out again after a test's rollback."""
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


GPU_DAY = date(2026, 10, 1)
DEVICES = [  # host, gpu, MIG slice, utilization
    ("host-a", "GPU-A", "", 90.0),
    ("host-b", "GPU-B", "", 10.0),
    ("host-c", "GPU-C", "1", 50.0),
    ("host-c", "GPU-C", "2", 20.0),
]


@pytest.fixture
def gpus(settings):
    """One day, four devices sampled every 15 minutes: host-a GPU-A, a whole GPU for workload
    "busy" at 90 %; host-b GPU-B, a whole GPU for "idle" at 10 %; host-c GPU-C split in two MIG
    slices, slice 1 for "busy" at 50 % and slice 2 for "idle" at 20 %. GPU compute spend that
    day: busy 240.00 USD, idle 120.00 USD."""
    settings.TIME_ZONE = "UTC"
    team = TeamFactory()
    busy, idle = WorkloadFactory(team=team, name="busy"), WorkloadFactory(team=team, name="idle")
    run = IngestRun.objects.create(kind=IngestRun.Kind.GPU, source="test")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    GpuSample.objects.bulk_create(
        GpuSample(ingest_run=run, sampled_at=start + timedelta(minutes=15 * i), host=host, gpu_uuid=gpu,
                  mig_instance=mig, model_name="NVIDIA A100-SXM4-80GB", utilization=utilization)
        for i in range(24 * 4)
        for host, gpu, mig, utilization in DEVICES
    )
    GpuAssignmentRule.objects.create(workload=busy, host_pattern="host-a")
    GpuAssignmentRule.objects.create(workload=idle, host_pattern="host-b")
    GpuAssignmentRule.objects.create(workload=busy, host_pattern="host-c", mig_instance="1")
    GpuAssignmentRule.objects.create(workload=idle, host_pattern="host-?", mig_instance="2")
    gpu_samples_assign(samples=GpuSample.objects.all())
    gpu_hourly_refresh(hosts=["host-a", "host-b", "host-c"], earliest=start, latest=start + timedelta(hours=23, minutes=45))
    for workload, amount in ((busy, "240.00"), (idle, "120.00")):
        DailySpend.objects.create(
            day=GPU_DAY, team=team, workload=workload, provider_name="AWS", service_name="Amazon EC2",
            service_category="Compute", charge_category="Usage", billing_currency="USD",
            billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
        )
    return {"team": team, "busy": busy, "idle": idle, "leader": UserFactory(is_staff=True)}


