"""Fixtures of the fault tests: a private redis-server, Celery workers on a private queue that
share the test's PostgreSQL database, and FOCUS exports big enough to be caught mid-load."""

import os
import shutil
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.faults.focus_export import FocusExport, focus_export_write
from tests.workers import CeleryWorker, RedisServer, producer_app

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def postgresql_and_redis_server():
    if connection.vendor != "postgresql":
        pytest.skip("the fault tests run real workers on a database they share with the test: PostgreSQL")
    if not shutil.which("redis-server"):
        if os.environ.get("CI"):
            pytest.fail("CI must install redis-server (see .ci/run)")
        pytest.skip("the fault tests start a private redis-server: apt-get install redis-server")


@pytest.fixture
def redis_server(postgresql_and_redis_server, tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def producer(redis_server):
    app = producer_app(redis_server.url())
    yield app
    app.close()


class Workers:
    """Starts workers on one private queue of the private Redis; stops them all at the end."""

    def __init__(self, *, broker_url: str, tmp_path):
        self.queue = f"faults-{uuid.uuid4().hex[:12]}"
        self.broker_url = broker_url
        self.tmp_path = tmp_path
        self.started: list[CeleryWorker] = []

    def start(self, *, env: dict | None = None) -> CeleryWorker:
        log = self.tmp_path / f"worker-{len(self.started) + 1}.log"
        worker = CeleryWorker(queue=self.queue, broker_url=self.broker_url, log=log, env=env).start()
        self.started.append(worker)
        worker.wait_ready()
        return worker

    def stop_all(self) -> None:
        for number, worker in enumerate(self.started, start=1):
            worker.stop()
            print(f"--- worker {number} ---\n{worker.output()}")  # shown by pytest when the test fails


@pytest.fixture
def workers(redis_server, tmp_path):
    started = Workers(broker_url=redis_server.url(), tmp_path=tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def exports(tmp_path):
    """`exports(rows=..., seed=...)` writes a FOCUS export of October 2026 (one AWS account:
    each one restates the same billing period); the files are deleted after the test."""
    written = []

    def write(*, rows: int, seed: int, month: datetime = OCTOBER) -> FocusExport:
        path = tmp_path / "exports" / f"focus-{seed}.csv"
        export = focus_export_write(path, rows=rows, month=month, seed=seed)
        written.append(export.path)
        return export

    yield write
    for path in written:
        path.unlink(missing_ok=True)
