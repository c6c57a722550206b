"""The issue's acceptance test: 180 days with weekly seasonality, 10% monthly growth and five
injected spikes; the default rule must catch all five with at most one false alarm. The
generator and scoring are bench/alerts_eval.py's, which also reports precision and recall."""

import pytest

from bench.alerts_eval import DEFAULT_SEED, SPIKES, START, evaluate, series_generate

pytestmark = pytest.mark.django_db


def test_the_series_has_the_shape_the_issue_asks_for():
    series = series_generate(seed=DEFAULT_SEED)
    totals = {day: sum(services.values()) for day, services in series.items()}
    days = sorted(totals)

    assert len(days) == 180
    first_month = sum(totals[day] for day in days[:28] if (day - START).days not in SPIKES)
    last_month = sum(totals[day] for day in days[-28:] if (day - START).days not in SPIKES)
    assert 1.45 < last_month / first_month < 1.85  # ~10% a month for five months
    weekdays = [totals[d] for d in days[:28] if d.weekday() < 5 and (d - START).days not in SPIKES]
    weekends = [totals[d] for d in days[:28] if d.weekday() >= 5]
    assert max(weekends) < min(weekdays)  # the weekly cycle
    assert len(SPIKES) == 5


def test_the_default_rule_catches_all_five_spikes_with_at_most_one_false_alarm():
    result = evaluate(seed=DEFAULT_SEED)

    assert result.hits == result.spike_days, f"missed {sorted(result.spike_days - result.hits)}"
    assert len(result.false_alarms) <= 1, f"false alarms on {sorted(result.false_alarms)}"
    assert result.recall == 1.0 and result.precision >= 5 / 6
