"""Load test: gunicorn serving the dashboards and the API on the bench dataset (bench/dataset.py),
driven by a second process on loopback with `--users` concurrent users for `--duration` seconds.

    .venv/bin/python bench/load.py [--users 50] [--duration 60] [--workers 3]
                                   [--database-url postgres://postgres@127.0.0.1:5432/finops_bench_pages]

1. Starts `gunicorn finops.wsgi` (the Dockerfile's command: sync workers, `--workers` of them) on a
   free port of 127.0.0.1, with DEBUG off, DATABASE_URL at the bench database, DB_CONN_MAX_AGE=60
   (README: "60 suits gunicorn") and the API's per-user throttle raised out of the way (the test
   measures the server, not the throttle: 50 users on two accounts exceed 6000 requests/minute).
2. Signs in the demo leader and `bench-member` by creating their sessions in the database, as
   the login view would, and warms every URL once per worker.
3. Runs the load generator (this file with `--generate`) in a second process: `--users` threads,
   each a closed loop without think time (a new request as soon as the last one answered) over a
   weighted mix of dashboard pages, CSV downloads and API calls, 1 in 5 users the leader and the
   others the team member. Requests started in the last moment finish; `--timeout` bounds each.
4. Reports requests/s, p50/p95/p99 latency (overall and per URL) and errors (non-2xx, timeouts,
   connection errors), then stops gunicorn (SIGTERM, then SIGKILL after 20 s), also on Ctrl-C.
Only 127.0.0.1 is ever contacted.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from common import (
    DEFAULT_DATABASE_URL,
    PROJECT,
    BenchDatabase,
    commit,
    database_name_check,
    django_env,
    django_setup,
    other_benchmarks_running,
    percentile,
    step,
    table_print,
)

HOST = "127.0.0.1"
LEADER_SHARE = 0.2
LEADER_USERNAME, MEMBER_USERNAME = "demo", "bench-member"


def request_mix(*, workload_id: int, team_id: int, today) -> list[tuple[str, str, int]]:
    """(label, path with query, weight): mostly the default 30-day pages people open each morning,
    some longer periods, downloads and API calls."""
    start_30 = (today - timedelta(days=29)).isoformat()
    start_90 = (today - timedelta(days=89)).isoformat()
    end = today.isoformat()
    return [
        ("overview", "/", 10),
        ("overview 90d", "/?preset=90d", 3),
        ("spend team/day", "/spend/", 6),
        ("spend service/week 90d", "/spend/?group_by=service&granularity=week&preset=90d", 3),
        ("gpu", "/gpu/", 5),
        ("unit-costs", "/unit-costs/", 4),
        ("hidden-costs", "/hidden-costs/", 4),
        ("initiatives", "/initiatives/", 3),
        ("checklist", "/checklist/", 2),
        ("workload", f"/workloads/{workload_id}/", 5),
        ("team", f"/teams/{team_id}/", 3),
        ("spend.csv", "/spend/data.csv?group_by=service&granularity=day", 3),
        ("api spend 30d", f"/api/v1/spend/?start={start_30}&end={end}&group_by=service&granularity=day", 10),
        ("api spend 90d", f"/api/v1/spend/?start={start_90}&end={end}&group_by=workload&granularity=week", 4),
        ("api unit-costs 30d", f"/api/v1/unit-costs/?start={start_30}&end={end}", 6),
        ("api workloads", "/api/v1/workloads/", 3),
    ]


# --- the load generator (second process) -------------------------------------------------------


def generate(config: dict) -> dict:
    """Closed-loop users until the deadline; returns every request's (label, status, ms, error)."""
    port, cookies, mix = config["port"], config["cookies"], config["mix"]
    labels = [label for label, _, _ in mix]
    paths = {label: path for label, path, _ in mix}
    weights = [weight for _, _, weight in mix]
    results: list[tuple[str, int, float, str]] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + config["duration"]

    def user(number: int) -> None:
        rng = random.Random(number)
        cookie = cookies["leader"] if number < config["users"] * LEADER_SHARE else cookies["member"]
        mine = []
        while time.perf_counter() < deadline:
            label = rng.choices(labels, weights)[0]
            began = time.perf_counter()
            status, error = 0, ""
            connection = http.client.HTTPConnection(HOST, port, timeout=config["timeout"])
            try:
                connection.request("GET", paths[label], headers={"Cookie": cookie, "Host": HOST})
                response = connection.getresponse()
                response.read()
                status = response.status
            except TimeoutError:
                error = "timeout"
            except OSError as exc:
                error = type(exc).__name__
            finally:
                connection.close()
            mine.append((label, status, (time.perf_counter() - began) * 1000, error))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=user, args=(number,)) for number in range(config["users"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "requests": results}


# --- the orchestrator --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def sessions_create() -> dict[str, str]:
    """Cookie headers of a signed-in leader and member: sessions stored as the login view stores
    them (the log-in form itself is throttled by django-axes and not what is measured)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    cookies = {}
    for role, username in (("leader", LEADER_USERNAME), ("member", MEMBER_USERNAME)):
        user = get_user_model().objects.get(username=username)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies[role] = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
    return cookies


def gunicorn_start(database_url: str, *, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = django_env(database_url, DB_CONN_MAX_AGE="60", API_THROTTLE_USER="1000000/minute")
    command = [str(Path(sys.executable).parent / "gunicorn"), "finops.wsgi", "--bind", f"{HOST}:{port}",
               "--workers", str(workers), "--timeout", "120", "--graceful-timeout", "10"]
    with log.open("w") as output:
        # Its own session: a Ctrl-C in the terminal reaches the bench, which then stops gunicorn
        # in order (SIGTERM to the arbiter) rather than every process at once.
        return subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def gunicorn_stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def get(port: int, path: str, cookie: str, timeout: float = 60) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Cookie": cookie, "Host": HOST})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_ready(server: subprocess.Popen, port: int, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if get(port, "/healthz", "") == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer /healthz within {seconds:.0f} s:\n{log.read_text()[-2000:]}")


def report(outcome: dict, *, args, load: tuple[float, float], mix: list) -> None:
    requests = outcome["requests"]
    seconds = outcome["seconds"]
    ok = [r for r in requests if 200 <= r[1] < 300 and not r[3]]
    errors = Counter(r[3] or f"HTTP {r[1]}" for r in requests if not (200 <= r[1] < 300) or r[3])
    latencies = [r[2] for r in requests]
    print(f"\nload test: gunicorn finops.wsgi, {args.workers} sync workers on {HOST}; {args.users} concurrent users "
          f"(closed loop, no think time, {LEADER_SHARE:.0%} leader) for {args.duration} s from a second process; "
          f"{os.cpu_count()} CPUs shared by server, PostgreSQL and load generator; code at {commit()} "
          "(plus uncommitted changes, if any)")
    print(f"load average at start {load[0]:.2f}, at end {load[1]:.2f}")
    table_print(
        "Overall",
        ["requests", "seconds", "requests/s", "2xx", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[len(requests), f"{seconds:.1f}", f"{len(ok) / seconds:.1f}", len(ok), sum(errors.values()),
          f"{percentile(latencies, 0.5):.0f}", f"{percentile(latencies, 0.95):.0f}",
          f"{percentile(latencies, 0.99):.0f}", f"{max(latencies):.0f}"]],
    )
    by_label = defaultdict(list)
    for r in requests:
        by_label[r[0]].append(r)
    table_print(
        "Per URL (latency as seen by the client, queueing included)",
        ["URL", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"],
        [[label, len(rows), sum(1 for r in rows if not (200 <= r[1] < 300) or r[3]),
          f"{percentile([r[2] for r in rows], 0.5):.0f}", f"{percentile([r[2] for r in rows], 0.95):.0f}",
          f"{percentile([r[2] for r in rows], 0.99):.0f}"]
         for label, _, _ in mix if (rows := by_label.get(label))],
    )
    print("errors: " + (", ".join(f"{kind}: {count}" for kind, count in errors.items()) if errors else "none"))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="concurrent users")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (at most 600)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (the Dockerfile's 3)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds before a request counts as timed out")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # JSON config: run as the load generator
    args = parser.parse_args()
    if args.generate:
        return args
    database_name_check(args.database_url)
    if not (1 <= args.users <= 500 and 1 <= args.duration <= 600 and args.workers >= 1):
        parser.error("--users 1-500, --duration 1-600 seconds, --workers >= 1")
    return args


def main() -> None:
    args = arguments()
    if args.generate:
        json.dump(generate(json.loads(args.generate)), sys.stdout)
        return
    db = BenchDatabase(args.database_url)
    if not db.exists():
        raise SystemExit(f"no database {db.name}: run bench/dataset.py first")
    busy = other_benchmarks_running()
    if busy:
        step(f"warning: other benchmarks are running, figures will be lower: {busy}")
    django_setup(args.database_url)
    from django.utils import timezone

    from finops.models import Team, Workload

    cookies = sessions_create()
    mix = request_mix(workload_id=Workload.objects.get(slug="llm-gateway").pk,
                      team_id=Team.objects.get(name="Conversational AI").pk, today=timezone.localdate())
    from django.db import connections

    connections.close_all()
    port = free_port()
    log = Path(f"/tmp/bench-load-gunicorn-{port}.log")
    step(f"starting gunicorn on {HOST}:{port} ({args.workers} workers), log {log}")
    server = gunicorn_start(args.database_url, port=port, workers=args.workers, log=log)
    try:
        wait_ready(server, port, log)
        step("warming up every URL")
        for _ in range(args.workers):
            for label, path, _ in mix:
                for cookie in cookies.values():
                    status = get(port, path, cookie)
                    if status != 200:
                        raise SystemExit(f"warm-up GET {path} answered {status}")
        load_start = os.getloadavg()
        step(f"load: {args.users} users for {args.duration} s")
        config = {"port": port, "cookies": cookies, "mix": mix, "users": args.users, "duration": args.duration,
                  "timeout": args.timeout}
        generator = subprocess.run([sys.executable, __file__, "--generate", json.dumps(config)],
                                   capture_output=True, text=True, timeout=args.duration + args.timeout + 60)
        if generator.returncode:
            raise SystemExit(f"load generator failed:\n{generator.stderr[-2000:]}")
        outcome = json.loads(generator.stdout)
        load_end = os.getloadavg()
    finally:
        step("stopping gunicorn")
        gunicorn_stop(server)
    report(outcome, args=args, load=(load_start[0], load_end[0]), mix=mix)


if __name__ == "__main__":
    main()
