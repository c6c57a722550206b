"""Benchmarks read back: the cost of one unit of work on each measured instance, and the
cheapest instance that meets a workload's latency target (right-sizing, white paper §4)."""

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet

from finops.models import Benchmark, Workload
from finops.selectors.access import workloads_for_user

SECONDS_PER_HOUR = 3600
# A throughput unit's cost is quoted per this many units, as the managed APIs quote theirs.
PRICE_UNITS = {
    Benchmark.ThroughputUnit.TOKENS_PER_SECOND: (1_000_000, "1M tokens"),
    Benchmark.ThroughputUnit.REQUESTS_PER_SECOND: (1_000, "1k requests"),
}


def benchmarks_for_user(user) -> QuerySet[Benchmark]:
    return Benchmark.objects.filter(workload__in=workloads_for_user(user)).select_related("workload", "workload__team")


def benchmark_cost_per_unit(benchmark: Benchmark) -> Decimal:
    """What 1M tokens (tokens/s runs) or 1k requests (requests/s runs) cost on this instance
    running flat out: hourly_price / (throughput × 3600) × unit.

    Multiplying before dividing leaves a single rounding, at the 28th significant digit, and
    none at all when the division terminates."""
    per, _label = PRICE_UNITS[benchmark.throughput_unit]
    return benchmark.hourly_price * per / (benchmark.throughput * SECONDS_PER_HOUR)


def benchmark_price_unit(benchmark: Benchmark) -> str:
    return PRICE_UNITS[benchmark.throughput_unit][1]


@dataclass(frozen=True)
class BenchmarkCost:
    benchmark: Benchmark
    cost_per_unit: Decimal
    price_unit: str  # "1M tokens" or "1k requests"
    meets_target: bool

    @property
    def currency(self) -> str:
        return self.benchmark.currency


@dataclass(frozen=True)
class NotCompared:
    """A latest measurement left out of the ranking because its cost is in another unit or
    currency than the ranked ones: 1M tokens and 1k requests, or USD and EUR, do not order."""

    cost: BenchmarkCost
    reason: str


@dataclass(frozen=True)
class BenchmarkChoice:
    """The cheapest instance for a workload and everything a page needs to explain it."""

    workload: Workload
    latency_target_ms: Decimal | None
    throughput_unit: str | None
    currency: str | None
    chosen: BenchmarkCost | None
    # Ranked cheapest first; `chosen` is the first of `meeting_target`.
    meeting_target: list[BenchmarkCost] = field(default_factory=list)
    rejected_for_latency: list[BenchmarkCost] = field(default_factory=list)
    not_compared: list[NotCompared] = field(default_factory=list)
    # Older runs of an (instance type, GPU count) that a later run replaces.
    superseded: int = 0

    @property
    def cheaper_but_too_slow(self) -> list[BenchmarkCost]:
        if self.chosen is None:
            return list(self.rejected_for_latency)
        return [cost for cost in self.rejected_for_latency if cost.cost_per_unit < self.chosen.cost_per_unit]

    @property
    def explanation(self) -> str:
        if self.throughput_unit is None:
            return f"{self.workload} has no benchmarks yet."
        if not self.meeting_target and not self.rejected_for_latency:
            return f"{self.workload} has no benchmark in {self.throughput_unit} priced in {self.currency} to rank."
        if self.chosen is None:
            return (
                f"None of the {len(self.rejected_for_latency)} benchmarked instances meets the p95 target of "
                f"{self.latency_target_ms} ms."
            )
        run = self.chosen.benchmark
        text = (
            f"{run.instance_type} ({run.gpu_count} × {run.gpu_model or 'GPU'}) is the cheapest at "
            f"{self.chosen.cost_per_unit:.6f} {self.currency} per {self.chosen.price_unit}"
        )
        if self.latency_target_ms is None:
            text += " (no latency target set)."
        else:
            text += f" with p95 {run.p95_latency_ms} ms within the {self.latency_target_ms} ms target."
        too_slow = self.cheaper_but_too_slow
        if too_slow:
            names = ", ".join(
                f"{cost.benchmark.instance_type} (p95 {cost.benchmark.p95_latency_ms} ms)" for cost in too_slow
            )
            text += f" Cheaper but too slow: {names}."
        if self.not_compared:
            text += f" {len(self.not_compared)} run(s) in another unit or currency were not ranked."
        return text


def latest_benchmarks(workload: Workload) -> QuerySet[Benchmark]:
    """The latest run of each (instance type, GPU count): a re-measurement replaces an older
    one, so a fixed driver or a new price is not outvoted by history."""
    newer = Benchmark.objects.filter(
        workload=OuterRef("workload"),
        instance_type=OuterRef("instance_type"),
        gpu_count=OuterRef("gpu_count"),
        measured_on__gt=OuterRef("measured_on"),
    )
    return workload.benchmarks.filter(~Exists(newer))


def cheapest_benchmark(
    *,
    workload: Workload,
    latency_target_ms: Decimal | None = None,
    throughput_unit: str | None = None,
    currency: str | None = None,
) -> BenchmarkChoice:
    """The instance with the lowest cost per unit whose p95 latency is at most the target.

    The target defaults to the workload's own; with none, the cheapest run wins. Only runs in
    one throughput unit and one currency are ranked: by default the unit the workload counts
    inferences in (tokens for token workloads, requests otherwise) when it has such runs, and
    the currency most of those runs are priced in. The rest are listed as not compared. The
    caller passes a workload the user may see (see `workloads_for_user`)."""
    if latency_target_ms is None:
        latency_target_ms = workload.p95_latency_target_ms
    latest = list(latest_benchmarks(workload).order_by("instance_type", "gpu_count"))
    superseded = workload.benchmarks.count() - len(latest)
    costs = [
        BenchmarkCost(
            benchmark=run,
            cost_per_unit=benchmark_cost_per_unit(run),
            price_unit=benchmark_price_unit(run),
            meets_target=latency_target_ms is None or run.p95_latency_ms <= latency_target_ms,
        )
        for run in latest
    ]
    if throughput_unit is not None and throughput_unit not in PRICE_UNITS:
        raise ValueError(f"unknown throughput unit {throughput_unit!r}")
    throughput_unit = throughput_unit or _default_unit(workload, costs)
    currency = currency or _default_currency(costs, throughput_unit)
    ranked, not_compared = [], []
    for cost in costs:
        if cost.benchmark.throughput_unit != throughput_unit:
            reason = (
                f"measured in {cost.benchmark.get_throughput_unit_display()}: its cost per {cost.price_unit} "
                f"does not rank against costs per {PRICE_UNITS[throughput_unit][1]}"
            )
            not_compared.append(NotCompared(cost=cost, reason=reason))
        elif cost.currency != currency:
            reason = f"priced in {cost.currency}: amounts in different currencies are not compared"
            not_compared.append(NotCompared(cost=cost, reason=reason))
        else:
            ranked.append(cost)
    # Equal costs: the faster run, then the name, so the choice is stable.
    ranked.sort(key=lambda cost: (cost.cost_per_unit, cost.benchmark.p95_latency_ms, cost.benchmark.instance_type))
    meeting = [cost for cost in ranked if cost.meets_target]
    return BenchmarkChoice(
        workload=workload,
        latency_target_ms=latency_target_ms,
        throughput_unit=throughput_unit if costs else None,
        currency=currency,
        chosen=meeting[0] if meeting else None,
        meeting_target=meeting,
        rejected_for_latency=[cost for cost in ranked if not cost.meets_target],
        not_compared=not_compared,
        superseded=superseded,
    )


def _default_unit(workload: Workload, costs: list[BenchmarkCost]) -> str | None:
    units = {cost.benchmark.throughput_unit for cost in costs}
    if not units:
        return None
    preferred = (
        Benchmark.ThroughputUnit.TOKENS_PER_SECOND
        if workload.inference_unit == Workload.InferenceUnit.TOKEN
        else Benchmark.ThroughputUnit.REQUESTS_PER_SECOND
    )
    return preferred if preferred in units else units.pop()


def _default_currency(costs: list[BenchmarkCost], throughput_unit: str | None) -> str | None:
    counts = Counter(cost.currency for cost in costs if cost.benchmark.throughput_unit == throughput_unit)
    if not counts:
        return None
    # Most runs first; ties go to the alphabetically first code, so the choice is stable.
    return min(counts, key=lambda code: (-counts[code], code))
