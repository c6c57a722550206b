"""Real processes for tests on loopback: a Celery worker on a private queue, sharing the test's
PostgreSQL database, and a private redis-server. Each is stopped by the test that started it."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import redis
from celery import Celery
from django.db import connection

ROOT = Path(__file__).parents[1]


def database_url() -> str:
    """The URL of the database the test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.05):
    """Poll `condition` until it returns something true, and return that; fail after `timeout`
    seconds, naming `what` was awaited. Generous timeouts keep a loaded machine from failing."""
    deadline = time.monotonic() + timeout
    while True:
        if value := condition():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(every)


class CeleryWorker:
    """`celery -A finops worker` consuming only `queue`, so it never steals tasks from, or
    feeds, another worker. It runs in a process group of its own, so that `kill()` takes the
    whole worker (main process and pool children) down at once, as a lost machine would."""

    def __init__(
        self,
        *,
        queue: str,
        broker_url: str,
        log: Path,
        result_backend: str | None = None,
        pool: str = "prefork",
        env: dict | None = None,
    ):
        self.queue = queue
        self.log = log
        self.command = [
            sys.executable, "-m", "celery", "-A", "finops", "worker", "--queues", queue,
            "--hostname", f"{queue}-{uuid.uuid4().hex[:6]}@%h", "--pool", pool, "--concurrency", "1",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip
        self.env = os.environ | {
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": result_backend or broker_url,
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryWorker":
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, *, timeout: float = 60) -> None:
        wait_until(self._ready, timeout=timeout, what="the worker to be ready")

    def pool_children(self) -> list[int]:
        """The pids of the prefork pool's processes (the ones that run tasks)."""
        return _children(self.process.pid)

    def kill(self) -> None:
        """SIGKILL the whole worker: no chance to finish, acknowledge or record anything."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it takes more than 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            try:  # pool children the main process left behind
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _ready(self) -> bool:
        return self._alive() and " ready." in self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.output()}")
        return True


def _children(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


class RedisServer:
    """A private redis-server on a free loopback port, writing every command to an append-only
    file in `directory` before answering, so a restart keeps every queued message."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._answers, timeout=30, what=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis flushes its append-only file and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.process.returncode}")
        try:
            with self.client() as client:
                return client.ping()
        except redis.ConnectionError:
            return False


def producer_app(broker_url: str) -> Celery:
    """A Celery app that sends tasks to `broker_url` and reads their results there, configured
    like the project's, without touching the project's app the rest of the suite uses."""
    app = Celery("tests-producer", broker=broker_url, backend=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    return app
