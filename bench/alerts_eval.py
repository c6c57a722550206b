"""Does the default spike rule catch real spikes and stay quiet on growth and weekly cycles?

    .venv/bin/python bench/alerts_eval.py [--seed 1] [--noise 0.05] [--seeds 50] [--database-url URL]

Generates 180 days of one team's inference spend: three services (GPU instances, a managed model
API billed in tokens, storage), a weekly cycle (weekends at ~60% of weekdays), 10% compound
monthly growth, multiplicative log-normal day-to-day noise (`--noise`, default 5%), and five
injected spikes of +40% to +80% of the day's total, two of them on weekend days, each added to
one service. It writes the series into the DailySpend rollup through the ORM, runs the real
detection (`finops.services.alert_detection.spikes_detect`) with the team's default rule, and
prints every alert, then precision and recall. An alert on an injected day is a hit; any
other alert is a false alarm.

With --seeds N it repeats on seeds 0..N-1 and prints the totals, to show the result does not
depend on one lucky seed. By default it works in a temporary SQLite database it migrates itself
(nothing else is touched); --database-url points it at another, e.g. a scratch PostgreSQL.
tests/finops/alerts/test_evaluation.py runs `evaluate()` on the default seed and asserts
all five caught with at most one false alarm.
"""

import argparse
import math
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

START = date(2026, 1, 5)  # a Monday
DAYS = 180
BASE_DAILY = 1000.0  # USD on an average weekday at the start
MONTHLY_GROWTH = 0.10
WEEKLY_CYCLE = (1.00, 1.04, 1.06, 1.03, 0.97, 0.62, 0.58)  # Monday .. Sunday
SERVICES = (
    # name, category, share of the day, price per 1M tokens (None: not billed in tokens)
    ("Amazon Elastic Compute Cloud", "Compute", 0.62, None),
    ("Amazon Bedrock", "AI and Machine Learning", 0.30, Decimal(3)),
    ("Amazon Simple Storage Service", "Storage", 0.08, None),
)
# Day offset -> (multiplier of the day's total, service the extra spend lands on)
SPIKES = {
    38: (1.45, "Amazon Elastic Compute Cloud"),  # a Thursday
    71: (1.60, "Amazon Bedrock"),  # a Tuesday
    103: (1.50, "Amazon Elastic Compute Cloud"),  # a Saturday: still below a normal weekday
    134: (1.80, "Amazon Bedrock"),  # a Tuesday
    167: (1.40, "Amazon Elastic Compute Cloud"),  # a Sunday: still below a normal weekday
}
DEFAULT_SEED = 1
DEFAULT_NOISE = 0.05
TEAM_SLUG = "alerts-eval"


@dataclass
class EvalResult:
    seed: int
    spike_days: set[date]
    alert_days: dict[date, dict] = field(default_factory=dict)  # day -> {observed, expected, z}

    @property
    def hits(self) -> set[date]:
        return self.spike_days & set(self.alert_days)

    @property
    def false_alarms(self) -> set[date]:
        return set(self.alert_days) - self.spike_days

    @property
    def precision(self) -> float:
        return len(self.hits) / len(self.alert_days) if self.alert_days else 1.0

    @property
    def recall(self) -> float:
        return len(self.hits) / len(self.spike_days)


def series_generate(*, seed: int, noise: float = DEFAULT_NOISE) -> dict[date, dict[str, Decimal]]:
    """Day -> service -> cost (Decimal cents). Deterministic for a seed."""
    rng = random.Random(seed)
    series = {}
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        total = BASE_DAILY * (1 + MONTHLY_GROWTH) ** (offset / 30) * WEEKLY_CYCLE[day.weekday()]
        total *= math.exp(rng.gauss(0, noise))
        shares = [share * math.exp(rng.gauss(0, 0.02)) for _, _, share, _ in SERVICES]
        amounts = {name: total * share / sum(shares) for (name, _, _, _), share in zip(SERVICES, shares)}
        if offset in SPIKES:
            multiplier, service = SPIKES[offset]
            amounts[service] += total * (multiplier - 1)
        series[day] = {name: Decimal(f"{amount:.2f}") for name, amount in amounts.items()}
    return series


def series_write(series: dict[date, dict[str, Decimal]]):
    """Replace the evaluation team's rollup rows with the series. Returns the team."""
    from finops.models import Alert, DailySpend, Team, Workload

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "Alerts evaluation"})
    workload, _ = Workload.objects.get_or_create(
        team=team, name="Support assistant", defaults={"slug": f"{TEAM_SLUG}-assistant"}
    )
    Alert.objects.filter(rule__team=team).delete()
    DailySpend.objects.filter(team=team).delete()
    categories = {name: (category, price) for name, category, _, price in SERVICES}
    DailySpend.objects.bulk_create(
        DailySpend(
            day=day, team=team, workload=workload, provider_name="AWS", service_name=service,
            service_category=categories[service][0], charge_category="Usage", billing_currency="USD",
            billed_cost=amount, effective_cost=amount, list_cost=amount, record_count=24,
            tokens=(amount / categories[service][1] * 1_000_000).quantize(Decimal(1)) if categories[service][1] else 0,
        )
        for day, services in series.items()
        for service, amount in services.items()
    )
    return team


def evaluate(*, seed: int = DEFAULT_SEED, noise: float = DEFAULT_NOISE) -> EvalResult:
    """Generate, write, detect with the team's default rule, and score."""
    from finops.models import Alert
    from finops.services.alert_detection import spikes_detect

    team = series_write(series_generate(seed=seed, noise=noise))
    spikes_detect(start=START, end=START + timedelta(days=DAYS - 1))
    result = EvalResult(seed=seed, spike_days={START + timedelta(days=offset) for offset in SPIKES})
    for alert in Alert.objects.filter(rule__team=team, rule__is_default=True).order_by("day"):
        result.alert_days[alert.day] = {
            "observed": alert.observed_amount, "expected": alert.expected_amount, "z": alert.details.get("z"),
            "driver": (alert.drivers.get("services") or [{}])[0].get("name", ""),
        }
    return result


def _report(result: EvalResult) -> None:
    print(f"seed {result.seed}: {len(result.alert_days)} alerts")
    for day in sorted(result.spike_days | set(result.alert_days)):
        alert = result.alert_days.get(day)
        kind = "HIT  " if day in result.hits else ("MISS " if day in result.spike_days else "FALSE")
        line = f"  {kind} {day:%a %Y-%m-%d}"
        if alert:
            line += (f"  observed {alert['observed']:>10,.2f}  expected {alert['expected']:>10,.2f}"
                     f"  z {alert['z']}  top driver: {alert['driver']}")
        print(line)
    print(f"  precision {result.precision:.2f}  recall {result.recall:.2f}  "
          f"({len(result.hits)}/5 spikes caught, {len(result.false_alarms)} false alarms)")


def _django_setup(database_url: str | None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if database_url is None:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='alerts-eval-')}/eval.sqlite3"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE, help="day-to-day log-normal sigma")
    parser.add_argument("--seeds", type=int, default=0, help="also evaluate seeds 0..N-1 and print totals")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite database")
    args = parser.parse_args()
    _django_setup(args.database_url)

    print(f"180 days from {START}, weekly cycle {WEEKLY_CYCLE}, {MONTHLY_GROWTH:.0%} monthly growth, "
          f"noise {args.noise:.0%}, spikes x{', x'.join(str(m) for m, _ in SPIKES.values())}")
    _report(evaluate(seed=args.seed, noise=args.noise))
    if args.seeds:
        results = [evaluate(seed=seed, noise=args.noise) for seed in range(args.seeds)]
        hits = sum(len(r.hits) for r in results)
        alerts = sum(len(r.alert_days) for r in results)
        false = sum(len(r.false_alarms) for r in results)
        passing = sum(len(r.hits) == 5 and len(r.false_alarms) <= 1 for r in results)
        print(f"{args.seeds} seeds: recall {hits / (5 * args.seeds):.3f} ({hits}/{5 * args.seeds}), precision "
              f"{hits / alerts if alerts else 1:.3f}, {false} false alarms in {args.seeds * DAYS} days "
              f"({false / args.seeds:.2f} per 180-day series); {passing}/{args.seeds} series meet "
              f"'all five caught, at most one false alarm'")


if __name__ == "__main__":
    main()
