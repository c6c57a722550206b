"""The utilization heatmap and the period bounds of the GPU figures, on the `gpus` day of
tests/conftest.py: GPU-A at 90 %, GPU-B at 10 %, GPU-C's MIG slices at 50 % and 20 %, sampled
every 15 minutes for 24 h."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from finops.models import GpuAssignmentRule, GpuDeviceDaily, GpuSample, IngestRun
from finops.selectors.gpu import gpu_hours_by_workload, idle_waste_by_workload, right_sizing_suggestions, utilization_heatmap
from finops.selectors.spend import SpendFilter
from finops.services.gpu import gpu_hourly_refresh, gpu_samples_assign
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)
DAY_FILTER = SpendFilter(start=DAY, end=DAY)


def test_the_heatmap_shows_the_least_utilized_devices_first(gpus):
    heatmap = utilization_heatmap(user=gpus["leader"], spend_filter=DAY_FILTER)

    assert heatmap["devices"] == ["host-b · GPU-B", "host-c · GPU-C MIG 2", "host-c · GPU-C MIG 1", "host-a · GPU-A"]
    assert len(heatmap["hours"]) == 24
    assert [row[0] for row in heatmap["values"]] == pytest.approx([10, 20, 50, 90])
    assert all(None not in row for row in heatmap["values"])


def test_the_heatmap_keeps_only_the_limit_of_devices(gpus):
    heatmap = utilization_heatmap(user=gpus["leader"], spend_filter=DAY_FILTER, limit=2)

    assert heatmap["devices"] == ["host-b · GPU-B", "host-c · GPU-C MIG 2"]
    assert [row[5] for row in heatmap["values"]] == pytest.approx([10, 20])


def test_the_period_holds_exactly_its_days_hours(gpus):
    day_before = SpendFilter(start=DAY - timedelta(days=1), end=DAY - timedelta(days=1))
    day_after = SpendFilter(start=DAY + timedelta(days=1), end=DAY + timedelta(days=1))

    assert utilization_heatmap(user=gpus["leader"], spend_filter=day_before)["devices"] == []
    assert gpu_hours_by_workload(user=gpus["leader"], spend_filter=day_after) == []
    assert sum(row["bought"] for row in gpu_hours_by_workload(user=gpus["leader"], spend_filter=DAY_FILTER)) == (
        pytest.approx(72)
    )


def test_the_period_follows_the_reporting_time_zone(gpus, settings):
    # 2026-10-01 00:00-23:00 UTC is 02:00 on 1 October to 01:00 on 2 October in Paris: the
    # Paris day of 1 October holds 22 of those hours, 2 October the last two.
    settings.TIME_ZONE = "Europe/Paris"
    call_command("rebuild_rollups", stdout=StringIO())

    first = utilization_heatmap(user=gpus["leader"], spend_filter=DAY_FILTER)
    second = utilization_heatmap(user=gpus["leader"], spend_filter=SpendFilter(start=DAY + timedelta(days=1),
                                                                               end=DAY + timedelta(days=1)))

    assert (len(first["hours"]), len(second["hours"])) == (22, 2)


def test_a_member_of_another_team_gets_an_empty_heatmap(gpus):
    outsider = MembershipFactory(team=TeamFactory()).user

    assert utilization_heatmap(user=outsider, spend_filter=DAY_FILTER) == {"hours": [], "devices": [], "values": []}


def test_right_sizing_from_given_idle_waste_equals_its_own(gpus):
    idle_waste = idle_waste_by_workload(user=gpus["leader"], spend_filter=DAY_FILTER)

    assert right_sizing_suggestions(user=gpus["leader"], spend_filter=DAY_FILTER, idle_waste=idle_waste) == (
        right_sizing_suggestions(user=gpus["leader"], spend_filter=DAY_FILTER)
    )


def test_the_heatmap_lays_each_day_at_its_hours_and_sums_the_workloads_sharing_a_device(gpus):
    # A second day: host-a at 30 %, its samples split between two workloads by pod, hour by hour.
    run = IngestRun.objects.create(kind=IngestRun.Kind.GPU, source="day two")
    next_day = datetime(2026, 10, 2, tzinfo=UTC)
    GpuSample.objects.bulk_create(
        GpuSample(ingest_run=run, sampled_at=next_day + timedelta(minutes=15 * i), host="host-a", gpu_uuid="GPU-A",
                  pod="api-1" if i % 2 else "batch-1", utilization=30.0 if i % 2 else 10.0)
        for i in range(24 * 4)
    )
    GpuAssignmentRule.objects.create(workload=gpus["idle"], pod_pattern="batch-*", priority=1)
    gpu_samples_assign(samples=GpuSample.objects.filter(ingest_run=run))
    gpu_hourly_refresh(hosts=["host-a"], earliest=next_day, latest=next_day + timedelta(hours=23, minutes=45))
    assert GpuDeviceDaily.objects.filter(host="host-a", day=DAY + timedelta(days=1)).count() == 2  # one per workload

    heatmap = utilization_heatmap(user=gpus["leader"], spend_filter=SpendFilter(start=DAY, end=DAY + timedelta(days=1)))

    assert len(heatmap["hours"]) == 48
    host_a = heatmap["values"][heatmap["devices"].index("host-a · GPU-A")]
    assert host_a == pytest.approx([90.0] * 24 + [20.0] * 24)  # (2 × 30 + 2 × 10) / 4 samples an hour
    host_b = heatmap["values"][heatmap["devices"].index("host-b · GPU-B")]
    assert host_b[:24] == pytest.approx([10.0] * 24) and host_b[24:] == [None] * 24
