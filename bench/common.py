"""Pieces the page-speed benches share (bench/dataset.py, bench/pages.py, bench/load.py): the
bench database, Django set up against it, exact decimal text for COPY, and plain-text tables.

Project modules need django.setup(), which runs only once the database URL is known
(`django_setup`), so they are imported inside the functions that use them."""

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/finops_bench_pages"
# Databases other people, other benches and the test suite own.
FORBIDDEN_DATABASES = {
    "postgres", "finops_ci", "finops_dev", "finops_bench", "finops_bench_speed", "finops_alerts",
    "finops_gpu_bench",
}


def database_name_check(url: str) -> str:
    """The database name in `url`, or SystemExit when it is one the bench must never touch."""
    name = urlsplit(url).path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES or name.startswith(("template", "test")):
        raise SystemExit(f"refusing to use database {name!r}: name a database of the bench's own")
    return name


@dataclass(frozen=True)
class BenchDatabase:
    url: str

    @property
    def name(self) -> str:
        return database_name_check(self.url)

    def url_of(self, database: str) -> str:
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{database}"))

    def psql(self, *commands: str, database: str | None = None) -> str:
        """Each command as its own statement (CREATE DATABASE refuses a transaction block)."""
        args = ["psql", self.url_of(database or self.name), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        for command in commands:
            args += ["-c", command]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def exists(self) -> bool:
        found = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'", database="postgres")
        return found == "1"

    def drop(self) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)", database="postgres")

    def create_migrated(self) -> None:
        """A fresh database, migrated by `manage.py migrate` in a subprocess."""
        self.drop()
        self.psql(f"CREATE DATABASE {self.name}", database="postgres")
        migrate = [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, cwd=PROJECT, env=django_env(self.url), check=True)

    def megabytes(self) -> float:
        return int(self.psql(f"SELECT pg_database_size('{self.name}')")) / 1e6

    def table_megabytes(self, table: str) -> float:
        return int(self.psql(f"SELECT pg_total_relation_size('{table}')")) / 1e6

    def is_superuser(self) -> bool:
        return self.psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a Django process of the bench runs with: DEBUG off (no query log growing in
    memory), no Celery broker (tasks run eagerly, nothing depends on the caller's env), and the
    test client's host name allowed."""
    pinned = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "finops.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    return {**os.environ, **pinned, **extra}


def django_setup(database_url: str, **extra: str) -> None:
    os.environ.update(django_env(database_url, **extra))
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import django

    django.setup()


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def commit() -> str:
    try:  # read-only
        git = ["git", "rev-parse", "--short", "HEAD"]
        return subprocess.run(git, cwd=PROJECT, capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def other_benchmarks_running() -> list[str]:
    """Command lines of other bench/ scripts running now: their load skews every timing."""
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(part.decode(errors="replace") for part in argv if part)
        if "bench/ingest_" in line or "bench/alerts_eval" in line:
            found.append(line)
    return found


def decimal_text(units: np.ndarray, *, scale: int) -> pa.Array:
    """Exact plain decimal text ('-12.3400000000') of integers counting 10**-scale.
    (Arrow's own decimal-to-text switches to exponents such as '5E-10' for small values.)"""
    magnitude = np.abs(units)
    whole = pa.array(magnitude // 10**scale).cast(pa.string())
    fraction = pc.utf8_lpad(pa.array(magnitude % 10**scale).cast(pa.string()), width=scale, padding="0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    return pc.if_else(pa.array(units < 0), pc.binary_join_element_wise("-", text, ""), text)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1): a value that was actually measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def table_print(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for cells in [header, ["-" * w for w in widths], *rows]:
        first, *numbers = zip(cells, widths, strict=True)
        print("  ".join([str(first[0]).ljust(first[1]), *(str(c).rjust(w) for c, w in numbers)]))
