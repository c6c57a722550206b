"""Server time of every dashboard page, CSV download and spend/unit-cost API call on the bench
dataset (bench/dataset.py), in process, through Django's test client.

    .venv/bin/python bench/pages.py [--repeat 20] [--warmup 2] [--periods 30,90,365]
                                    [--users leader,member] [--only spend]
                                    [--database-url postgres://postgres@127.0.0.1:5432/finops_bench_pages]

For each user (the demo leader, who sees every team, and `bench-member`, a member of one team),
each period (the default 30 days, 90 days, 365 days, all ending today) and each URL: `--warmup`
untimed requests, one request counted with CaptureQueriesContext (SQL queries per request, so
N+1 patterns show), then `--repeat` timed requests. Server time is the wall time of
`Client.get()`: URL resolution, middleware, the view, its SQL and template rendering, in this
process with DEBUG off; no network and no browser. The report gives median and p95 (nearest
rank) per URL and whether p95 < 150 ms. Every response must be 200, or the bench stops.
"""

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

from common import (
    DEFAULT_DATABASE_URL,
    BenchDatabase,
    commit,
    database_name_check,
    django_setup,
    other_benchmarks_running,
    percentile,
    step,
    table_print,
)

TARGET_MS = 150.0
MEMBER_USERNAME = "bench-member"
LEADER_USERNAME = "demo"


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    params: dict = field(default_factory=dict)
    api: bool = False  # API calls name their period with start and end; pages use the filter bar


def pages(*, workload_id: int, team_id: int) -> list[Page]:
    spend_views = [("team", "day"), ("workload", "day"), ("service", "week"), ("provider", "month"),
                   ("tco_category", "day")]
    return [
        Page("overview", "/"),
        *(Page(f"spend {group}/{granularity}", "/spend/", {"group_by": group, "granularity": granularity})
          for group, granularity in spend_views),
        Page("gpu", "/gpu/"),
        Page("unit-costs", "/unit-costs/"),
        Page("hidden-costs", "/hidden-costs/"),
        Page("initiatives", "/initiatives/"),
        Page("checklist", "/checklist/"),
        Page("workload", f"/workloads/{workload_id}/"),
        Page("team", f"/teams/{team_id}/"),
        Page("spend.csv service/day", "/spend/data.csv", {"group_by": "service", "granularity": "day"}),
        Page("unit-costs.csv", "/unit-costs/data.csv"),
        Page("gpu.csv", "/gpu/data.csv"),
        Page("hidden-costs.csv", "/hidden-costs/data.csv"),
        Page("hidden-costs waterfall.csv", "/hidden-costs/waterfall.csv"),
        Page("initiatives.csv", "/initiatives/data.csv"),
        Page("initiatives timeline.csv", "/initiatives/timeline.csv"),
        Page("checklist.csv", "/checklist/data.csv"),
        Page("api spend service/day", "/api/v1/spend/", {"group_by": "service", "granularity": "day"}, api=True),
        Page("api unit-costs", "/api/v1/unit-costs/", api=True),
    ]


def period_params(page: Page, days: int, today) -> dict:
    """The default page (no query string) is the last 30 days; 90 days is the filter bar's preset;
    longer periods, and every API call, give start and end."""
    if not page.api and days == 30:
        return {}
    if not page.api and days == 90:
        return {"preset": "90d"}
    return {"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}


@dataclass
class Measurement:
    user: str
    days: int
    page: str
    url: str
    queries: int
    bytes: int
    milliseconds: list[float]

    @property
    def median(self) -> float:
        return percentile(self.milliseconds, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.milliseconds, 0.95)


def measure(client, page: Page, params: dict, *, user: str, days: int, warmup: int, repeat: int) -> Measurement:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    query = params | page.params
    url = page.path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    for _ in range(warmup):
        _get(client, page.path, query)
    with CaptureQueriesContext(connection) as captured:
        response = _get(client, page.path, query)
    queries = len(captured)
    size = len(response.content) if not response.streaming else sum(len(part) for part in response.streaming_content)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = _get(client, page.path, query)
        if response.streaming:  # a streamed CSV is produced while it is read
            for _ in response.streaming_content:
                pass
        timings.append((time.perf_counter() - started) * 1000)
    return Measurement(user, days, page.label, url, queries, size, timings)


def _get(client, path: str, query: dict):
    response = client.get(path, query)
    if response.status_code != 200:
        raise SystemExit(f"GET {path} {query} answered {response.status_code}: {response.content[:300]!r}")
    return response


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per URL, user and period")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    parser.add_argument("--periods", default="30,90,365", help="period lengths in days, ending today")
    parser.add_argument("--users", default="leader,member", help="leader, member or both")
    parser.add_argument("--only", default="", help="time only the URLs whose label contains this text")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    database_name_check(args.database_url)
    args.periods = [int(days) for days in args.periods.split(",")]
    args.users = [user.strip() for user in args.users.split(",")]
    if set(args.users) - {"leader", "member"} or args.repeat < 1:
        parser.error("--users takes leader and/or member; --repeat >= 1")
    return args


def main() -> None:
    args = arguments()
    db = BenchDatabase(args.database_url)
    if not db.exists():
        raise SystemExit(f"no database {db.name}: run bench/dataset.py first")
    busy = other_benchmarks_running()
    if busy:
        step(f"warning: other benchmarks are running, timings will be slower: {busy}")
    django_setup(args.database_url)
    from finops.startup import start_up_objects_freeze

    start_up_objects_freeze()  # as finops/wsgi.py does in every web worker
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from finops.models import CostRecord, GpuSample, Team, Workload

    setup_test_environment()  # the test client needs it (in-memory e-mail, no real sends)
    # Django empties the query log when a request starts; CaptureQueriesContext counts what was
    # added to it, so the reset would hide every query of the request.
    from django.core.signals import request_started
    from django.db import reset_queries

    request_started.disconnect(reset_queries)
    users = {"leader": LEADER_USERNAME, "member": MEMBER_USERNAME}
    team = Team.objects.get(name="Conversational AI")
    workload = Workload.objects.get(slug="llm-gateway")
    today = timezone.localdate()
    all_pages = [p for p in pages(workload_id=workload.pk, team_id=team.pk) if args.only in p.label]
    cost_records = CostRecord.objects.count()
    gpu_samples = GpuSample.objects.count()
    load_start = os.getloadavg()
    measurements: list[Measurement] = []
    for role in args.users:
        client = Client()
        client.force_login(get_user_model().objects.get(username=users[role]))
        for days in args.periods:
            for page in all_pages:
                m = measure(client, page, period_params(page, days, today), user=role, days=days,
                            warmup=args.warmup, repeat=args.repeat)
                measurements.append(m)
                step(f"{role} {days}d {page.label}: p50 {m.median:.0f} ms, p95 {m.p95:.0f} ms, {m.queries} queries")

    print(f"\npage bench on {db.name}: {cost_records:,} cost records, {gpu_samples:,} GPU samples; today {today}; "
          f"{args.repeat} timed requests after {args.warmup} warm-ups; {os.cpu_count()} CPUs; "
          f"code at {commit()} (plus uncommitted changes, if any)")
    print(f"load average at start {load_start[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
    for role in args.users:
        rows = []
        for page in all_pages:
            row = [page.label]
            for days in args.periods:
                m = next(m for m in measurements if m.user == role and m.days == days and m.page == page.label)
                row += [f"{m.median:.1f}", f"{m.p95:.1f}", m.queries, "yes" if m.p95 < TARGET_MS else "NO"]
            rows.append(row)
        header = ["URL"] + [f"{label} {days}d" for days in args.periods for label in ("p50", "p95", "SQL", "<150")]
        table_print(f"{role}: server time in ms (median, p95), SQL queries per request, p95 under {TARGET_MS:.0f} ms",
                    header, rows)
    missed = [m for m in measurements if m.p95 >= TARGET_MS]
    print(f"\n{len(measurements) - len(missed)} of {len(measurements)} (URL, user, period) cases have p95 < "
          f"{TARGET_MS:.0f} ms" + (": missed by " + ", ".join(f"{m.user} {m.days}d {m.page} ({m.p95:.0f} ms)"
                                                                   for m in missed) if missed else "."))
    if args.json:
        with open(args.json, "w") as out:
            json.dump([m.__dict__ | {"median": m.median, "p95": m.p95} for m in measurements], out, indent=1)


if __name__ == "__main__":
    main()
