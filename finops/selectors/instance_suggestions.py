"""A named, cheaper instance for each right-sizing suggestion (white paper §4): the cheapest
benchmarked instance of the workload that meets its p95 latency target and can carry its
measured load, and what it would save a month; or why none fits.

What "can carry the load" means, from what is measured:
- The load is the workload's reported inference volume (InferenceVolume) in the benchmark's
  unit: requests for requests/s runs, input + output tokens for tokens/s runs. Its average
  rate is the volume over the period's days that reported some of that unit, ÷ 86,400 s.
- Volumes are daily, so the busiest hours come from the GPUs: the served load is taken to
  follow the GPU-busy share hour by hour, which makes the load of the 95th-percentile hour
  the average rate × (95th-percentile hourly utilization ÷ average utilization), never less
  than the average rate.
- One instance of the benchmarked type carries the load when its measured throughput (the
  rate at which its p95 latency was measured) is at least that 95th-percentile hour's load.

The monthly saving compares one instance running all month with today's GPU compute spend,
both scaled to the 30-day month build vs buy uses: today's monthly cost = GPU cost ÷ the days
it covers (days with both GPU samples and GPU compute spend) × 30; the instance's =
hourly price × 24 × 30. Only benchmarks priced in the spend's currency are compared. Money is
Decimal, quantized to cents at the end.
"""

from dataclasses import dataclass
from decimal import Decimal

from finops.models import Benchmark, InferenceVolume
from finops.selectors.access import workloads_for_user
from finops.selectors.benchmarks import BenchmarkChoice, cheapest_benchmark
from finops.selectors.build_vs_buy import DAYS_PER_MONTH
from finops.selectors.gpu import CENT, RightSizing, right_sizing_suggestions
from finops.selectors.spend import SpendFilter

SECONDS_PER_DAY = 86_400
HOURS_PER_DAY = 24
# A benchmark's throughput unit → the InferenceVolume figure it is compared with.
LOAD_UNITS = {
    Benchmark.ThroughputUnit.REQUESTS_PER_SECOND: ("requests", "requests/s"),
    Benchmark.ThroughputUnit.TOKENS_PER_SECOND: ("tokens", "tokens/s"),
}


@dataclass(frozen=True)
class InstanceSuggestion:
    """A right-sizing suggestion with the instance to move to, or the reason there is none."""

    right_sizing: RightSizing
    benchmark: Benchmark | None
    reason: str
    # The load of the 95th-percentile hour, in `load_unit`; None when no volume is reported.
    peak_load: Decimal | None = None
    load_unit: str = ""
    monthly_gpu_cost: Decimal | None = None
    instance_monthly_cost: Decimal | None = None
    monthly_saving: Decimal | None = None

    @property
    def instance(self) -> str:
        if self.benchmark is None:
            return ""
        run = self.benchmark
        return f"{run.instance_type} ({run.gpu_count} × {run.gpu_model or 'GPU'})"


def instance_suggestions(
    *, user, spend_filter: SpendFilter, suggestions: list[RightSizing] | None = None
) -> list[InstanceSuggestion]:
    """One InstanceSuggestion per right-sizing suggestion, in the same order.

    Pass `suggestions` (right_sizing_suggestions for the same user and filter) when you already
    have them. Only workloads the user may see are looked at."""
    if suggestions is None:
        suggestions = right_sizing_suggestions(user=user, spend_filter=spend_filter)
    workload_ids = [suggestion.workload_id for suggestion in suggestions]
    workloads = workloads_for_user(user).in_bulk(workload_ids)
    suggestions = [suggestion for suggestion in suggestions if suggestion.workload_id in workloads]
    volumes = _volumes(list(workloads), spend_filter)
    return [
        _suggest(
            suggestion,
            choice=cheapest_benchmark(
                workload=workloads[suggestion.workload_id], currency=suggestion.billing_currency
            ),
            volume=volumes.get(suggestion.workload_id, {}),
        )
        for suggestion in suggestions
    ]


def _suggest(suggestion: RightSizing, *, choice: BenchmarkChoice, volume: dict) -> InstanceSuggestion:
    none_meets = _none_meets_target(suggestion, choice)
    if none_meets:
        return InstanceSuggestion(suggestion, None, none_meets)
    figure, load_unit = LOAD_UNITS[choice.throughput_unit]
    if not volume.get(f"{figure}_days"):
        reason = f"No {figure} reported in this period, so the load an instance must carry is unknown."
        return InstanceSuggestion(suggestion, None, reason)
    peak_load = _peak_load(units=volume[figure], days=volume[f"{figure}_days"], suggestion=suggestion)
    load = {"peak_load": peak_load, "load_unit": load_unit}
    fitting = [cost.benchmark for cost in choice.meeting_target if cost.benchmark.throughput >= peak_load]
    if not fitting:
        largest = max((cost.benchmark for cost in choice.meeting_target), key=lambda run: run.throughput)
        reason = (
            f"None of the instances that meet the latency target can carry the busiest hours' "
            f"{_number(peak_load)} {load_unit} (the most is {_number(largest.throughput)} {load_unit} "
            f"on {largest.instance_type})."
        )
        return InstanceSuggestion(suggestion, None, reason, **load)
    if not suggestion.gpu_cost_days:
        reason = "No day with both GPU samples and GPU spend to compare with."
        return InstanceSuggestion(suggestion, None, reason, **load)
    # Of those that fit, the one cheapest to run all month: a single instance costs its hourly
    # price whatever its throughput, so the lowest price per unit is not what matters here.
    run = min(fitting, key=lambda run: (run.hourly_price, run.p95_latency_ms, run.instance_type))
    today_monthly = suggestion.gpu_cost * DAYS_PER_MONTH / suggestion.gpu_cost_days
    instance_monthly = run.hourly_price * HOURS_PER_DAY * DAYS_PER_MONTH
    costs = load | {
        "monthly_gpu_cost": today_monthly.quantize(CENT),
        "instance_monthly_cost": instance_monthly.quantize(CENT),
    }
    if instance_monthly >= today_monthly:
        reason = (
            f"The cheapest instance that fits, {run.instance_type}, costs {costs['instance_monthly_cost']} "
            f"{run.currency} a month, no less than today's GPUs ({costs['monthly_gpu_cost']} {run.currency})."
        )
        return InstanceSuggestion(suggestion, None, reason, **costs)
    latency = f"p95 {run.p95_latency_ms} ms"
    if choice.latency_target_ms is not None:
        latency += f" within the {choice.latency_target_ms} ms target"
    reason = (
        f"{run.instance_type} serves {_number(run.throughput)} {load_unit} at {latency}; the busiest hours "
        f"need {_number(peak_load)} {load_unit}."
    )
    saving = (today_monthly - instance_monthly).quantize(CENT)
    return InstanceSuggestion(suggestion, run, reason, monthly_saving=saving, **costs)


def _none_meets_target(suggestion: RightSizing, choice: BenchmarkChoice) -> str:
    """Why no benchmarked instance is a candidate at all, or "" when some meet the target."""
    if choice.throughput_unit is None:
        return "No benchmarks for this workload yet."
    if not choice.meeting_target and not choice.rejected_for_latency:
        unit = LOAD_UNITS[choice.throughput_unit][1]
        return f"No benchmark in {unit} priced in {suggestion.billing_currency}."
    if not choice.meeting_target:
        return (
            f"None of the {len(choice.rejected_for_latency)} benchmarked instances meets the p95 latency "
            f"target of {choice.latency_target_ms} ms."
        )
    return ""


def _peak_load(*, units: int, days: int, suggestion: RightSizing) -> Decimal:
    average_rate = Decimal(units) / (days * SECONDS_PER_DAY)
    if suggestion.utilization_avg <= 0:
        return average_rate
    # Rounded to 6 places: the two utilizations are floats, and equal ones must give exactly 1.
    peak_factor = Decimal(str(round(suggestion.utilization_p95 / suggestion.utilization_avg, 6)))
    return average_rate * max(peak_factor, Decimal(1))


def _volumes(workload_ids: list[int], spend_filter: SpendFilter) -> dict[int, dict]:
    """Requests and tokens per workload over the period, with the number of days that
    reported each (a day that pushed requests only says nothing about its tokens)."""
    totals: dict[int, dict] = {}
    for row in InferenceVolume.objects.filter(
        workload_id__in=workload_ids, day__gte=spend_filter.start, day__lte=spend_filter.end
    ).values("workload_id", "requests", "input_tokens", "output_tokens"):
        total = totals.setdefault(
            row["workload_id"], {"requests": 0, "requests_days": 0, "tokens": 0, "tokens_days": 0}
        )
        tokens = row["input_tokens"] + row["output_tokens"]
        for figure, value in (("requests", row["requests"]), ("tokens", tokens)):
            if value:
                total[figure] += value
                total[f"{figure}_days"] += 1
    return totals


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}" if value == value.to_integral_value() else f"{value:,.2f}"
