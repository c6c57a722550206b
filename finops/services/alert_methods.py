"""The four ways a rule decides that a day's spend is a spike.

Pure functions of a day and the history before it (plain dicts, no database), so detection,
tests and the benchmark in bench/alerts_eval.py run exactly the same arithmetic. Amounts are
Decimal; floats appear only inside the z-score statistic. Baselines are computed over the
days in the trailing window on which the scope had spend; a method that has too few such days
returns None (not enough history yet) instead of guessing.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# The robust z-score needs two weeks to see every weekday twice.
MIN_ZSCORE_DAYS = 14
MIN_BASELINE_DAYS = 7
# The noise of log spend is never taken below 5%: a perfectly flat bill (a reservation) must
# not alarm on a few cents. With the default threshold the smallest spike is then ~18%.
MIN_LOG_SIGMA = 0.05


@dataclass(frozen=True)
class Evaluation:
    fires: bool
    observed: Decimal
    expected: Decimal
    details: dict = field(default_factory=dict)  # JSON-safe statistics, shown with the alert


def robust_zscore(
    history: Mapping[date, Decimal], day: date, *, window_days: int, threshold: Decimal, min_amount: Decimal
) -> Evaluation | None:
    """How unusual the day is against the trailing window, after removing growth and the
    weekly cycle, measured in robust standard deviations of log spend.

    In log space growth is a line and the weekly cycle an additive weekday effect. The slope is
    the median of slopes between days a whole number of weeks apart (the cycle cancels in
    those pairs, and a past spike moves a median little); the weekday effect is each weekday's
    median departure once growth is taken out. Expected = the trend projected to the day plus
    the day's weekday effect. The noise is Rousseeuw and Croux's Qn of the week-over-week
    changes, widened by the error of the expectation itself (a weekday median of a few points).
    Medians and Qn ignore up to half the window, so past spikes do not raise the baseline."""
    points = _window(history, day, window_days)
    if len(points) < MIN_ZSCORE_DAYS:
        return None
    offsets = [(d - day).days for d, _ in points]
    logs = [math.log(float(amount)) for _, amount in points]
    pairs = [
        (logs[j] - logs[i]) / (offsets[j] - offsets[i])
        for i in range(len(points))
        for j in range(i + 1, len(points))
        if (offsets[j] - offsets[i]) % 7 == 0
    ]
    slope = statistics.median(pairs) if pairs else 0.0
    at_day = [y - slope * t for y, t in zip(logs, offsets)]  # every point projected onto the day
    center = statistics.median(at_day)
    by_weekday = defaultdict(list)
    for (d, _), value in zip(points, at_day):
        by_weekday[d.weekday()].append(value - center)
    effect = {wd: statistics.median(values) if len(values) >= 2 else 0.0 for wd, values in by_weekday.items()}
    residuals = [value - center - effect[d.weekday()] for (d, _), value in zip(points, at_day)]
    shift = statistics.median(residuals)
    # The noise, from week-over-week changes once growth is taken out: the weekly cycle cancels
    # in them and nothing was fitted to them, so their spread is not shrunk by the fit.
    weekly = [(logs[j] - logs[i]) - slope * 7 for i, j in _week_apart(offsets)]
    spread = _qn(weekly) / math.sqrt(2) if len(weekly) >= 2 else 0.0
    # The prediction is itself estimated (a weekday median of a few points, a window median):
    # its error adds to the noise, so the spread of a new day is wider than the residuals'.
    same_weekday = max(len(by_weekday.get(day.weekday(), ())), 1)
    inflation = math.sqrt(1 + math.pi / 2 / same_weekday + math.pi / 2 / len(points))
    sigma = max(spread, MIN_LOG_SIGMA) * inflation
    predicted = center + shift + effect.get(day.weekday(), 0.0)
    expected = _money(math.exp(predicted))
    observed = history.get(day, ZERO)
    z = (math.log(float(observed)) - predicted) / sigma if observed > 0 else None
    fires = z is not None and z >= float(threshold) and observed - expected >= min_amount
    details = {
        "z": None if z is None else round(z, 2),
        "threshold": float(threshold),
        "sigma_log": round(sigma, 4),
        "growth_per_day_percent": round(math.expm1(slope) * 100, 3),
        "weekday_effect_percent": round(math.expm1(effect.get(day.weekday(), 0.0)) * 100, 1),
        "baseline_days": len(points),
    }
    return Evaluation(fires=fires, observed=observed, expected=expected, details=details)


def percent_over_baseline(
    history: Mapping[date, Decimal], day: date, *, window_days: int, threshold: Decimal, min_amount: Decimal
) -> Evaluation | None:
    """The day against the mean day of the trailing window; fires `threshold` percent over."""
    points = _window(history, day, window_days)
    if len(points) < MIN_BASELINE_DAYS:
        return None
    expected = sum((amount for _, amount in points), ZERO) / len(points)
    observed = history.get(day, ZERO)
    percent = (observed / expected - 1) * HUNDRED
    fires = percent >= threshold and observed - expected >= min_amount
    details = {"percent": float(round(percent, 1)), "threshold": float(threshold), "baseline_days": len(points)}
    return Evaluation(fires=fires, observed=observed, expected=expected, details=details)


def daily_budget(
    history: Mapping[date, Decimal], day: date, *, window_days: int, threshold: Decimal, min_amount: Decimal
) -> Evaluation:
    """The day against a fixed budget (`threshold`, in the rule's currency)."""
    observed = history.get(day, ZERO)
    fires = observed > threshold and observed - threshold >= min_amount
    return Evaluation(fires=fires, observed=observed, expected=threshold, details={"budget": str(threshold)})


def unit_cost(
    history: Mapping[date, tuple[Decimal, Decimal]],
    day: date,
    *,
    window_days: int,
    threshold: Decimal,
    min_amount: Decimal,
    unit: str = "unit",
) -> Evaluation | None:
    """Cost per unit of volume against the median day of the trailing window.

    `history` maps a day to (cost, volume in units of `unit`, e.g. thousands of inferences). Spend that grows with volume keeps its unit cost
    and stays quiet; a workload that got less efficient pays more per unit and fires.
    Expected = the day's volume at the baseline unit cost, so the excess is what the loss of
    efficiency cost that day."""
    points = [(d, cost / volume) for d, (cost, volume) in _window(history, day, window_days, key=_volume)]
    if len(points) < MIN_BASELINE_DAYS:
        return None
    baseline = statistics.median(unit for _, unit in points)
    cost, volume = history.get(day, (ZERO, ZERO))
    if volume <= 0:
        return Evaluation(fires=False, observed=cost, expected=ZERO, details={"volume": "0"})
    observed_unit = cost / volume
    expected = volume * baseline
    percent = (observed_unit / baseline - 1) * HUNDRED if baseline > 0 else ZERO
    fires = percent >= threshold and cost - expected >= min_amount
    details = {
        "percent": float(round(percent, 1)),
        "threshold": float(threshold),
        "volume": str(volume),
        "unit": unit,
        "observed_per_unit": str(round(observed_unit, 4)),
        "expected_per_unit": str(round(baseline, 4)),
        "baseline_days": len(points),
    }
    return Evaluation(fires=fires, observed=cost, expected=expected, details=details)


METHODS = {
    "robust_zscore": robust_zscore,
    "percent_over_baseline": percent_over_baseline,
    "daily_budget": daily_budget,
    "unit_cost": unit_cost,
}


def _qn(values: list[float]) -> float:
    """Rousseeuw and Croux's Qn: a robust standard deviation (50% breakdown, like the MAD)
    that is far more efficient, so a few weeks of history give a steadier estimate."""
    n = len(values)
    h = n // 2 + 1
    distances = sorted(abs(a - b) for i, a in enumerate(values) for b in values[i + 1:])
    small_sample = n / (n + 1.4) if n % 2 else n / (n + 3.8)
    return 2.2219 * small_sample * distances[h * (h - 1) // 2 - 1]


def _week_apart(offsets: list[int]) -> list[tuple[int, int]]:
    """Index pairs of days exactly one week apart."""
    index = {offset: i for i, offset in enumerate(offsets)}
    return [(index[offset - 7], i) for i, offset in enumerate(offsets) if offset - 7 in index]


def _amount(value) -> Decimal:
    return value


def _volume(value) -> Decimal:
    return value[1]


def _window(history: Mapping, day: date, window_days: int, key=_amount) -> list[tuple[date, object]]:
    """The (day, value) pairs of the `window_days` days before `day` whose key is positive."""
    days = (day - timedelta(days=offset) for offset in range(window_days, 0, -1))
    return [(d, history[d]) for d in days if d in history and key(history[d]) > 0]


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.0001"))
