"""The fleet rollups the GPU pages read hold exactly what the device-hours say, follow every
refresh, and are rebuilt for a new reporting time zone."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from finops.models import GpuDeviceDaily, GpuHourly, GpuSample, GpuWorkloadHourly
from finops.models.gpu import HOURLY_BUSY_SAMPLES_DTYPE, HOURLY_SAMPLES_DTYPE, hourly_decode
from finops.services.gpu import gpu_hourly_refresh

pytestmark = pytest.mark.django_db


def device_hours_per_workload_hour() -> dict[tuple, tuple[float, float]]:
    sums = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for row in GpuHourly.objects.all():
        share = Fraction(row.samples, row.gpu_samples)
        key = (row.hour, row.workload_id, row.model_name)
        sums[key][0] += share
        sums[key][1] += share * Fraction(row.utilization_avg) / 100
    return {key: (float(bought), float(busy)) for key, (bought, busy) in sums.items()}


def workload_hours() -> dict[tuple, tuple[float, float]]:
    return {
        (row.hour, row.workload_id, row.model_name): (row.gpu_hours, row.busy_gpu_hours)
        for row in GpuWorkloadHourly.objects.all()
    }


def assert_workload_hours_sum_the_device_hours():
    expected = device_hours_per_workload_hour()
    assert workload_hours().keys() == expected.keys()
    for key, (bought, busy) in workload_hours().items():
        assert (bought, busy) == pytest.approx(expected[key], abs=1e-12)


def test_workload_hours_sum_the_device_hours_exactly(gpus):
    assert_workload_hours_sum_the_device_hours()
    # 24 hours of four devices on three physical GPUs: 72 GPU-hours bought in all.
    assert sum(bought for bought, _ in workload_hours().values()) == pytest.approx(72)


def test_device_days_count_every_sample_once(gpus):
    days = {(row.host, row.gpu_uuid, row.mig_instance): row for row in GpuDeviceDaily.objects.all()}

    assert sorted(days) == [("host-a", "GPU-A", ""), ("host-b", "GPU-B", ""), ("host-c", "GPU-C", "1"), ("host-c", "GPU-C", "2")]
    assert {key: row.samples for key, row in days.items()} == {key: 96 for key in days}
    assert days[("host-b", "GPU-B", "")].busy_samples / days[("host-b", "GPU-B", "")].samples == pytest.approx(10)
    # Four samples an hour; host-b idles at 10 %, so each hour holds 4 × 10 busy samples.
    host_b = days[("host-b", "GPU-B", "")]
    assert hourly_decode(host_b.hourly_samples, HOURLY_SAMPLES_DTYPE).tolist() == [4] * 24
    assert hourly_decode(host_b.hourly_busy_samples, HOURLY_BUSY_SAMPLES_DTYPE).tolist() == [40.0] * 24


def test_a_refresh_after_new_samples_moves_the_rollups_with_it(gpus):
    run = GpuSample.objects.first().ingest_run
    start = datetime(2026, 10, 1, tzinfo=UTC)
    GpuSample.objects.filter(host="host-b").delete()
    GpuSample.objects.bulk_create(
        GpuSample(ingest_run=run, sampled_at=start + timedelta(minutes=15 * i), host="host-b", gpu_uuid="GPU-B",
                  model_name="NVIDIA A100-SXM4-80GB", utilization=70.0, workload=gpus["idle"])
        for i in range(24 * 4)
    )

    gpu_hourly_refresh(hosts=["host-b"], earliest=start, latest=start + timedelta(hours=23, minutes=45))

    assert_workload_hours_sum_the_device_hours()
    assert sum(busy for _, busy in workload_hours().values()) == pytest.approx(24 * (0.9 + 0.7 + 0.5 / 2 + 0.2 / 2))
    host_b = GpuDeviceDaily.objects.get(host="host-b")
    assert host_b.busy_samples / host_b.samples == pytest.approx(70)


def test_rebuilding_for_another_time_zone_moves_the_day_bounds(gpus, settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9: the UTC day 1 October spans two Tokyo days

    call_command("rebuild_rollups", stdout=StringIO())

    assert sorted({str(day) for day in GpuDeviceDaily.objects.values_list("day", flat=True)}) == ["2026-10-01", "2026-10-02"]
    assert sum(row.samples for row in GpuDeviceDaily.objects.filter(host="host-a")) == 96
    assert sum(bought for bought, _ in workload_hours().values()) == pytest.approx(72)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_rollups_from_stored_device_hours():
    executor = MigrationExecutor(connection)
    executor.migrate([("finops", "0006_cost_record_foreign_keys_unconstrained")])
    old_apps = executor.loader.project_state([("finops", "0006_cost_record_foreign_keys_unconstrained")]).apps
    hourly = old_apps.get_model("finops", "GpuHourly")
    hour = datetime(2026, 10, 1, 5, tzinfo=UTC)
    hourly.objects.bulk_create([
        hourly(hour=hour, host="h", gpu_uuid="G", mig_instance="1", samples=3, gpu_samples=4, utilization_avg=40, utilization_max=50),
        hourly(hour=hour, host="h", gpu_uuid="G", mig_instance="2", samples=1, gpu_samples=4, utilization_avg=80, utilization_max=90),
    ])
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

        [row] = GpuWorkloadHourly.objects.all()
        assert (row.gpu_hours, row.busy_gpu_hours) == pytest.approx((1.0, 0.75 * 0.4 + 0.25 * 0.8))
        assert sorted(GpuDeviceDaily.objects.values_list("mig_instance", "samples", "busy_samples")) == [
            ("1", 3, pytest.approx(120.0)), ("2", 1, pytest.approx(80.0)),
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_day_when_clocks_go_back_has_25_hours_in_the_heatmap(settings, gpus):
    from finops.models import IngestRun
    from finops.selectors.gpu import utilization_heatmap
    from finops.selectors.spend import SpendFilter

    settings.TIME_ZONE = "Europe/Paris"  # 2026-10-25 03:00 CEST became 02:00 CET
    run = IngestRun.objects.create(kind=IngestRun.Kind.GPU, source="dst")
    midnight = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 25 October 00:00 in Paris
    GpuSample.objects.bulk_create(
        GpuSample(ingest_run=run, sampled_at=midnight + timedelta(hours=h), host="host-dst", gpu_uuid="GPU-DST",
                  utilization=float(h))
        for h in range(25)
    )

    gpu_hourly_refresh(hosts=["host-dst"], earliest=midnight, latest=midnight + timedelta(hours=24))

    [row] = GpuDeviceDaily.objects.filter(host="host-dst")
    hours = hourly_decode(row.hourly_samples, HOURLY_SAMPLES_DTYPE)
    assert (str(row.day), len(hours), row.samples) == ("2026-10-25", 25, 25)
    day = SpendFilter(start=row.day, end=row.day)
    heatmap = utilization_heatmap(user=gpus["leader"], spend_filter=day)
    assert heatmap["hours"] == [midnight + timedelta(hours=h) for h in range(25)]
    assert heatmap["values"][heatmap["devices"].index("host-dst · GPU-DST")] == pytest.approx([float(h) for h in range(25)])


@pytest.mark.django_db(transaction=True)
def test_the_binary_hours_migration_converts_every_row_both_ways_exactly():
    before, after = ("finops", "0010_cost_charge_start_brin"), ("finops", "0011_gpu_device_daily_binary_hours")
    # Busy sums are float64s whose JSON text has all 17 digits: the bytes must keep every one.
    counts, busy = [3, 0, 1_000_000], [0.1 + 0.2, 0.0, 1 / 3]
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_apps = executor.loader.project_state([before]).apps
    old_daily = old_apps.get_model("finops", "GpuDeviceDaily")
    old_daily.objects.bulk_create(
        old_daily(day=date(2026, 10, 1), host=f"h{i}", gpu_uuid="G", samples=sum(counts), busy_samples=sum(busy),
                  hourly_samples=counts, hourly_busy_samples=busy)
        for i in range(2001)  # more than one batch of the conversion
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([after])
        new_daily = executor.loader.project_state([after]).apps.get_model("finops", "GpuDeviceDaily")
        rows = list(new_daily.objects.order_by("host"))
        assert len(rows) == 2001
        for row in rows:
            assert hourly_decode(row.hourly_samples, HOURLY_SAMPLES_DTYPE).tolist() == counts
            assert hourly_decode(row.hourly_busy_samples, HOURLY_BUSY_SAMPLES_DTYPE).tolist() == busy

        executor = MigrationExecutor(connection)
        executor.migrate([before])
        old_daily = executor.loader.project_state([before]).apps.get_model("finops", "GpuDeviceDaily")
        assert {(tuple(row.hourly_samples), tuple(row.hourly_busy_samples)) for row in old_daily.objects.all()} == {
            (tuple(counts), tuple(busy))
        }
        assert old_daily.objects.count() == 2001
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
