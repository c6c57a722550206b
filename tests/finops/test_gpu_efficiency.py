"""GPU efficiency figures against values computed by hand, on the `gpus` day of
tests/conftest.py: 24 h of GPU-A (busy, 90 %), GPU-B (idle, 10 %) and GPU-C split in two MIG
slices (busy 50 %, idle 20 %); GPU compute spend busy 240.00 USD, idle 120.00 USD."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.contrib.auth.models import AnonymousUser

from finops.models import GpuAssignmentRule, GpuHourly, GpuSample
from finops.selectors.gpu import (
    gpu_hours_by_workload,
    idle_waste_by_workload,
    right_sizing_suggestions,
    utilization_heatmap,
)
from finops.selectors.spend import SpendFilter
from finops.services.gpu import gpu_hourly_refresh, gpu_samples_assign
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)
DAY_FILTER = SpendFilter(start=DAY, end=DAY)


def test_the_shares_of_every_gpu_hour_add_up_to_exactly_one(gpus):
    shares = defaultdict(Fraction)
    for row in GpuHourly.objects.all():
        shares[(row.hour, row.host, row.gpu_uuid)] += Fraction(row.samples, row.gpu_samples)

    assert len(shares) == 24 * 3
    assert set(shares.values()) == {Fraction(1)}


def test_bought_and_busy_gpu_hours_per_workload(gpus):
    rows = {row["workload__name"]: row for row in gpu_hours_by_workload(user=gpus["leader"], spend_filter=DAY_FILTER)}

    assert rows["busy"]["bought"] == pytest.approx(36)  # 24 h of GPU-A + half of GPU-C for 24 h
    assert rows["busy"]["busy"] == pytest.approx(24 * 0.9 + 12 * 0.5)
    assert rows["idle"]["bought"] == pytest.approx(36)
    assert rows["idle"]["utilization"] == pytest.approx((24 * 0.1 + 12 * 0.2) / 36)


def test_idle_waste_is_gpu_spend_times_the_idle_share(gpus):
    waste = {row["workload"]: row["idle_waste"] for row in idle_waste_by_workload(user=gpus["leader"], spend_filter=DAY_FILTER)}

    assert waste == {"busy": Decimal("56.00"), "idle": Decimal("104.00")}  # 240 × (1 − 27.6/36), 120 × (1 − 4.8/36)


def test_only_the_underused_workload_gets_a_right_sizing_suggestion(gpus):
    [suggestion] = right_sizing_suggestions(user=gpus["leader"], spend_filter=DAY_FILTER)

    assert suggestion.workload == "idle"
    assert suggestion.utilization_avg == pytest.approx(4.8 / 36)
    assert suggestion.estimated_saving == Decimal("93.33")  # 120 × (1 − 0.1333 / 0.60)
    assert "MIG" in suggestion.advice


def test_a_member_of_another_team_sees_no_gpu_figures(gpus):
    outsider = MembershipFactory(team=TeamFactory()).user

    assert gpu_hours_by_workload(user=outsider, spend_filter=DAY_FILTER) == []
    assert idle_waste_by_workload(user=outsider, spend_filter=DAY_FILTER) == []
    assert right_sizing_suggestions(user=outsider, spend_filter=DAY_FILTER) == []


def test_someone_who_sees_no_team_gets_no_gpu_figures(gpus):
    # Scoped to no team at all, the queries are empty before they reach the database.
    nobody = AnonymousUser()

    assert gpu_hours_by_workload(user=nobody, spend_filter=DAY_FILTER) == []
    assert utilization_heatmap(user=nobody, spend_filter=DAY_FILTER) == {"hours": [], "devices": [], "values": []}
    assert idle_waste_by_workload(user=nobody, spend_filter=DAY_FILTER) == []
    assert right_sizing_suggestions(user=nobody, spend_filter=DAY_FILTER) == []
    assert right_sizing_suggestions(user=gpus["leader"], spend_filter=DAY_FILTER)  # while the leader gets some


def test_unassigned_samples_stay_visible_as_unassigned(gpus):
    GpuAssignmentRule.objects.filter(host_pattern="host-b").delete()
    gpu_samples_assign(samples=GpuSample.objects.all())
    start = datetime(2026, 10, 1, tzinfo=UTC)
    gpu_hourly_refresh(hosts=["host-b"], earliest=start, latest=start + timedelta(hours=23))

    rows = {row["workload__name"]: row["bought"] for row in gpu_hours_by_workload(user=gpus["leader"], spend_filter=DAY_FILTER)}

    assert rows[None] == pytest.approx(24)
