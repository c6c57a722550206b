"""Named smaller instances for right-sizing suggestions, against values computed by hand on the
`gpus` day of tests/conftest.py. Workload "idle" is the one suggestion: 24 h at 4.8/36 busy
every hour (so its 95th percentile equals its average), 120.00 USD of GPU compute that one day,
so today's GPUs cost 120.00 × 30 = 3600.00 USD a month. It reports 864,000 requests that day:
10 requests/s, and 10 requests/s in its busiest hours too. Its p95 target is 200 ms."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from finops.models import Benchmark, GpuSample, InferenceVolume
from finops.selectors.gpu import right_sizing_suggestions
from finops.selectors.instance_suggestions import instance_suggestions
from finops.selectors.spend import SpendFilter
from finops.services.gpu import gpu_hourly_refresh
from tests.factories import BenchmarkFactory, MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)
DAY_FILTER = SpendFilter(start=DAY, end=DAY)
REQUESTS = Benchmark.ThroughputUnit.REQUESTS_PER_SECOND


@pytest.fixture
def idle(gpus):
    workload = gpus["idle"]
    workload.p95_latency_target_ms = Decimal("200")
    workload.save()
    InferenceVolume.objects.create(workload=workload, day=DAY, requests=864_000)
    return workload


def _benchmark(workload, instance_type, *, throughput, p95_ms, price, gpu_model="NVIDIA A10G"):
    return BenchmarkFactory(
        workload=workload, instance_type=instance_type, gpu_model=gpu_model, throughput=Decimal(throughput),
        throughput_unit=REQUESTS, p95_latency_ms=Decimal(p95_ms), hourly_price=Decimal(price),
    )


def _only(user):
    [suggestion] = instance_suggestions(user=user, spend_filter=DAY_FILTER)
    return suggestion


def test_it_names_the_cheapest_instance_that_meets_the_target_and_carries_the_load(gpus, idle):
    _benchmark(idle, "g5.xlarge", throughput="12", p95_ms="150", price="1.00")
    _benchmark(idle, "p4d.24xlarge", throughput="200", p95_ms="80", price="32.77", gpu_model="NVIDIA A100")
    _benchmark(idle, "g4dn.xlarge", throughput="15", p95_ms="350", price="0.526", gpu_model="NVIDIA T4")  # too slow
    _benchmark(idle, "inf2.xlarge", throughput="5", p95_ms="100", price="0.40")  # too small

    suggestion = _only(gpus["leader"])

    assert suggestion.benchmark.instance_type == "g5.xlarge"
    assert suggestion.instance == "g5.xlarge (1 × NVIDIA A10G)"
    assert suggestion.peak_load == Decimal(10)  # 864,000 / 86,400 × (p95 / average = 1)
    assert suggestion.monthly_gpu_cost == Decimal("3600.00")  # 120.00 / 1 day × 30
    assert suggestion.instance_monthly_cost == Decimal("720.00")  # 1.00 × 24 × 30
    assert suggestion.monthly_saving == Decimal("2880.00")
    assert "within the 200.000 ms target" in suggestion.reason


def test_none_when_the_smaller_instance_misses_the_latency_target(gpus, idle):
    _benchmark(idle, "g4dn.xlarge", throughput="15", p95_ms="350", price="0.526", gpu_model="NVIDIA T4")

    suggestion = _only(gpus["leader"])

    assert suggestion.benchmark is None and suggestion.monthly_saving is None
    assert suggestion.reason == "None of the 1 benchmarked instances meets the p95 latency target of 200.000 ms."


def test_none_when_the_smaller_instance_lacks_the_capacity(gpus, idle):
    _benchmark(idle, "inf2.xlarge", throughput="5", p95_ms="100", price="0.40")

    suggestion = _only(gpus["leader"])

    assert suggestion.benchmark is None and suggestion.monthly_saving is None
    assert suggestion.peak_load == Decimal(10)
    assert "carry the busiest hours' 10 requests/s (the most is 5 requests/s on inf2.xlarge)" in suggestion.reason


def test_the_busiest_hours_must_fit_not_the_average(gpus, idle):
    """host-b at 40 % for the first two hours: those hours are (0.4 + 0.5 × 0.2) / 1.5 = 1/3
    busy, the other 22 are 0.2 / 1.5 = 2/15. Average (22 × 0.2 + 2 × 0.5) / 36 = 0.15, 95th
    percentile (23rd of 24) 1/3: the busiest hours need 10 × 2.222222 = 22.22222 requests/s,
    more than the g5's 12 though the average 10 fits."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    GpuSample.objects.filter(host="host-b", sampled_at__lt=start + timedelta(hours=2)).update(utilization=40.0)
    gpu_hourly_refresh(hosts=["host-b"], earliest=start, latest=start + timedelta(hours=23, minutes=45))
    _benchmark(idle, "g5.xlarge", throughput="12", p95_ms="150", price="1.00")
    _benchmark(idle, "g5.2xlarge", throughput="25", p95_ms="140", price="1.212")

    suggestion = _only(gpus["leader"])

    assert suggestion.right_sizing.utilization_avg == pytest.approx(0.15)
    assert suggestion.peak_load == Decimal("22.22222")
    assert suggestion.benchmark.instance_type == "g5.2xlarge"
    assert suggestion.monthly_saving == Decimal("2727.36")  # 3600.00 − 1.212 × 720


def test_none_when_the_instance_that_fits_costs_more_than_today(gpus, idle):
    _benchmark(idle, "p4d.24xlarge", throughput="200", p95_ms="80", price="32.77", gpu_model="NVIDIA A100")

    suggestion = _only(gpus["leader"])

    assert suggestion.benchmark is None
    assert suggestion.reason == (
        "The cheapest instance that fits, p4d.24xlarge, costs 23594.40 USD a month, no less than today's GPUs "
        "(3600.00 USD)."
    )


def test_none_without_benchmarks_or_without_volumes(gpus, idle):
    assert _only(gpus["leader"]).reason == "No benchmarks for this workload yet."

    _benchmark(idle, "g5.xlarge", throughput="12", p95_ms="150", price="1.00")
    InferenceVolume.objects.all().delete()

    suggestion = _only(gpus["leader"])
    assert suggestion.benchmark is None
    assert suggestion.reason == "No requests reported in this period, so the load an instance must carry is unknown."


def test_benchmarks_priced_in_another_currency_are_not_compared(gpus, idle):
    BenchmarkFactory(workload=idle, instance_type="g5.xlarge", throughput=Decimal("12"), throughput_unit=REQUESTS,
                     p95_latency_ms=Decimal("150"), hourly_price=Decimal("1.00"), currency="EUR")

    assert _only(gpus["leader"]).reason == "No benchmark in requests/s priced in USD."


def test_a_member_of_the_team_sees_it_and_a_member_of_another_team_does_not(gpus, idle):
    _benchmark(idle, "g5.xlarge", throughput="12", p95_ms="150", price="1.00")
    member = MembershipFactory(team=gpus["team"]).user
    outsider = MembershipFactory(team=TeamFactory()).user

    assert _only(member).monthly_saving == Decimal("2880.00")
    assert instance_suggestions(user=outsider, spend_filter=DAY_FILTER) == []
    # Even handed a leader's suggestions, an outsider gets nothing for workloads they may not see.
    leaders = right_sizing_suggestions(user=gpus["leader"], spend_filter=DAY_FILTER)
    assert instance_suggestions(user=outsider, spend_filter=DAY_FILTER, suggestions=leaders) == []
