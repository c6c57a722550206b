"""Benchmark `manage.py ingest_billing` against a plain PostgreSQL COPY of the same file.

    .venv/bin/python bench/ingest_billing.py [--rows 1000000] [--repeat 3] [--scale-rows 3000000]
                                             [--database-url postgres://postgres@127.0.0.1:5432/finops_bench]

It writes a synthetic FOCUS 1.2 export, then, `--repeat` times each (median reported):
  * raw:     `psql \\copy` of the file into a plain typed table (no indexes, no constraints): what
             PostgreSQL itself costs, the ceiling the product is measured against;
  * product: `manage.py ingest_billing FILE` in a subprocess on a freshly migrated database holding
             the demo organisation's 12 allocation rules; wall time, peak RSS, and an exact check
             (row count and SUM(effective_cost) against a Decimal total computed while generating).
Then one in-process run with timers around each phase, and one run on `--scale-rows` rows to show
that memory stays bounded. See bench/README.md.

The databases `<name>` and `<name>_template` are dropped and recreated; both are dropped at the end
unless --keep-databases is given.
"""

import argparse
import functools
import hashlib
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Project modules (finops.*, ingest.*, django.*) are imported inside the functions that use them:
# they need django.setup(), which runs only once the database URL is known (see django_setup).

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/finops_bench"
# Databases other people and the test suite own; the bench drops and recreates its own.
FORBIDDEN_DATABASES = {"postgres", "template0", "template1", "finops_ci", "finops_dev"}

SEED = 20250101
MONTH_START = datetime(2025, 1, 1, tzinfo=timezone.utc)
MONTH_END = datetime(2025, 2, 1, tzinfo=timezone.utc)
HOURS = int((MONTH_END - MONTH_START) / timedelta(hours=1))  # 744 hourly charge periods
CHUNK_ROWS = 200_000  # rows generated and written at a time, so a 3M-row file needs little memory
UNTAGGED_SHARE = 0.08  # tagging gaps: instances of tagged workloads that lack their tags
STAGING_SHARE = 0.15
PARTIAL_HOUR_SHARE = 0.03  # instances started or stopped within the hour
CREDIT_SHARE = 0.002  # negative credit rows, so the exact sum also covers signs
ACCOUNTS = {"AWS": "111122223333", "Google Cloud": "01ABCD-23EF45-6789GH", "Microsoft": "8611537"}
REGIONS = {
    "AWS": ("us-east-1", "us-west-2", "eu-west-1"),
    "Google Cloud": ("us-central1", "europe-west4"),
    "Microsoft": ("eastus", "westeurope"),
}
RAW_TABLE = "bench_raw_focus"


# --- synthetic FOCUS export ------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedExport:
    path: Path
    rows: int
    effective_total: Decimal  # exact, summed from the integers the amounts were rendered from
    megabytes: float


@dataclass(frozen=True)
class Instances:
    """Billed resource instances (a GPU node, a bucket, a token meter), one per 744 rows.

    `text` holds the columns that only depend on the instance; the numpy arrays drive the
    per-row amounts."""

    text: dict[str, pa.Array]
    hourly: np.ndarray  # billed in Hours (1 per row) rather than by usage
    base_quantity: np.ndarray  # usage per hour, in 1e-4 units
    unit_price: np.ndarray  # list price in 1e-6 dollars, so quantity x price counts 1e-10 dollars
    discount_permille: np.ndarray


def export_generate(path: Path, *, rows: int, seed: int = SEED) -> GeneratedExport:
    """Write `rows` hourly FOCUS rows of one billing month; vectorised, CHUNK_ROWS at a time."""
    from finops.demo.billing import FOCUS_HEADER

    rng = np.random.default_rng(seed)
    instances = _instances(rng, count=-(-rows // HOURS))
    hour_starts, hour_ends, hour_load = _hours()
    effective_units = 0
    schema = pa.schema([(name, pa.string()) for name in FOCUS_HEADER])
    with pacsv.CSVWriter(path, schema) as writer:
        for first in range(0, rows, CHUNK_ROWS):
            row = np.arange(first, min(first + CHUNK_ROWS, rows))
            columns, effective = _chunk(rng, instances, row // HOURS, row % HOURS, hour_load)
            columns |= {
                "ChargePeriodStart": hour_starts.take(pa.array(row % HOURS)),
                "ChargePeriodEnd": hour_ends.take(pa.array(row % HOURS)),
            }
            assert set(columns) == set(FOCUS_HEADER), set(columns) ^ set(FOCUS_HEADER)
            writer.write_table(pa.table([columns[name] for name in FOCUS_HEADER], schema=schema))
            effective_units += int(effective.sum())  # < 2**63 per chunk by a wide margin
    return GeneratedExport(
        path=path,
        rows=rows,
        effective_total=Decimal(effective_units).scaleb(-10),
        megabytes=path.stat().st_size / 1e6,
    )


def _catalogue() -> list[tuple[object, object]]:
    """(workload spec or None, resource) pairs: the demo organisation's 12 workloads on AWS,
    Google Cloud and Azure (EC2 GPUs, SageMaker, Bedrock, Vertex AI, Azure OpenAI, storage,
    egress) plus the shared spend no tag points at."""
    from finops.demo.organisation import UNALLOCATED_RESOURCES, WORKLOADS

    tagged = [(spec, res) for spec in WORKLOADS for res in spec.resources]
    return tagged + [(None, res) for res in UNALLOCATED_RESOURCES]


def _instances(rng: np.random.Generator, *, count: int) -> Instances:
    catalogue = _catalogue()
    picks = _resource_picks(rng, catalogue, count=count)
    tagged_draw, staging_draw, region_draw = rng.random(count), rng.random(count), rng.integers(0, 6, count)
    text: dict[str, list[str]] = defaultdict(list)
    for number, pick in enumerate(picks):
        spec, res = catalogue[pick]
        regions = REGIONS[res.provider]
        # Half the instances run in the resource's home region, the rest spread over the provider's.
        region = res.region if region_draw[number] < 3 else regions[region_draw[number] % len(regions)]
        values = _instance_text(
            spec,
            res,
            number=number,
            region=region,
            env="staging" if staging_draw[number] < STAGING_SHARE else "prod",
            tagged=tagged_draw[number] >= UNTAGGED_SHARE,
        )
        for name, value in values.items():
            text[name].append(value)

    resources = [catalogue[pick][1] for pick in picks]
    prices = np.array([int(res.unit_price * 1_000_000) for res in resources], dtype=np.int64)
    discounts = np.array([int(res.committed_discount * 1000) for res in resources], dtype=np.int64)
    columns = {name: pa.array(values, pa.string()) for name, values in text.items()}
    columns["ListUnitPrice"] = decimal_text(prices * 10_000, scale=10)
    columns["ContractedUnitPrice"] = decimal_text(prices * 10 * (1000 - discounts), scale=10)
    hourly_usage = [int(res.daily_quantity / 24 * 10_000) or 1 for res in resources]  # 1e-4 units
    return Instances(
        text=columns,
        hourly=np.array([res.unit == "Hours" for res in resources]),
        base_quantity=np.array(hourly_usage, dtype=np.int64),
        unit_price=prices,
        discount_permille=discounts,
    )


def _resource_picks(rng: np.random.Generator, catalogue: list, *, count: int) -> list[int]:
    """Which catalogue resource each of `count` instances is: every resource at least once,
    node-billed resources (GPU fleets) far more often than usage meters (tokens, GB)."""
    weights = np.array([3.0 * res.count if res.unit == "Hours" else 1.0 for _, res in catalogue])
    per_resource = np.ones(len(catalogue), dtype=np.int64)
    if count > len(catalogue):
        per_resource += rng.multinomial(count - len(catalogue), weights / weights.sum())
    return [i for i, n in enumerate(per_resource) for _ in range(n)][:count]


def _instance_text(spec, res, *, number: int, region: str, env: str, tagged: bool) -> dict[str, str]:
    """The FOCUS columns that stay the same on every hourly row of one instance."""
    from django.utils.text import slugify

    from finops.demo.billing import SERVICE_SUBCATEGORIES, demo_invoice_id

    owner = spec.slug if spec else "shared"
    team = slugify(spec.team) if spec else "platform"
    tags = "{}"
    if spec and res.tagged and tagged:
        tags = json.dumps({"env": env, "team": team, "workload": owner}, sort_keys=True)
    sub_account = _sub_account(res.provider, team)
    suffix = hashlib.sha256(f"{owner}/{res.sku_id}/{number}".encode()).hexdigest()[:17]
    kind = res.resource_type.lower().replace(" ", "-")
    if res.provider == "AWS":
        resource_id = f"arn:aws:{kind}:{region}:{sub_account}:{kind}/{owner}-{suffix}"
    else:
        resource_id = f"{slugify(res.provider)}/{sub_account}/{owner}/{suffix}"
    return {
        "BillingAccountId": ACCOUNTS[res.provider],
        "BillingAccountName": "Example Corp",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _iso(MONTH_END),
        "BillingPeriodStart": _iso(MONTH_START),
        "ChargeClass": "",
        "ChargeDescription": res.description,
        "ChargeFrequency": "Usage-Based",
        "ConsumedUnit": res.unit,
        "InvoiceId": demo_invoice_id(res.provider, MONTH_START.date()),
        "InvoiceIssuerName": res.provider,
        "PricingCategory": "Committed" if res.committed_discount else "Standard",
        "PricingUnit": res.unit,
        "ProviderName": res.provider,
        "PublisherName": res.provider,
        "RegionId": region,
        "RegionName": region,
        "ResourceId": resource_id,
        "ResourceName": f"{owner}-{kind}-{number}",
        "ResourceType": res.resource_type,
        "ServiceCategory": res.service_category,
        "ServiceName": res.service_name,
        "ServiceSubcategory": SERVICE_SUBCATEGORIES[res.service_name],
        "SkuId": res.sku_id,
        "SkuPriceId": f"{res.sku_id}:{region}",
        "SubAccountId": sub_account,
        "SubAccountName": f"{team} ({res.provider})",
        "Tags": tags,
    }


def _chunk(
    rng: np.random.Generator,
    instances: Instances,
    instance: np.ndarray,
    hour: np.ndarray,
    hour_load: np.ndarray,
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The columns of one chunk of rows and their EffectiveCost in 1e-10 dollars.

    Amounts are integers counting 1e-10 dollars until rendered, so the expected total is exact."""
    n = len(instance)
    hourly = instances.hourly[instance]
    partial_hour = rng.integers(1_000, 10_000, n)
    usage = np.rint(instances.base_quantity[instance] * hour_load[hour] * rng.lognormal(0.0, 0.15, n))
    quantity = np.where(
        hourly, np.where(rng.random(n) < PARTIAL_HOUR_SHARE, partial_hour, 10_000), np.maximum(usage, 1)
    ).astype(np.int64)
    credit = rng.random(n) < CREDIT_SHARE
    quantity[credit] = 0
    list_cost = quantity * instances.unit_price[instance]
    effective = (list_cost * (1000 - instances.discount_permille[instance]) + 500) // 1000  # round half up
    # A credit refunds what an ordinary hour of that instance costs.
    refund = instances.base_quantity[instance] * instances.unit_price[instance]
    list_cost = np.where(credit, -refund, list_cost)
    effective = np.where(credit, -refund, effective)

    take = pa.array(instance)
    columns = {name: values.take(take) for name, values in instances.text.items()}
    quantity_text, effective_text = decimal_text(quantity, scale=4), decimal_text(effective, scale=10)
    columns |= {
        "BilledCost": effective_text,
        "ChargeCategory": pc.if_else(pa.array(credit), "Credit", "Usage"),
        "ConsumedQuantity": quantity_text,
        "ContractedCost": effective_text,
        "EffectiveCost": effective_text,
        "ListCost": decimal_text(list_cost, scale=10),
        "PricingQuantity": quantity_text,
    }
    return columns, effective


def _hours() -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Start and end text of every hour of the month, and a usage factor per hour
    (business hours busier, weekends quieter) for usage-billed meters."""
    starts = [MONTH_START + timedelta(hours=h) for h in range(HOURS)]
    weekday = np.array([0.62 if s.weekday() >= 5 else 1.0 for s in starts])
    load = weekday * np.array([1.3 if 8 <= s.hour < 20 else 0.7 for s in starts])
    return (
        pa.array([_iso(s) for s in starts]),
        pa.array([_iso(s + timedelta(hours=1)) for s in starts]),
        load,
    )


def decimal_text(units: np.ndarray, *, scale: int) -> pa.Array:
    """Exact plain decimal text ('-12.3400000000') of integers counting 10**-scale.
    (Arrow's own decimal-to-text switches to exponents such as '5E-10' for small values.)"""
    magnitude = np.abs(units)
    whole = pa.array(magnitude // 10**scale).cast(pa.string())
    fraction = pc.utf8_lpad(pa.array(magnitude % 10**scale).cast(pa.string()), width=scale, padding="0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    return pc.if_else(pa.array(units < 0), pc.binary_join_element_wise("-", text, ""), text)


def _sub_account(provider: str, team: str) -> str:
    digest = int(hashlib.sha256(f"{provider}/{team}".encode()).hexdigest()[:8], 16)
    return f"{digest % 10**12:012d}" if provider == "AWS" else f"{team}-{digest % 10**4:04d}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- databases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Databases:
    """The bench database and the migrated template each run is cloned from (cloning takes
    a second; migrating takes several)."""

    url: str

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    @property
    def template(self) -> str:
        return f"{self.name}_template"

    def url_of(self, name: str) -> str:
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def psql(self, *commands: str, database: str | None = None) -> str:
        """Run each command as its own statement (CREATE DATABASE refuses a transaction block)."""
        args = ["psql", self.url_of(database or self.name), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        for command in commands:
            args += ["-c", command]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def recreate(self, name: str, *, template: str | None = None) -> None:
        clone = f" TEMPLATE {template}" if template else ""
        drop, create = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}{clone}"
        self.psql(drop, create, database="postgres")

    def drop_all(self) -> None:
        for name in (self.name, self.template):
            self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", database="postgres")

    def checkpoint(self) -> None:
        """Flush dirty pages left by the previous step, so no measurement pays for another's
        writes. Needs superuser (or pg_checkpoint); skipped without it."""
        try:
            self.psql("CHECKPOINT")
        except subprocess.CalledProcessError:
            pass


def template_prepare(dbs: Databases) -> None:
    """Migrate the template and give it the demo organisation (12 tag allocation rules)."""
    dbs.recreate(dbs.template)
    env = _django_env(dbs.url_of(dbs.template))
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=PROJECT, env=env, check=True)
    create = "from finops.demo.organisation import demo_organisation_create; demo_organisation_create()"
    subprocess.run([*manage, "shell", "-v", "0", "-c", create], cwd=PROJECT, env=env, check=True)


def _django_env(database_url: str) -> dict[str, str]:
    # No broker: Celery tasks the ingest queues (spike detection) run eagerly, in the measured
    # process, as on a default install, instead of depending on whatever the caller's env has.
    pinned = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "finops.settings", "DEBUG": "false"}
    return {**os.environ, **pinned, "REDIS_URL": "", "CELERY_BROKER_URL": ""}


# --- measurements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    rows: int
    peak_rss_mb: float | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def raw_copy_run(dbs: Databases, export: GeneratedExport) -> Run:
    """`psql \\copy` into a plain typed table: no indexes, no constraints, no Python."""
    from finops.demo.billing import FOCUS_HEADER

    columns = ", ".join(f"{_snake(name)} {_raw_type(name)}" for name in FOCUS_HEADER)
    dbs.psql(f"DROP TABLE IF EXISTS {RAW_TABLE}", f"CREATE TABLE {RAW_TABLE} ({columns})")
    dbs.checkpoint()
    copy = f"\\copy {RAW_TABLE} FROM '{export.path}' WITH (FORMAT csv, HEADER true)"
    started = time.perf_counter()
    dbs.psql(copy)
    seconds = time.perf_counter() - started
    loaded = int(dbs.psql(f"SELECT count(*) FROM {RAW_TABLE}"))
    assert loaded == export.rows, f"raw COPY loaded {loaded} rows, expected {export.rows}"
    dbs.psql(f"DROP TABLE {RAW_TABLE}")
    return Run(seconds=seconds, rows=export.rows)


def _snake(focus_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in focus_name).lstrip("_")


def _raw_type(focus_name: str) -> str:
    # The product's CostRecord types: money numeric(24,10), quantities numeric(28,10).
    if focus_name.endswith(("Cost", "Price")):
        return "numeric(24,10)"
    if focus_name.endswith("Quantity"):
        return "numeric(28,10)"
    if focus_name.endswith(("PeriodStart", "PeriodEnd")):
        return "timestamptz"
    return "jsonb" if focus_name == "Tags" else "text"


# Runs a command and writes its peak RSS (KiB) to a file. Peak RSS is read in this small process,
# not in the bench: Linux starts a spawned child's ru_maxrss from the RSS of the process that
# spawned it (the exec'd-away image counts), and the bench holds Django, pyarrow and the
# generator's buffers, several hundred MB that the ingest never used.
PEAK_RSS_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def product_run(dbs: Databases, export: GeneratedExport, work: Path) -> Run:
    """`manage.py ingest_billing FILE` in a subprocess on a fresh clone of the template, then
    an exact check of what it loaded."""
    dbs.recreate(dbs.name, template=dbs.template)
    dbs.checkpoint()
    log, peak_file = work / "ingest.log", work / "ingest.maxrss"
    command = [PYTHON, "manage.py", "ingest_billing", str(export.path)]
    with log.open("wb") as output:
        started = time.perf_counter()
        finished = subprocess.run(
            [PYTHON, "-c", PEAK_RSS_LAUNCHER, str(peak_file), *command],
            cwd=PROJECT,
            env=_django_env(dbs.url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"ingest_billing exited {finished.returncode}:\n{log.read_text()[-3000:]}")
    loaded_check(dbs, export)
    peak_kib = int(peak_file.read_text())  # ru_maxrss is in KiB on Linux
    return Run(seconds=seconds, rows=export.rows, peak_rss_mb=peak_kib / 1024)


def loaded_check(dbs: Databases, export: GeneratedExport) -> None:
    count, total = dbs.psql("SELECT count(*), sum(effective_cost) FROM finops_costrecord").split("|")
    assert int(count) == export.rows, f"{count} cost records, expected {export.rows}"
    expected = export.effective_total
    assert Decimal(total) == expected, f"SUM(effective_cost) {total} != {expected}"
    allocated = int(dbs.psql("SELECT count(*) FROM finops_costrecord WHERE workload_id IS NOT NULL"))
    classified = int(dbs.psql("SELECT count(*) FROM finops_costrecord WHERE tco_category <> ''"))
    assert 0 < allocated < export.rows and classified > 0, (allocated, classified)
    rolled_up, rows = dbs.psql("SELECT sum(effective_cost), sum(record_count) FROM finops_dailyspend").split("|")
    assert Decimal(rolled_up) == expected and int(rows) == export.rows, f"DailySpend: {rolled_up} in {rows} rows"


# --- phase breakdown -------------------------------------------------------------------------


class PhaseClock:
    """Seconds spent per phase, collected by wrapping the pipeline's own functions (patched in
    this process only, for one run)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def timed(self, phase: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started

        return wrapper

    def timed_iterator(self, phase: str, function: Callable[..., Iterator]) -> Callable[..., Iterator]:
        """Time only the work of producing each item, not what the consumer does in between."""

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            items = iter(function(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    self.seconds[phase] += time.perf_counter() - started
                yield item

        return wrapper


# Where time may go, as (phase, defining module, attribute, wrapper kind). The pipeline is being
# refactored, so alternatives for one phase are listed and names that no longer exist are skipped
# (and reported) rather than breaking the bench. Nested phases are split in `phases_measure`.
PHASE_TARGETS = (
    ("sha256 of the file", "ingest.sources", "_local_file", "call"),
    ("sha256 of the file", "ingest.services", "_sha256", "call"),
    ("read: CSV parse (pyarrow)", "ingest.readers.tabular", "iter_text_batches", "iterator"),
    ("read: text -> exact types", "ingest.readers.convert", "to_cost_batch", "call"),
    ("read: text -> exact types", "ingest.readers.tabular", "to_cost_batch", "call"),
    ("COPY (total)", "ingest.table_writer", "_copy", "call"),
    ("COPY (total)", "ingest.table_writer", "TableAppender.append", "call"),
    ("COPY (total)", "ingest.table_writer", "TableAppender._end", "call"),
    ("COPY: batch -> CSV text", "ingest.table_writer", "_csv", "call"),
    ("COPY: batch -> CSV text", "ingest.table_writer", "TableAppender._csv", "call"),
    ("waiting for the reader thread", "ingest.loader", "read_ahead", "iterator"),
    ("batch totals (LoadResult.add)", "ingest.loader", "LoadResult.add", "call"),
    ("DailySpend sums of the new rows (Arrow)", "ingest.loader", "RunSpendSums.add", "call"),
    ("DailySpend sums of the new rows (Arrow)", "ingest.loader", "RunSpendSums.presummed", "call"),
    ("replace earlier rows", "ingest.loader", "cost_periods_replace", "call"),
    ("replace earlier rows", "ingest.loader", "_period_replace", "call"),
    ("allocation + TCO rules at load time", "ingest.loader", "LoadTimeRules.outcome_columns", "call"),
    ("allocation (rule UPDATEs)", "finops.services.allocation", "cost_records_allocate", "call"),
    ("TCO classification (CASE UPDATE)", "finops.services.tco", "cost_records_classify", "call"),
    ("DailySpend rollup", "finops.services.rollups", "daily_spend_refresh", "call"),
    ("spike detection (eager task after COMMIT)", "finops.services.alert_detection", "spikes_detect", "call"),
)
# Phases the reader thread runs (ingest.loader.read_ahead), at the same time as the main thread's:
# reported on their own and left out of the main thread's total.
READER_THREAD_PHASES = {"read: CSV parse (pyarrow)", "read: text -> exact types"}


def phases_measure(
    dbs: Databases, export: GeneratedExport
) -> tuple[dict[str, float], float, list[str], dict[str, float]]:
    """One in-process `ingest_billing` with timers around each phase.

    Returns {phase: seconds}, the total, the phases whose functions could not be found, and the
    CPU seconds of the PostgreSQL backend and of this process over the run."""
    from django.core.management import call_command
    from django.db import connections

    dbs.recreate(dbs.name, template=dbs.template)
    dbs.checkpoint()
    clock = PhaseClock()
    found, patched = set(), set()
    with ExitStack() as patches:
        for phase, module_name, attribute, kind in PHASE_TARGETS:
            wrap = clock.timed_iterator if kind == "iterator" else clock.timed
            timed = functools.partial(wrap, phase)
            if _patch_everywhere(patches, module_name, attribute, timed, patched):
                found.add(phase)
        connection = connections["default"]
        timed_commit = clock.timed("COMMIT", connection.commit)
        patches.enter_context(mock.patch.object(connection, "commit", timed_commit))
        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        backend_cpu, process_cpu = _process_cpu_seconds(backend), time.process_time()
        started = time.perf_counter()
        quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
        call_command("ingest_billing", str(export.path), format="focus", **quiet)
        total = time.perf_counter() - started
        cpu = {
            "PostgreSQL backend": _process_cpu_seconds(backend) - backend_cpu,
            "this process, all threads": time.process_time() - process_cpu,
        }
    connections.close_all()  # the database is dropped or recreated next
    loaded_check(dbs, export)

    seconds = dict(clock.seconds)
    if "COPY (total)" in seconds:  # it contains the CSV serialisation; report the rest on its own
        serialising = seconds.get("COPY: batch -> CSV text", 0)
        seconds["waiting for PostgreSQL (COPY queue full, COPY end)"] = seconds.pop("COPY (total)") - serialising
    threaded = {phase: seconds.pop(phase) for phase in READER_THREAD_PHASES if phase in seconds}
    if "waiting for the reader thread" not in seconds:  # no reader thread: the reader runs in line
        seconds |= threaded
        threaded = {}
    seconds["other (Django, run bookkeeping)"] = total - sum(seconds.values())
    seconds |= {f"{phase} [reader thread, in parallel]": s for phase, s in threaded.items()}
    missing = sorted({phase for phase, *_ in PHASE_TARGETS} - found)
    return seconds, total, missing, cpu


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (the PostgreSQL backend serving this connection), from
    /proc; nan when the server runs on another machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _patch_everywhere(
    patches: ExitStack, module_name: str, attribute: str, wrap: Callable, patched: set[int]
) -> bool:
    """Replace a function by its wrapped self in its module and in every project module that
    imported it by name (`from x import f` binds its own reference). Methods are patched on
    their class. False when the name does not exist (any more). `patched` holds the ids of
    functions already wrapped, so a function re-exported under a second name is timed once."""
    try:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
    except (ImportError, AttributeError):
        return False
    if id(original) in patched:
        return True
    wrapped = wrap(original)
    patched.update((id(original), id(wrapped)))
    patches.enter_context(mock.patch.object(owner, name, wrapped))
    if not path:
        for module in list(sys.modules.values()):
            if module is not owner and getattr(module, "__name__", "").startswith(("ingest", "finops")):
                for bound, value in list(vars(module).items()):
                    if value is original:
                        patches.enter_context(mock.patch.object(module, bound, wrapped))
    return True


# --- report ----------------------------------------------------------------------------------


def table_print(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for cells in [header, ["-" * w for w in widths], *rows]:
        # First column left-aligned (labels), the others right-aligned (numbers).
        label, *numbers = (str(c) for c in cells)
        print("  ".join([label.ljust(widths[0]), *(n.rjust(w) for n, w in zip(numbers, widths[1:]))]))


def measurements_print(raw: list[Run], product: list[Run]) -> None:
    runs = [f"run {i + 1}" for i in range(len(raw))]
    median = statistics.median

    def line(label: str, values: list[float], fmt: str) -> list[str]:
        return [label, *(format(v, fmt) for v in values), format(median(values), fmt)]

    ratio = median([r.rows_per_second for r in product]) / median([r.rows_per_second for r in raw])
    peak = median([r.peak_rss_mb for r in product])
    table_print(
        f"Throughput, {raw[0].rows:,} rows (median of {len(raw)})",
        ["", *runs, "median"],
        [
            line("raw psql \\copy  seconds", [r.seconds for r in raw], ".2f"),
            line("raw psql \\copy  rows/s", [r.rows_per_second for r in raw], ",.0f"),
            line("ingest_billing  seconds", [r.seconds for r in product], ".2f"),
            line("ingest_billing  rows/s", [r.rows_per_second for r in product], ",.0f"),
            line("ingest_billing  peak RSS MB", [r.peak_rss_mb for r in product], ".0f"),
        ],
    )
    print(f"\nratio ingest/raw rows/s: {ratio:.2f}  (target >= 0.70: {'met' if ratio >= 0.7 else 'NOT met'})")
    verdict = "met" if peak < 300 else "NOT met"
    print(f"peak RSS of ingest_billing: {peak:.0f} MB  (target < 300 MB: {verdict})")


def phases_print(seconds: dict[str, float], total: float, rows: int, missing: list[str], cpu: dict[str, float]) -> None:
    main = sorted(((p, s) for p, s in seconds.items() if "[reader thread" not in p), key=lambda item: -item[1])
    reader = sorted(((p, s) for p, s in seconds.items() if "[reader thread" in p), key=lambda item: -item[1])
    table_print(
        f"Phase breakdown, one in-process run of {rows:,} rows ({total:.2f} s, {rows / total:,.0f} rows/s)",
        ["phase", "seconds", "share"],
        [[phase, f"{s:.2f}", f"{s / total:.0%}"] for phase, s in main]
        + [["total (main thread)", f"{total:.2f}", "100%"]]
        + [[phase, f"{s:.2f}", f"{s / total:.0%}"] for phase, s in reader],
    )
    if missing:
        print(f"(not timed: no function of theirs found in the code: {'; '.join(missing)})")
    print("CPU over the same run: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in cpu.items())
          + f" (wall {total:.2f} s, 2 cores: whichever is longest, plus what cannot overlap, sets the wall)")


def scale_print(runs: list[Run]) -> None:
    table_print(
        "Memory versus file size (ingest_billing subprocess)",
        ["rows", "seconds", "rows/s", "peak RSS MB"],
        [
            [f"{r.rows:,}", f"{r.seconds:.2f}", f"{r.rows_per_second:,.0f}", f"{r.peak_rss_mb:.0f}"]
            for r in runs
        ],
    )


# --- main --------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the measured file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median reported)")
    parser.add_argument(
        "--scale-rows", type=int, default=3_000_000, help="rows of the one memory run (0: skip)"
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--keep-databases", action="store_true", help="leave the databases for inspection")
    args = parser.parse_args()
    name = urlsplit(args.database_url).path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES or name.startswith("test"):
        parser.error(f"refusing to drop and recreate database {name!r}; name a database of the bench's own")
    return args


def django_setup(database_url: str) -> None:
    """The generator reuses the demo organisation's catalogue and the phase run calls the
    service in-process; both need Django configured for the bench database."""
    os.environ.update(_django_env(database_url))
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()


def _commit() -> str:
    try:  # read-only
        head = ["git", "rev-parse", "--short", "HEAD"]
        return subprocess.run(head, cwd=PROJECT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    args = arguments()
    django_setup(args.database_url)
    dbs = Databases(args.database_url)
    server = dbs.psql("SHOW server_version", database="postgres")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as workdir:
        work = Path(workdir)
        try:
            step(f"generating {args.rows:,} FOCUS rows")
            started = time.perf_counter()
            export = export_generate(work / f"focus-{args.rows}.csv", rows=args.rows)
            step(f"  {export.megabytes:,.0f} MB in {time.perf_counter() - started:.1f} s, "
                 f"EffectiveCost total {export.effective_total}")
            step(f"migrating template database {dbs.template} and creating the demo organisation")
            template_prepare(dbs)
            raw, product = [], []
            for attempt in range(1, args.repeat + 1):
                dbs.recreate(dbs.name, template=dbs.template)
                step(f"run {attempt}/{args.repeat}: raw psql \\copy")
                raw.append(raw_copy_run(dbs, export))
                step(f"  {raw[-1].seconds:.2f} s; run {attempt}/{args.repeat}: manage.py ingest_billing")
                product.append(product_run(dbs, export, work))
                last = product[-1]
                step(f"  {last.seconds:.2f} s, peak RSS {last.peak_rss_mb:.0f} MB, totals exact")
            step("phase breakdown (in-process run)")
            seconds, total, missing, cpu = phases_measure(dbs, export)
            scale = [sorted(product, key=lambda run: run.seconds)[len(product) // 2]]
            if args.scale_rows:
                export.path.unlink()  # the big file needs the disk space more
                step(f"generating {args.scale_rows:,} rows for the memory run")
                big = export_generate(work / f"focus-{args.scale_rows}.csv", rows=args.scale_rows)
                step(f"  {big.megabytes:,.0f} MB; manage.py ingest_billing")
                scale.append(product_run(dbs, big, work))
        finally:
            if not args.keep_databases:
                dbs.drop_all()

    print(f"\ningest_billing benchmark: {export.rows:,} FOCUS 1.2 rows, {export.megabytes:,.0f} MB CSV; "
          f"PostgreSQL {server}; {os.cpu_count()} CPUs; code at {_commit()} plus uncommitted changes, if any")
    # Other processes on the machine skew every figure; the load average says how much.
    print(f"load average at start {load_start[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
    measurements_print(raw, product)
    phases_print(seconds, total, export.rows, missing, cpu)
    scale_print(scale)


if __name__ == "__main__":
    main()
