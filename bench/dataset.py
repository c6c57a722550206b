"""Generate the page-speed bench's dataset into a PostgreSQL database of its own.

    .venv/bin/python bench/dataset.py [--cost-records 10000000] [--gpu-samples 20000000]
                                      [--database-url postgres://postgres@127.0.0.1:5432/finops_bench_pages]
    .venv/bin/python bench/dataset.py --drop       # drop the bench database and stop

What it builds (the database is dropped, recreated and migrated first):
  * the demo organisation (`demo_organisation_create`, 4 teams, 12 workloads, their tag allocation
    rules and the leader `demo`), a team member `bench-member` of "Conversational AI", and the demo's
    costs off the bill, benchmarks, API prices, initiatives and checklist notes (`demo_tco_create`);
  * `--cost-records` hourly CostRecords over `--days` days ending yesterday, COPYed straight into
    finops_costrecord: the demo workloads' resources (EC2 GPU fleets, SageMaker, Bedrock, Vertex
    AI, Azure OpenAI, EBS, S3, egress) plus the platform services a real bill carries (EKS, NAT
    gateways, CloudWatch, RDS, Lambda, BigQuery, Azure Monitor, ...), growing over time; 8% of
    tagged instances lack their tags (unallocated), 15% are `env=staging`, 0.2% of rows are credits.
    The workload and the TCO fields of each kind of row are decided by the real services
    (`cost_records_allocate`, `cost_records_classify`) run on one probe row per kind;
  * the real DailySpend rollup, `daily_spend_refresh`, over the whole span (timed);
  * `--gpu-samples` GpuSamples of `--gpus` GPUs on 8-GPU hosts, one sample per GPU every
    `--gpu-interval-minutes`, ending with the bill, COPYed into finops_gpusample, assigned to
    workloads as `gpu_samples_assign` decides for each host (probe rows again), then the real
    GpuHourly rollup, `gpu_hourly_refresh` (timed);
  * InferenceVolumes per workload and day (`demo_volumes_store`) over the bill's span.
Memory stays bounded: rows are generated and COPYed `--chunk-rows` at a time. See bench/README.md.
"""

import argparse
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from common import (
    DEFAULT_DATABASE_URL,
    BenchDatabase,
    commit,
    database_name_check,
    decimal_text,
    django_setup,
    other_benchmarks_running,
    step,
    table_print,
)

SEED = 20260101
MEMBER_USERNAME = "bench-member"
MEMBER_TEAM = "Conversational AI"
UNTAGGED_SHARE = 0.08  # tagging gaps: instances of tagged workloads that lack their tags
STAGING_SHARE = 0.15
PARTIAL_HOUR_SHARE = 0.03  # instances started or stopped within the hour
CREDIT_SHARE = 0.002  # negative credit rows
BIG_TABLES = ("finops_costrecord", "finops_dailyspend", "finops_dailyresourcespend", "finops_gpusample",
              "finops_gpuhourly", "finops_gpuworkloadhourly", "finops_gpudevicedaily", "finops_inferencevolume")
ACCOUNTS = {"AWS": "111122223333", "Google Cloud": "01ABCD-23EF45-6789GH", "Microsoft": "8611537"}
REGIONS = {
    "AWS": ("us-east-1", "us-west-2", "eu-west-1"),
    "Google Cloud": ("us-central1", "europe-west4"),
    "Microsoft": ("eastus", "westeurope"),
}
COST_COLUMNS = (
    "ingest_run_id", "workload_id", "charge_period_start", "charge_period_end", "billing_period_start",
    "billing_period_end", "provider_name", "billing_account_id", "sub_account_id", "service_name",
    "service_category", "region_id", "resource_id", "resource_name", "resource_type", "sku_id",
    "charge_category", "charge_class", "charge_description", "consumed_quantity", "consumed_unit",
    "pricing_quantity", "pricing_unit", "list_cost", "contracted_cost", "billed_cost", "effective_cost",
    "billing_currency", "tags", "tco_category", "is_gpu", "managed_premium_share",
)
GPU_COLUMNS = (
    "ingest_run_id", "workload_id", "sampled_at", "host", "gpu_uuid", "mig_instance", "gpu_index",
    "pci_bus_id", "model_name", "pod", "namespace", "container", "utilization", "memory_utilization",
    "memory_used_mib", "memory_total_mib", "power_watts",
)
# The fields the allocation and TCO rules read: rows that agree on them get the same workload,
# TCO category, GPU flag and premium share.
SHAPE_FIELDS = (
    "provider_name", "service_category", "service_name", "sku_id", "charge_description",
    "resource_type", "consumed_unit", "tags", "billing_account_id", "sub_account_id",
)


# --- the catalogue: what a large organisation's bill is made of ---------------------------------


def _platform_resources():
    """Shared platform services no workload tag points at, and per-workload monitoring."""
    from finops.demo.organisation import Resource

    def r(provider, service, category, sku, kind, description, unit, price, daily, region=None, **kw):
        region = region or REGIONS[provider][0]
        return Resource(provider, service, category, sku, kind, description, unit, _d(price), _d(daily),
                        region=region, tagged=False, **kw)

    return (
        r("AWS", "Amazon Elastic Kubernetes Service", "Compute", "AmazonEKS-Hours:perCluster", "Cluster",
          "Amazon EKS cluster usage", "Hours", "0.10", "24", count=3),
        r("AWS", "Amazon Virtual Private Cloud", "Networking", "NatGateway-Hours", "NatGateway",
          "NAT Gateway Hours", "Hours", "0.045", "24", count=4),
        r("AWS", "Amazon Virtual Private Cloud", "Networking", "NatGateway-Bytes", "NatGateway",
          "NAT Gateway data processed", "GB", "0.045", "900"),
        r("AWS", "AmazonCloudWatch", "Management and Governance", "CW:MetricMonitorUsage", "Metrics",
          "CloudWatch metrics", "Metrics", "0.30", "60"),
        r("AWS", "Amazon Relational Database Service", "Databases", "InstanceUsage:db.r6g.xlarge", "DBInstance",
          "RDS db.r6g.xlarge Multi-AZ instance hour", "Hours", "0.96", "24", count=2),
        r("AWS", "Amazon DynamoDB", "Databases", "ReadRequestUnits", "Table",
          "DynamoDB read request units", "ReadRequestUnits", "0.00000025", "800000000"),
        r("AWS", "AWS Lambda", "Compute", "Lambda-GB-Second", "Function",
          "AWS Lambda GB-seconds", "GB-Seconds", "0.0000166667", "2500000"),
        r("AWS", "Amazon CloudFront", "Networking", "DataTransfer-Out-Bytes", "Distribution",
          "Data transfer out to the internet (CloudFront)", "GB", "0.085", "700"),
        r("AWS", "AWS Key Management Service", "Security", "KMS-Requests", "Key",
          "KMS requests", "Requests", "0.000003", "3000000"),
        r("AWS", "Amazon Elastic Block Store", "Storage", "EBS:SnapshotUsage", "Snapshot",
          "EBS snapshot storage", "GB-Months", "0.05", "400"),
        r("Google Cloud", "Cloud Storage", "Storage", "standard-storage-us-multi", "Bucket",
          "Standard Storage US Multi-region", "gibibyte month", "0.026", "500"),
        r("Google Cloud", "BigQuery", "Analytics", "bigquery-analysis", "Dataset",
          "Analysis (on-demand)", "tebibyte", "6.25", "3"),
        r("Google Cloud", "Cloud Logging", "Management and Governance", "log-volume", "Project",
          "Log Volume", "gibibyte", "0.50", "80"),
        r("Google Cloud", "Compute Engine", "Compute", "n2-core-americas", "Instance",
          "N2 Instance Core running in Americas", "Hours", "0.031611", "24", count=6),
        r("Google Cloud", "Networking", "Networking", "internet-egress-americas", "Network",
          "Network Internet Egress from Americas to Americas", "gibibyte", "0.12", "300"),
        r("Microsoft", "Azure Monitor", "Management and Governance", "log-analytics-ingestion", "Workspace",
          "Log Analytics data ingestion", "GB", "2.30", "25"),
        r("Microsoft", "Storage", "Storage", "hot-lrs-data-stored", "StorageAccount",
          "Hot LRS Data Stored", "GB/Month", "0.0208", "2000"),
        r("Microsoft", "Virtual Machines", "Compute", "D4s-v5", "VirtualMachine",
          "D4s v5", "Hours", "0.192", "24", count=4),
        r("Microsoft", "Bandwidth", "Networking", "standard-data-transfer-out", "Network",
          "Standard Data Transfer Out", "GB", "0.087", "250"),
    )


def _monitoring(spec):
    """Each workload's logs and metrics, billed where it runs and tagged like its instances."""
    from finops.demo.organisation import Resource

    provider = spec.resources[0].provider
    service, category, unit, price, daily = {
        "AWS": ("AmazonCloudWatch", "Management and Governance", "GB", "0.50", "30"),
        "Google Cloud": ("Cloud Logging", "Management and Governance", "gibibyte", "0.50", "20"),
        "Microsoft": ("Azure Monitor", "Management and Governance", "GB", "2.30", "6"),
    }[provider]
    return Resource(provider, service, category, f"logs-ingestion-{spec.slug}", "LogGroup",
                    "Log data ingestion", unit, _d(price), _d(daily), region=spec.resources[0].region)


def _d(text: str):
    from decimal import Decimal

    return Decimal(text)


@dataclass(frozen=True)
class CatalogueEntry:
    spec: object  # finops.demo.organisation.WorkloadSpec or None
    resource: object  # finops.demo.organisation.Resource

    @property
    def weight(self) -> float:
        """How many instances of it a bill has, relatively: fleets by their node count, storage
        and monitoring per volume or log group, a token meter once per account."""
        res = self.resource
        if res.unit == "Hours":
            return 2.0 * res.count
        return 0.5 if "tokens" in res.unit.lower() else 2.0


def catalogue() -> list[CatalogueEntry]:
    from finops.demo.organisation import UNALLOCATED_RESOURCES, WORKLOADS

    entries = [CatalogueEntry(spec, res) for spec in WORKLOADS for res in spec.resources]
    entries += [CatalogueEntry(spec, _monitoring(spec)) for spec in WORKLOADS]
    entries += [CatalogueEntry(None, res) for res in UNALLOCATED_RESOURCES + _platform_resources()]
    return entries


# --- cost records ------------------------------------------------------------------------------


@dataclass
class Instances:
    """Billed resource instances (a GPU node, a volume, a token meter), in the order they come into
    service as the organisation grows. Text columns hold one value per instance."""

    text: dict[str, list[str]]
    entry: np.ndarray  # index into the catalogue
    provider: np.ndarray  # index into PROVIDERS
    hourly: np.ndarray  # billed in Hours (1 per row) rather than by usage
    base_quantity: np.ndarray  # usage per hour, in 1e-4 units
    unit_price: np.ndarray  # list price in 1e-6 dollars, so quantity x price counts 1e-10 dollars
    discount_permille: np.ndarray
    right_sized_away: np.ndarray  # stops for the right-sizing the demo's initiative measures

    def __len__(self) -> int:
        return len(self.entry)


PROVIDERS = ("AWS", "Google Cloud", "Microsoft")


def instances_plan(rng: np.random.Generator, entries: list[CatalogueEntry], *, count: int) -> Instances:
    from django.utils.text import slugify

    from finops.demo.billing import RIGHT_SIZED_WORKLOAD

    weights = np.array([entry.weight for entry in entries])
    per_entry = np.ones(len(entries), dtype=np.int64)
    if count > len(entries):
        per_entry += rng.multinomial(count - len(entries), weights / weights.sum())
    # Every kind of resource early on, then the rest in random order: the bill grows by adding
    # instances of everything.
    first = list(range(len(entries)))
    rest = [i for i, n in enumerate(per_entry) for _ in range(n - 1)]
    picks = np.array(first + list(rng.permutation(rest)), dtype=np.int64)[:count]
    tagged_draw, staging_draw, region_draw = rng.random(count), rng.random(count), rng.integers(0, 6, count)
    text: dict[str, list[str]] = {name: [] for name in (
        "provider_name", "billing_account_id", "sub_account_id", "service_name", "service_category", "region_id",
        "resource_id", "resource_name", "resource_type", "sku_id", "charge_description", "consumed_unit", "tags",
    )}
    ordinal = np.zeros(len(entries), dtype=np.int64)
    right_sized_away = np.zeros(count, dtype=bool)
    for number, pick in enumerate(picks):
        spec, res = entries[pick].spec, entries[pick].resource
        regions = REGIONS[res.provider]
        region = res.region if region_draw[number] < 3 else regions[region_draw[number] % len(regions)]
        owner = spec.slug if spec else "shared"
        team = slugify(spec.team) if spec else "platform"
        tags = {}
        if spec and res.tagged and tagged_draw[number] >= UNTAGGED_SHARE:
            env = "staging" if staging_draw[number] < STAGING_SHARE else "prod"
            tags = {"env": env, "team": team, "workload": owner}
        sub_account = _sub_account(res.provider, team)
        suffix = hashlib.sha256(f"{owner}/{res.sku_id}/{number}".encode()).hexdigest()[:17]
        kind = res.resource_type.lower().replace(" ", "-")
        if res.provider == "AWS":
            resource_id = f"arn:aws:{kind}:{region}:{sub_account}:{kind}/{owner}-{suffix}"
        else:
            resource_id = f"{slugify(res.provider)}/{sub_account}/{owner}/{suffix}"
        values = {
            "provider_name": res.provider, "billing_account_id": ACCOUNTS[res.provider], "sub_account_id": sub_account,
            "service_name": res.service_name, "service_category": res.service_category, "region_id": region,
            "resource_id": resource_id, "resource_name": f"{owner}-{kind}-{number}", "resource_type": res.resource_type,
            "sku_id": res.sku_id, "charge_description": res.description, "consumed_unit": res.unit,
            "tags": json.dumps(tags, sort_keys=True),
        }
        for name, value in values.items():
            text[name].append(value)
        if spec and spec.slug == RIGHT_SIZED_WORKLOAD and res.unit == "Hours":
            right_sized_away[number] = ordinal[pick] % 2 == 1  # half the GPU nodes go
        ordinal[pick] += 1

    resources = [entries[pick].resource for pick in picks]
    return Instances(
        text=text,
        entry=picks,
        provider=np.array([PROVIDERS.index(res.provider) for res in resources]),
        hourly=np.array([res.unit == "Hours" for res in resources]),
        base_quantity=np.array([max(1, int(res.daily_quantity / 24 * 10_000)) for res in resources], dtype=np.int64),
        unit_price=np.array([int(res.unit_price * 10**10) // 10**4 or 1 for res in resources], dtype=np.int64),
        discount_permille=np.array([int(res.committed_discount * 1000) for res in resources], dtype=np.int64),
        right_sized_away=right_sized_away,
    )


def _sub_account(provider: str, team: str) -> str:
    digest = int(hashlib.sha256(f"{provider}/{team}".encode()).hexdigest()[:8], 16)
    return f"{digest % 10**12:012d}" if provider == "AWS" else f"{team}-{digest % 10**4:04d}"


def rows_per_day(days: list[date], total: int) -> np.ndarray:
    """Rows of each day: growing 5% a month, weekends 15% lower (autoscaled fleets, fewer
    jobs); exactly `total` in all (largest remainder)."""
    growth = 1.05 ** (np.arange(len(days)) / 30)
    weekday = np.array([0.85 if day.weekday() >= 5 else 1.0 for day in days])
    quota = growth * weekday / (growth * weekday).sum() * total
    rows = np.floor(quota).astype(np.int64)
    rows[np.argsort(rows - quota)[: total - rows.sum()]] += 1
    return rows


@dataclass(frozen=True)
class Classification:
    """Per instance: what the real allocation and TCO services decided for its kind of row."""

    workload_id: list[str]  # "" = unallocated (NULL)
    tco_category: list[str]
    is_gpu: list[str]
    premium_share: list[str]


def classification_probe(instances: Instances) -> Classification:
    """One probe CostRecord per distinct shape (the fields the rules read), run through
    `cost_records_allocate` and `cost_records_classify`, read back, then deleted."""
    from django.db import transaction

    from finops.models import CostRecord, IngestRun
    from finops.services.allocation import cost_records_allocate
    from finops.services.tco import cost_records_classify

    shapes = [tuple(instances.text[field][i] for field in SHAPE_FIELDS) for i in range(len(instances))]
    distinct = sorted(set(shapes))
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        run = IngestRun.objects.create(source="bench probe", status=IngestRun.Status.SUCCEEDED)
        CostRecord.objects.bulk_create(
            CostRecord(
                ingest_run=run, charge_period_start=moment, charge_period_end=moment, billing_period_start=moment,
                billing_period_end=moment, charge_category="Usage", billed_cost=0, effective_cost=0,
                billing_currency="USD", resource_id=str(number),
                **{field: json.loads(value) if field == "tags" else value for field, value in zip(SHAPE_FIELDS, shape)},
            )
            for number, shape in enumerate(distinct)
        )
        probes = CostRecord.objects.filter(ingest_run=run)
        cost_records_allocate(records=probes)
        cost_records_classify(records=probes)
        decided = {
            int(row["resource_id"]): row
            for row in probes.values("resource_id", "workload_id", "tco_category", "is_gpu", "managed_premium_share")
        }
        run.delete()
    index = {shape: number for number, shape in enumerate(distinct)}
    rows = [decided[index[shape]] for shape in shapes]
    return Classification(
        workload_id=["" if row["workload_id"] is None else str(row["workload_id"]) for row in rows],
        tco_category=[row["tco_category"] for row in rows],
        is_gpu=["t" if row["is_gpu"] else "f" for row in rows],
        premium_share=[str(row["managed_premium_share"]) for row in rows],
    )


@dataclass
class Loaded:
    label: str
    rows: int = 0
    seconds: float = 0.0
    detail: str = ""


def cost_records_load(db: BenchDatabase, *, total: int, days: list[date], chunk_rows: int, seed: int) -> Loaded:
    """Generate and COPY `total` hourly cost records over `days`, chunk by chunk."""
    import psycopg

    from finops.models import IngestRun

    rng = np.random.default_rng(seed)
    per_day = rows_per_day(days, total)
    active = -(-per_day // 24)  # instances billed each day, the last one for fewer hours
    entries = catalogue()
    right_sizing_start = len(days) - 30
    # Half the right-sized fleet stops for the last 30 days; the pool is large enough that the
    # busiest day still finds its instances.
    instances = instances_plan(rng, entries, count=int(active.max() * 1.05) + len(entries))
    decided = classification_probe(instances)
    months = sorted({day.replace(day=1) for day in days})
    runs = {
        (provider, month): IngestRun.objects.create(
            kind=IngestRun.Kind.BILLING, source=f"bench/{provider}/{month:%Y-%m}", format="focus",
            status=IngestRun.Status.SUCCEEDED,
        ).pk
        for provider in PROVIDERS for month in months
    }
    run_of = np.array([[runs[(provider, month)] for month in months] for provider in PROVIDERS], dtype=np.int64)
    month_bounds = [(month, (month + timedelta(days=32)).replace(day=1)) for month in months]
    month_start_text = pa.array([_timestamp(m) for m, _ in month_bounds])
    month_end_text = pa.array([_timestamp(e) for _, e in month_bounds])
    month_of_day = np.array([months.index(day.replace(day=1)) for day in days])
    constant = {name: pa.array(values, pa.string()) for name, values in instances.text.items()}
    constant |= {
        "workload_id": pa.array([value or None for value in decided.workload_id], pa.string()),
        "tco_category": pa.array(decided.tco_category, pa.string()),
        "is_gpu": pa.array(decided.is_gpu, pa.string()),
        "managed_premium_share": pa.array(decided.premium_share, pa.string()),
    }
    # Hour loads: business hours busier for usage meters.
    hour_load = np.array([1.3 if 8 <= h < 20 else 0.7 for h in range(24)])

    started = time.perf_counter()
    loaded = 0
    effective_units = 0
    with psycopg.connect(db.url) as connection:
        if db.is_superuser():
            # Foreign keys are right by construction (ids read back from the database); skipping
            # the per-row trigger checks halves the load time. Superuser only.
            connection.execute("SET session_replication_role = replica")
        indexes = indexes_drop(connection, "finops_costrecord")
        pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pending_rows = 0
        for day_index, day in enumerate(days):
            eligible = np.ones(len(instances), dtype=bool)
            if day_index >= right_sizing_start:
                eligible &= ~instances.right_sized_away
            chosen = np.flatnonzero(eligible)[: active[day_index]]
            instance = np.repeat(chosen, 24)[: per_day[day_index]]
            hour = np.tile(np.arange(24), len(chosen))[: per_day[day_index]]
            pending.append((np.full(len(instance), day_index), instance, hour))
            pending_rows += len(instance)
            if pending_rows >= chunk_rows or day_index == len(days) - 1:
                day_of_row, instance, hour = (np.concatenate(parts) for parts in zip(*pending, strict=True))
                pending, pending_rows = [], 0
                table, effective = _cost_chunk(
                    rng, instances, constant, days, day_of_row, instance, hour, hour_load=hour_load,
                    growth_days=day_of_row, run_of=run_of, month_of_day=month_of_day,
                    month_start_text=month_start_text, month_end_text=month_end_text,
                )
                _copy(connection, "finops_costrecord", COST_COLUMNS, table)
                connection.commit()
                loaded += table.num_rows
                effective_units += int(effective.sum())
                step(f"  cost records: {loaded:,} / {total:,} ({loaded / (time.perf_counter() - started):,.0f} rows/s)")
        step(f"  building {len(indexes)} indexes")
        indexes_started = time.perf_counter()
        indexes_create(connection, indexes)
        index_seconds = time.perf_counter() - indexes_started
    seconds = time.perf_counter() - started
    for (provider, month), run_id in runs.items():
        IngestRun.objects.filter(pk=run_id).update(rows_loaded=_count_of(run_id))
    _loaded_periods_record(list(runs.values()))
    return Loaded("cost records: generate + COPY + indexes", loaded, seconds,
                  f"{len(instances):,} instances, {len(entries)} kinds of resource, indexes {index_seconds:.0f} s, "
                  f"effective cost {effective_units / 10**10:,.2f} USD")


def _loaded_periods_record(run_ids: list[int]) -> None:
    """The billing periods each run loaded, as the loader records them (LoadedBillingPeriod):
    an ingest on top of the dataset finds what it restates, and its rollup the other runs'
    charges on the same days, through them."""
    from django.db.models import Max, Min

    from finops.models import CostRecord, LoadedBillingPeriod

    periods = (
        CostRecord.objects.filter(ingest_run_id__in=run_ids)
        .values("ingest_run_id", "provider_name", "billing_account_id", "billing_period_start")
        .annotate(first_charge_start=Min("charge_period_start"), last_charge_start=Max("charge_period_start"))
        .order_by()
    )
    LoadedBillingPeriod.objects.bulk_create(LoadedBillingPeriod(**period) for period in periods)


def _count_of(run_id: int) -> int:
    from finops.models import CostRecord

    return CostRecord.objects.filter(ingest_run_id=run_id).count()


def _cost_chunk(rng, instances: Instances, constant: dict, days: list[date], day_of_row, instance, hour, *,
                hour_load, growth_days, run_of, month_of_day, month_start_text, month_end_text):
    """The CostRecord columns of one chunk of rows, and their EffectiveCost in 1e-10 dollars.
    Amounts are integers until rendered, so every total is exact."""
    n = len(instance)
    hourly = instances.hourly[instance]
    growth = 1.05 ** (growth_days / 30)
    weekend = np.array([day.weekday() >= 5 for day in days])[day_of_row]
    usage = np.rint(instances.base_quantity[instance] * hour_load[hour] * growth * np.where(weekend, 0.62, 1.0)
                    * rng.lognormal(0.0, 0.15, n))
    partial_hour = rng.integers(1_000, 10_000, n)
    quantity = np.where(
        hourly, np.where(rng.random(n) < PARTIAL_HOUR_SHARE, partial_hour, 10_000), np.maximum(usage, 1)
    ).astype(np.int64)
    credit = rng.random(n) < CREDIT_SHARE
    list_cost = quantity * instances.unit_price[instance]
    effective = (list_cost * (1000 - instances.discount_permille[instance]) + 500) // 1000  # round half up
    # A credit refunds what an ordinary hour of that instance costs.
    refund = instances.base_quantity[instance] * instances.unit_price[instance]
    list_cost = np.where(credit, -refund, list_cost)
    effective = np.where(credit, -refund, effective)
    quantity = np.where(credit, 0, quantity)

    starts = np.array([np.datetime64(day, "s") for day in days])[day_of_row] + hour.astype("timedelta64[h]")
    take = pa.array(instance)
    month = pa.array(month_of_day[day_of_row])
    quantity_text = decimal_text(quantity, scale=4)
    effective_text = decimal_text(effective, scale=10)
    columns = {name: constant[name].take(take) for name in constant}
    columns |= {
        "ingest_run_id": pa.array(run_of[instances.provider[instance], month_of_day[day_of_row]]).cast(pa.string()),
        "charge_period_start": _timestamps(starts),
        "charge_period_end": _timestamps(starts + np.timedelta64(1, "h")),
        "billing_period_start": month_start_text.take(month),
        "billing_period_end": month_end_text.take(month),
        "charge_category": pc.if_else(pa.array(credit), "Credit", "Usage"),
        "charge_class": pa.array([""] * n, pa.string()),
        "consumed_quantity": quantity_text,
        "pricing_quantity": quantity_text,
        "pricing_unit": constant["consumed_unit"].take(take),
        "list_cost": decimal_text(list_cost, scale=10),
        "contracted_cost": effective_text,
        "billed_cost": effective_text,
        "effective_cost": effective_text,
        "billing_currency": pa.array(["USD"] * n, pa.string()),
    }
    return pa.table([columns[name] for name in COST_COLUMNS], names=list(COST_COLUMNS)), effective


def _timestamp(moment: date | datetime) -> str:
    return f"{moment:%Y-%m-%d} 00:00:00+00" if not isinstance(moment, datetime) else f"{moment:%Y-%m-%d %H:%M:%S}+00"


def _timestamps(values: np.ndarray) -> pa.Array:
    text = pa.array(values.astype("datetime64[s]")).cast(pa.string())
    return pc.binary_join_element_wise(text, "+00", "")


def indexes_drop(connection, table: str) -> list[str]:
    """Drop the table's secondary indexes and return their definitions: building an index once
    over the loaded rows is several times faster than growing it row by row during COPY. The
    primary key stays."""
    definitions = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (table,),
    ).fetchall()
    for name, _ in definitions:
        connection.execute(f"DROP INDEX {name}")
    connection.commit()
    return [definition for _, definition in definitions]


def indexes_create(connection, definitions: list[str]) -> None:
    connection.execute("SET maintenance_work_mem = '512MB'")
    for definition in definitions:
        connection.execute(definition)
    connection.commit()


def _copy(connection, table: str, columns: tuple[str, ...], rows: pa.Table) -> None:
    """COPY a table of text columns: CSV, where an empty unquoted field is NULL and a quoted
    empty one ("") is an empty string, as pyarrow writes them."""
    buffer = io.BytesIO()
    pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False))
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        view = buffer.getbuffer()
        for offset in range(0, len(view), 1 << 20):
            copy.write(view[offset : offset + (1 << 20)])


# --- GPU samples -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuHost:
    name: str
    workload: str | None  # demo workload slug whose `<slug>-node-*` rule takes it; None: spare
    gpus: int
    model: str
    memory_mib: int
    busy: float


# Hosts per demo GPU fleet (the demo's `finops.demo.usage.GPU_FLEETS` scaled up to 63 hosts),
# two spare hosts no rule matches.
HOST_WEIGHTS = {
    "llm-gateway": 20, "query-embeddings": 8, "summarizer": 6, "image-moderation": 6, "product-tagging": 6,
    "reranker": 5, "document-ocr": 5, "speech-to-text": 5, None: 2,
}
GPUS_PER_HOST = 8


def gpu_hosts(gpus: int) -> list[GpuHost]:
    from finops.demo.usage import GPU_FLEETS

    host_count = -(-gpus // GPUS_PER_HOST)
    names = list(HOST_WEIGHTS)
    weights = np.array([HOST_WEIGHTS[name] for name in names], dtype=float)
    quota = weights / weights.sum() * host_count
    per_fleet = np.floor(quota).astype(int)
    per_fleet[np.argsort(per_fleet - quota)[: host_count - per_fleet.sum()]] += 1
    hosts = []
    for slug, count in zip(names, per_fleet, strict=True):
        fleet = GPU_FLEETS[slug] if slug else GPU_FLEETS["llm-gateway"]
        for number in range(count):
            hosts.append(GpuHost(f"{slug or 'spare'}-node-{number:02d}", slug, GPUS_PER_HOST, fleet.gpu_model,
                                 fleet.memory_mib, fleet.busy if slug else 0.0))
    last = hosts[-1]
    hosts[-1] = GpuHost(last.name, last.workload, gpus - GPUS_PER_HOST * (host_count - 1), last.model,
                        last.memory_mib, last.busy)
    return hosts


def gpu_assignment_probe(hosts: list[GpuHost]) -> dict[str, str]:
    """host -> workload id ("" = unassigned), as `gpu_samples_assign` decides for one probe
    sample per host under the demo's `<slug>-node-*` rules."""
    from django.db import transaction

    from finops.demo.usage import demo_gpu_rules_create
    from finops.models import GpuSample, IngestRun
    from finops.services.gpu import gpu_samples_assign

    demo_gpu_rules_create()
    with transaction.atomic():
        run = IngestRun.objects.create(kind=IngestRun.Kind.GPU, source="bench probe", status=IngestRun.Status.SUCCEEDED)
        moment = datetime(2000, 1, 1, tzinfo=UTC)
        GpuSample.objects.bulk_create(
            GpuSample(ingest_run=run, sampled_at=moment, host=host.name, gpu_uuid="probe", utilization=0)
            for host in hosts
        )
        probes = GpuSample.objects.filter(ingest_run=run)
        gpu_samples_assign(samples=probes)
        decided = {row["host"]: "" if row["workload_id"] is None else str(row["workload_id"])
                   for row in probes.values("host", "workload_id")}
        run.delete()
    return decided


def gpu_samples_load(db: BenchDatabase, *, total: int, gpus: int, interval_minutes: int, end: date,
                     chunk_rows: int, seed: int) -> tuple[Loaded, datetime, datetime, list[str]]:
    """COPY `total` samples: each GPU sampled every `interval_minutes` up to the end of `end`."""
    import psycopg

    from finops.models import IngestRun

    rng = np.random.default_rng(seed + 1)
    hosts = gpu_hosts(gpus)
    assigned = gpu_assignment_probe(hosts)
    slots = [(host, index) for host in hosts for index in range(host.gpus)]
    steps = -(-total // len(slots))
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - timedelta(minutes=interval_minutes)
    first = last - timedelta(minutes=interval_minutes * (steps - 1))
    offset_seconds = rng.integers(0, min(60, interval_minutes * 60), len(slots))  # each GPU its own second
    uuid = []
    for host, index in slots:
        digest = hashlib.sha256(f"{host.name}/{index}".encode()).hexdigest()
        uuid.append(f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}")
    constant = {
        "workload_id": pa.array([assigned[host.name] or None for host, _ in slots], pa.string()),
        "host": pa.array([host.name for host, _ in slots]),
        "gpu_uuid": pa.array(uuid),
        "gpu_index": pa.array([str(index) for _, index in slots]),
        "pci_bus_id": pa.array([f"00000000:{index * 8 + 7:02X}:00.0" for _, index in slots]),
        "model_name": pa.array([host.model for host, _ in slots]),
        "memory_total_mib": pa.array([float(host.memory_mib) for host, _ in slots]).cast(pa.string()),
    }
    busy = np.array([host.busy for host, _ in slots])
    memory = np.array([host.memory_mib for host, _ in slots], dtype=float)
    day_runs: dict[date, int] = {}
    steps_per_chunk = max(1, chunk_rows // len(slots))
    started = time.perf_counter()
    loaded = 0
    with psycopg.connect(db.url) as connection:
        if db.is_superuser():
            connection.execute("SET session_replication_role = replica")
        indexes = indexes_drop(connection, "finops_gpusample")
        for first_step in range(0, steps, steps_per_chunk):
            step_numbers = np.arange(first_step, min(first_step + steps_per_chunk, steps))
            # Rows of the last step beyond `total` are left out, so exactly `total` are written.
            at = (np.datetime64(first.replace(tzinfo=None), "s")
                  + (step_numbers * interval_minutes * 60).astype("timedelta64[s]"))
            grid_at = (at[:, None] + offset_seconds[None, :].astype("timedelta64[s]")).ravel()
            slot = np.tile(np.arange(len(slots)), len(step_numbers))
            keep = (step_numbers[:, None] * len(slots) + np.arange(len(slots))[None, :]).ravel() < total
            grid_at, slot = grid_at[keep], slot[keep]
            hours = (grid_at.astype("datetime64[m]").astype(np.int64) / 60) % 24
            weekday = (grid_at.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
            daily = 1 + 0.45 * np.sin((hours - 9) / 24 * 2 * np.pi)
            utilization = np.clip(np.rint(100 * busy[slot] * daily * np.where(weekday >= 5, 0.7, 1.0)
                                          * rng.uniform(0.85, 1.15, len(slot))), 0, 100)
            # One delivery per day of logs, as a daily collector sends them.
            chunk_days, day_of_row = np.unique(grid_at.astype("datetime64[D]"), return_inverse=True)
            for day in chunk_days.astype(date):
                if day not in day_runs:
                    day_runs[day] = IngestRun.objects.create(
                        kind=IngestRun.Kind.GPU, source=f"bench/gpu/{day}", format="nvidia-smi",
                        status=IngestRun.Status.SUCCEEDED,
                    ).pk
            run_ids = np.array([day_runs[day] for day in chunk_days.astype(date)], dtype=np.int64)[day_of_row]
            take = pa.array(slot)
            empty = pa.array([""] * len(slot), pa.string())
            columns = {name: values.take(take) for name, values in constant.items()}
            columns |= {
                "ingest_run_id": pa.array(run_ids).cast(pa.string()),
                "sampled_at": _timestamps(grid_at),
                "mig_instance": empty, "pod": empty, "namespace": empty, "container": empty,
                "utilization": pa.array(utilization).cast(pa.string()),
                "memory_utilization": pa.array(np.rint(utilization * 0.4)).cast(pa.string()),
                "memory_used_mib": pa.array(np.rint(memory[slot] * np.minimum(0.95, 0.35 + utilization / 200))).cast(pa.string()),
                "power_watts": pa.array(np.round(60 + utilization * 2.4, 2)).cast(pa.string()),
            }
            _copy(connection, "finops_gpusample", GPU_COLUMNS,
                  pa.table([columns[name] for name in GPU_COLUMNS], names=list(GPU_COLUMNS)))
            connection.commit()
            loaded += len(slot)
            step(f"  GPU samples: {loaded:,} / {total:,} ({loaded / (time.perf_counter() - started):,.0f} rows/s)")
        step(f"  building {len(indexes)} indexes")
        indexes_started = time.perf_counter()
        indexes_create(connection, indexes)
        index_seconds = time.perf_counter() - indexes_started
    seconds = time.perf_counter() - started
    for day, run_id in day_runs.items():
        from finops.models import GpuSample

        IngestRun.objects.filter(pk=run_id).update(rows_loaded=GpuSample.objects.filter(ingest_run_id=run_id).count())
    span_end = last + timedelta(seconds=int(offset_seconds.max()))
    return (
        Loaded("GPU samples: generate + COPY + indexes", loaded, seconds,
               f"{len(slots)} GPUs on {len(hosts)} hosts, every {interval_minutes} min, indexes {index_seconds:.0f} s, "
               f"{first:%Y-%m-%d %H:%M} "
               f"to {last:%Y-%m-%d %H:%M} UTC"),
        first, span_end, [host.name for host in hosts],
    )


# --- the rest of the organisation --------------------------------------------------------------


def organisation_create() -> None:
    """The demo organisation and its leader `demo`, and a member of one team."""
    from django.contrib.auth import get_user_model

    from finops.demo.organisation import demo_organisation_create
    from finops.models import Team, TeamMembership

    demo_organisation_create(password="bench-demo-password")
    member, _ = get_user_model().objects.get_or_create(username=MEMBER_USERNAME)
    member.set_password("bench-member-password")
    member.save()
    TeamMembership.objects.update_or_create(
        user=member, team=Team.objects.get(name=MEMBER_TEAM), defaults={"role": TeamMembership.Role.MEMBER}
    )


def timed(label: str, action) -> Loaded:
    started = time.perf_counter()
    rows = action()
    return Loaded(label, rows, time.perf_counter() - started)


def vacuum_analyze(db: BenchDatabase) -> None:
    """What autovacuum would do in time on a live install; pages are timed against fresh
    statistics and a visibility map that allows index-only scans."""
    for table in BIG_TABLES:
        db.psql(f"VACUUM (ANALYZE) {table}")


# --- main --------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cost-records", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=395, help="span of the bill, ending yesterday (~13 months)")
    parser.add_argument("--gpu-samples", type=int, default=20_000_000)
    parser.add_argument("--gpus", type=int, default=500, help="GPUs, 8 per host")
    parser.add_argument("--gpu-interval-minutes", type=int, default=1,
                        help="sampling interval; 20M samples of 500 GPUs at 1 min span ~28 days")
    parser.add_argument("--chunk-rows", type=int, default=250_000, help="rows generated and COPYed at a time")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--drop", action="store_true", help="drop the bench database and stop")
    args = parser.parse_args()
    database_name_check(args.database_url)
    if args.cost_records < 1 or args.gpu_samples < 0 or args.days < 31 or args.gpus < 1:
        parser.error("--cost-records >= 1, --gpu-samples >= 0, --days >= 31, --gpus >= 1")
    return args


def main() -> None:
    args = arguments()
    db = BenchDatabase(args.database_url)
    if args.drop:
        db.drop()
        step(f"dropped {db.name}")
        return
    busy = other_benchmarks_running()
    if busy:
        step(f"warning: other benchmarks are running, timings will be slower: {busy}")
    load_start = os.getloadavg()
    step(f"creating and migrating {db.name}")
    db.create_migrated()
    django_setup(args.database_url)
    from django.utils import timezone

    from finops.demo.tco import demo_tco_create
    from finops.demo.usage import demo_volumes_store
    from finops.services.gpu import gpu_hourly_refresh
    from finops.services.rollups import daily_spend_refresh

    end = timezone.localdate() - timedelta(days=1)
    days = [end - timedelta(days=args.days - 1 - offset) for offset in range(args.days)]
    step("demo organisation, TCO data, member user")
    organisation_create()
    results = []
    step(f"{args.cost_records:,} cost records over {days[0]} .. {end}")
    results.append(cost_records_load(db, total=args.cost_records, days=days, chunk_rows=args.chunk_rows, seed=args.seed))
    tz = timezone.get_default_timezone()
    first_charge = datetime.combine(days[0], datetime.min.time(), tzinfo=UTC)
    last_charge = datetime.combine(end, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
    db.psql("ANALYZE finops_costrecord")  # as autovacuum would after a bulk load
    step("DailySpend rollup (daily_spend_refresh)")
    results.append(timed("DailySpend rollup (daily_spend_refresh)",
                         lambda: daily_spend_refresh(earliest=first_charge.astimezone(tz), latest=last_charge)))
    if args.gpu_samples:
        step(f"{args.gpu_samples:,} GPU samples")
        gpu, first_sample, last_sample, hosts = gpu_samples_load(
            db, total=args.gpu_samples, gpus=args.gpus, interval_minutes=args.gpu_interval_minutes, end=end,
            chunk_rows=args.chunk_rows * 2, seed=args.seed,
        )
        results.append(gpu)
        db.psql("ANALYZE finops_gpusample")
        step("GpuHourly rollup (gpu_hourly_refresh)")
        results.append(timed("GpuHourly rollup (gpu_hourly_refresh)",
                             lambda: gpu_hourly_refresh(hosts=hosts, earliest=first_sample, latest=last_sample)))
    step("inference volumes, TCO demo data")
    results.append(timed("InferenceVolumes (demo_volumes_store)", lambda: demo_volumes_store(end=end, days=args.days)))
    demo_tco_create(end=end)
    step("VACUUM ANALYZE")
    results.append(timed("VACUUM ANALYZE of the big tables", lambda: vacuum_analyze(db) or 0))

    print(f"\nbench dataset in {db.name}: {args.cost_records:,} cost records over {args.days} days to {end}, "
          f"{args.gpu_samples:,} GPU samples; {os.cpu_count()} CPUs; code at {commit()} "
          "(plus uncommitted changes, if any)")
    print(f"load average at start {load_start[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
    table_print(
        "Generation and rollups",
        ["step", "rows", "seconds", "rows/s", "detail"],
        [[r.label, f"{r.rows:,}", f"{r.seconds:.1f}", f"{r.rows / r.seconds:,.0f}" if r.rows else "-", r.detail]
         for r in results],
    )
    table_print(
        "Tables (with indexes)",
        ["table", "rows", "MB"],
        [[table, f"{int(db.psql(f'SELECT count(*) FROM {table}')):,}", f"{db.table_megabytes(table):,.0f}"]
         for table in BIG_TABLES],
    )
    print(f"database {db.name}: {db.megabytes():,.0f} MB on disk. Drop it with: "
          f".venv/bin/python bench/dataset.py --drop --database-url {args.database_url}")


if __name__ == "__main__":
    main()
