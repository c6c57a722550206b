"""The detection methods on plain series: no database."""

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.services.alert_methods import daily_budget, percent_over_baseline, robust_zscore, unit_cost
from tests.finops.alerts.builders import cycle

END = date(2026, 3, 10)  # a Tuesday
DEFAULT = {"window_days": 42, "threshold": Decimal("3.25"), "min_amount": Decimal(50)}


def series(*, days: int = 120, base: float = 1000.0, noise: float = 0.04, seed: int = 3, growth: float = 0.10,
           spikes: dict[date, float] | None = None) -> dict[date, Decimal]:
    rng = random.Random(seed)
    spikes = spikes or {}
    return {
        END - timedelta(days=offset): Decimal(
            f"{cycle(END - timedelta(days=offset), base=base, growth=growth) * math.exp(rng.gauss(0, noise)) * spikes.get(END - timedelta(days=offset), 1):.2f}"
        )
        for offset in range(days)
    }


def firing_days(history: dict, method=robust_zscore, **params) -> list[date]:
    params = DEFAULT | params
    days = sorted(history)
    return [day for day in days if (ev := method(history, day, **params)) is not None and ev.fires]


@pytest.mark.parametrize("growth", [0.10, 0.30, -0.15])
def test_it_stays_quiet_on_growth_and_the_weekly_cycle(growth):
    assert firing_days(series(growth=growth)) == []


def test_it_fires_on_a_spike():
    history = series(spikes={END: 1.6})

    evaluation = robust_zscore(history, END, **DEFAULT)

    assert firing_days(history) == [END]
    assert evaluation.observed == history[END]
    assert evaluation.expected == pytest.approx(history[END] / Decimal("1.6"), rel=Decimal("0.08"))
    assert evaluation.details["z"] >= 3.25


def test_it_fires_on_a_weekend_spike_that_stays_below_a_normal_weekday():
    sunday = END - timedelta(days=2)
    history = series(spikes={sunday: 1.45})

    assert history[sunday] < history[END - timedelta(days=1)]  # below Monday's normal spend
    assert firing_days(history) == [sunday]
    # A baseline that ignores the weekly cycle cannot see it.
    assert sunday not in firing_days(history, percent_over_baseline, threshold=Decimal(30), window_days=28)


def test_a_past_spike_does_not_raise_the_baseline():
    history = series(spikes={END - timedelta(days=7): 2.5, END: 1.5})

    assert firing_days(history)[-2:] == [END - timedelta(days=7), END]


def test_it_ignores_spikes_under_the_minimum_amount():
    history = series(base=20.0, spikes={END: 2.0})  # +20 USD on a 20 USD day

    assert robust_zscore(history, END, **DEFAULT).details["z"] > 10
    assert firing_days(history) == []
    assert firing_days(history, min_amount=Decimal(10)) == [END]


def test_it_needs_two_weeks_of_history():
    history = series(days=12, spikes={END: 3.0})

    assert robust_zscore(history, END, **DEFAULT) is None


def test_a_flat_bill_does_not_alarm_on_a_few_percent():
    flat = {END - timedelta(days=offset): Decimal("1000.00") for offset in range(1, 60)}

    assert not robust_zscore(flat | {END: Decimal("1080.00")}, END, **DEFAULT).fires
    assert robust_zscore(flat | {END: Decimal("1300.00")}, END, **DEFAULT).fires


def test_a_day_without_spend_is_no_spike():
    history = series()
    del history[END]

    evaluation = robust_zscore(history, END, **DEFAULT)

    assert not evaluation.fires
    assert evaluation.observed == 0


def test_percent_over_baseline_fires_over_the_threshold():
    history = {END - timedelta(days=offset): Decimal(100) for offset in range(1, 15)}
    params = {"window_days": 14, "threshold": Decimal(50), "min_amount": Decimal(10)}

    assert percent_over_baseline(history | {END: Decimal(160)}, END, **params).fires
    assert not percent_over_baseline(history | {END: Decimal(140)}, END, **params).fires
    assert percent_over_baseline(history | {END: Decimal(160)}, END, **params).expected == Decimal(100)


def test_daily_budget_fires_over_the_budget_by_at_least_the_minimum():
    params = {"window_days": 7, "threshold": Decimal(500), "min_amount": Decimal(20)}

    assert daily_budget({END: Decimal("530")}, END, **params).fires
    assert not daily_budget({END: Decimal("510")}, END, **params).fires
    assert daily_budget({END: Decimal("530")}, END, **params).expected == Decimal(500)


UNIT = {"window_days": 28, "threshold": Decimal(30), "min_amount": Decimal(50)}


def volumes(*, days: int = 29) -> dict[date, tuple[Decimal, Decimal]]:
    """3 USD per 1M tokens, volume growing and cycling weekly."""
    out = {}
    for offset in range(days - 1, 0, -1):
        day = END - timedelta(days=offset)
        tokens = Decimal(int(cycle(day, base=1000.0, growth=0.3) * 1_000_000 / 3))
        out[day] = (tokens * 3 / 1_000_000, tokens / 1_000_000)
    return out


def test_unit_cost_stays_quiet_when_spend_grows_with_traffic():
    history = volumes()
    tokens = history[END - timedelta(days=7)][1] * 2 * 1_000_000  # twice the traffic, twice the bill
    history[END] = (tokens * 3 / 1_000_000, tokens / 1_000_000)

    evaluation = unit_cost(history, END, **UNIT)

    assert not evaluation.fires
    assert evaluation.details["observed_per_unit"] == "3.0000"


def test_unit_cost_fires_when_a_workload_gets_less_efficient():
    history = volumes()
    tokens = history[END - timedelta(days=7)][1] * 1_000_000
    history[END] = (tokens * Decimal("4.5") / 1_000_000, tokens / 1_000_000)  # same traffic, 1.5 x the price

    evaluation = unit_cost(history, END, **UNIT)

    assert evaluation.fires
    assert evaluation.expected == tokens * 3 / 1_000_000
    assert evaluation.details["observed_per_unit"] == "4.5000"
    assert evaluation.details["expected_per_unit"] == "3.0000"
