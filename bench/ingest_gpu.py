"""Benchmark `manage.py ingest_gpu` on a month of 1-minute nvidia-smi samples of a GPU fleet.

    .venv/bin/python bench/ingest_gpu.py [--gpus 500] [--days 30] [--interval-minutes 1]
                                         [--hosts-per-file 1] [--small-days 1] [--timeout-minutes 15]
                                         [--database-url postgres://postgres@127.0.0.1:5432/finops_gpu_bench]

It writes synthetic `nvidia-smi --query-gpu=... --format=csv` logs (8 GPUs per host, a fixed
seed, utilization shaped like inference, training, nightly batch and notebook fleets), then:
  * ingests them with `manage.py ingest_gpu FOLDER` in a subprocess on a freshly migrated
    database holding 10 workloads with host-pattern GpuAssignmentRules (two hosts match no rule):
    wall time, samples/s, peak RSS, and an exact check of what was loaded (sample count and
    utilization sum, one GpuHourly row per GPU-hour, per-GPU-hour shares adding up to 1, the
    samples each workload received);
  * does the same on a `--small-days` copy of the fleet, so that the two peak RSS figures show
    whether memory grows with the span ingested;
  * ingests the small copy once more in this process, with timers around the pipeline's
    phases (read, COPY, replace, assign, hourly rollup, commit).
See bench/README.md. The database named in the URL is dropped and recreated for every run and
dropped at the end (unless --keep-database).
"""

import argparse
import functools
import hashlib
import importlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/finops_gpu_bench"
# Databases that other people, other benches and the test suite own; this bench drops its own.
FORBIDDEN_DATABASES = {
    "postgres", "template0", "template1", "finops_ci", "finops_dev", "finops_bench", "finops_alerts",
}

SEED = 20261101
START = datetime(2026, 11, 1, tzinfo=timezone.utc)  # a Sunday; November has 30 days
GPUS_PER_HOST = 8
MINUTES_PER_DAY = 24 * 60
NVIDIA_SMI_HEADER = (  # as nvidia-smi (and `finops.demo.usage.NVIDIA_SMI_HEADER`) prints it
    "timestamp, name, pci.bus_id, uuid, utilization.gpu [%], utilization.memory [%], "
    "memory.total [MiB], memory.used [MiB], power.draw [W]"
)
POWER_SENSOR_GAP_SHARE = 0.0005  # power.draw reads "[N/A]" now and then; the sample still counts


# --- the fleet: pools of hosts, their workloads and GPUs ---------------------------------------


@dataclass(frozen=True)
class GpuModel:
    name: str
    memory_mib: int
    idle_watts: float
    max_watts: float


H100 = GpuModel("NVIDIA H100 80GB HBM3", 81559, 70.0, 700.0)
A100 = GpuModel("NVIDIA A100-SXM4-80GB", 81920, 50.0, 400.0)
L40S = GpuModel("NVIDIA L40S", 46068, 35.0, 350.0)
L4 = GpuModel("NVIDIA L4", 23034, 16.0, 72.0)
A10G = GpuModel("NVIDIA A10G", 23028, 15.0, 300.0)


@dataclass(frozen=True)
class Pool:
    """Hosts named `<prefix>-node-NN` serving one workload (None: spare hosts no rule matches)."""

    prefix: str
    workload: str | None
    team: str
    profile: str  # a key of PROFILES
    busy: float  # mean busy share, for the inference profile
    model: GpuModel
    weight: int  # hosts out of 63 (the 500-GPU fleet)


POOLS = (
    Pool("chat", "chat-assistant", "Assistant", "inference", 0.55, H100, 12),
    Pool("train", "llm-finetune", "Research", "training", 0.0, H100, 14),
    Pool("rag", "rag-search", "Search", "inference", 0.35, L40S, 6),
    Pool("embed", "embeddings", "Search", "inference", 0.25, L4, 6),
    Pool("rerank", "reranker", "Search", "inference", 0.20, A10G, 4),
    Pool("eval", "eval-batch", "Research", "nightly-batch", 0.0, A100, 6),
    Pool("vision", "image-generation", "Creative", "inference", 0.45, A100, 6),
    Pool("speech", "speech-to-text", "Creative", "inference", 0.30, A10G, 4),
    Pool("notebook", "research-notebooks", "Research", "notebook", 0.0, A100, 3),
    Pool("spare", None, "", "idle", 0.0, H100, 2),
)
# The tenth workload: one chat host runs the canary release. Its exact-host rule comes first
# (priority 10), so the `chat-node-*` rule must not take that host: first match wins.
CANARY_HOST, CANARY_WORKLOAD = "chat-node-01", "chat-assistant-canary"


@dataclass(frozen=True)
class Host:
    name: str
    pool: Pool
    gpus: int

    @property
    def workload(self) -> str | None:
        return CANARY_WORKLOAD if self.name == CANARY_HOST else self.pool.workload


def fleet_plan(gpus: int) -> list[Host]:
    """Hosts of 8 GPUs (the last one holds the remainder) spread over the pools by weight
    (largest remainder, so 63 hosts are exactly the weights)."""
    host_count = -(-gpus // GPUS_PER_HOST)
    weights = np.array([pool.weight for pool in POOLS], dtype=float)
    quota = weights / weights.sum() * host_count
    per_pool = np.floor(quota).astype(int)
    per_pool[np.argsort(per_pool - quota)[: host_count - per_pool.sum()]] += 1
    hosts = [
        Host(f"{pool.prefix}-node-{number:02d}", pool, GPUS_PER_HOST)
        for pool, count in zip(POOLS, per_pool, strict=True)
        for number in range(1, count + 1)
    ]
    remainder = gpus - GPUS_PER_HOST * (host_count - 1)
    hosts[-1] = Host(hosts[-1].name, hosts[-1].pool, remainder)
    return hosts


@dataclass(frozen=True)
class GpuSlot:
    """One GPU of one host: what nvidia-smi prints for it that never changes."""

    host: Host
    index: int

    @property
    def identity(self) -> str:
        """`name, pci.bus_id, uuid`, the constant middle of each of its lines."""
        digest = hashlib.sha256(f"{self.host.name}/{self.index}".encode()).hexdigest()
        uuid = f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        return f"{self.host.pool.model.name}, 00000000:{self.index * 8 + 7:02X}:00.0, {uuid}"


# --- utilization profiles ----------------------------------------------------------------------
# Each returns the utilization (0-100, before rounding) of one host's GPUs at the given sample
# times: `minutes` since START, shape (steps,); result shape (steps, gpus). Vectorised over the
# whole chunk; `rng` draws are per host and chunk, so a fixed seed gives the same files.

Rng = np.random.Generator
Profile = Callable[[np.ndarray, int, Rng, float], np.ndarray]


def _calendar(minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hour_of_day = (minutes / 60) % 24
    weekend = ((START.weekday() + minutes // MINUTES_PER_DAY) % 7) >= 5
    return hour_of_day, weekend


def inference_profile(minutes: np.ndarray, gpus: int, rng: Rng, busy: float) -> np.ndarray:
    """Traffic with a daily cycle (busiest mid-afternoon UTC), quieter weekends, minute-to-minute
    bursts shared by the host (one load balancer) and a per-GPU spread."""
    hour_of_day, weekend = _calendar(minutes)
    daily = 1 + 0.45 * np.sin((hour_of_day - 9) / 24 * 2 * np.pi)
    level = 100 * busy * daily * np.where(weekend, 0.7, 1.0) + rng.normal(0, 4, minutes.size)
    spread = rng.uniform(0.9, 1.1, gpus)
    return level[:, None] * spread + rng.normal(0, 6, (minutes.size, gpus))


def training_profile(minutes: np.ndarray, gpus: int, rng: Rng, busy: float) -> np.ndarray:
    """Saturated GPUs, a 3-minute dip at each hourly checkpoint, and on some days a job restart
    that leaves the host idle for 20-90 minutes."""
    level = np.full(minutes.size, 96.0)
    level[(minutes + rng.integers(0, 60)) % 60 < 3] = 8.0
    if rng.random() < 0.3:
        gap_start = minutes[0] + rng.integers(0, MINUTES_PER_DAY)
        level[(minutes >= gap_start) & (minutes < gap_start + rng.integers(20, 90))] = 0.0
    return level[:, None] + rng.normal(0, 2, (minutes.size, gpus))


def nightly_batch_profile(minutes: np.ndarray, gpus: int, rng: Rng, busy: float) -> np.ndarray:
    """Evaluation jobs from 01:00 to 06:00 UTC on weekdays, idle otherwise."""
    hour_of_day, weekend = _calendar(minutes)
    running = (hour_of_day >= 1) & (hour_of_day < 6) & ~weekend
    level = np.where(running, 88.0, 1.0)
    noise = np.where(running[:, None], 5.0, 0.5) * rng.standard_normal((minutes.size, gpus))
    return level[:, None] + noise


def notebook_profile(minutes: np.ndarray, gpus: int, rng: Rng, busy: float) -> np.ndarray:
    """Research notebooks: idle, except that in office hours each GPU is busy (30-90 %) for
    about a quarter of the hours, independently."""
    hour_of_day, weekend = _calendar(minutes)
    hours = (minutes // 60 - minutes[0] // 60).astype(np.int64)  # hour of the chunk of each sample
    bursts = rng.random((hours[-1] + 1, gpus)) < 0.25
    burst_level = rng.uniform(30, 90, (hours[-1] + 1, gpus))
    office = ((hour_of_day >= 8) & (hour_of_day < 19) & ~weekend)[:, None]
    level = np.where(office & bursts[hours], burst_level[hours], 1.0)
    return level + rng.normal(0, 3, (minutes.size, gpus))


def idle_profile(minutes: np.ndarray, gpus: int, rng: Rng, busy: float) -> np.ndarray:
    return np.zeros((minutes.size, gpus))


PROFILES: dict[str, Profile] = {
    "inference": inference_profile,
    "training": training_profile,
    "nightly-batch": nightly_batch_profile,
    "notebook": notebook_profile,
    "idle": idle_profile,
}


# --- nvidia-smi log files ----------------------------------------------------------------------


@dataclass
class GeneratedLogs:
    """What was written, and what the database must hold once it is ingested."""

    folder: Path
    days: float
    gpus: int
    hours: int  # distinct UTC hours holding samples (of every GPU)
    files: int = 0
    samples: int = 0
    utilization_sum: int = 0  # utilization is written as whole percents, so this sum is exact
    samples_per_workload: Counter = field(default_factory=Counter)  # slug or None -> samples
    bytes: int = 0
    seconds: float = 0.0

    @property
    def expected_hourly_rows(self) -> int:
        # Rules match by host, so every GPU-hour belongs to one workload: one rollup row each.
        return self.gpus * self.hours


def logs_generate(
    folder: Path, *, gpus: int, days: float, interval: int, hosts_per_file: int
) -> GeneratedLogs:
    """One nvidia-smi CSV per host (named `<host>_<date>.csv`, the host coming from the name),
    or with --hosts-per-file > 1 merged files with a `host` column, their lines interleaved by
    time as a collector merging several hosts writes them."""
    started = time.perf_counter()
    folder.mkdir(parents=True)
    steps = int(days * MINUTES_PER_DAY) // interval
    sample_minutes = np.arange(steps, dtype=np.int64) * interval
    logs = GeneratedLogs(folder, days, gpus, hours=np.unique(sample_minutes // 60).size)
    hosts = fleet_plan(gpus)
    for number, first in enumerate(range(0, len(hosts), hosts_per_file)):
        group = hosts[first : first + hosts_per_file]
        name = group[0].name if len(group) == 1 else f"fleet-{number:02d}"  # else a host column names them
        path = folder / f"{name}_{START:%Y-%m-%d}.csv"
        rng = np.random.default_rng([SEED, number])  # per file: the same file whatever came before
        logs.utilization_sum += _log_write(path, group, sample_minutes, interval, rng)
        logs.files += 1
        logs.bytes += path.stat().st_size
        for host in group:
            logs.samples_per_workload[host.workload] += steps * host.gpus
    logs.samples = sum(logs.samples_per_workload.values())
    logs.seconds = time.perf_counter() - started
    return logs


def _log_write(path: Path, hosts: list[Host], sample_minutes: np.ndarray, interval: int, rng: Rng) -> int:
    """Write one file a day at a time (bounded memory whatever the span); returns the sum of the
    utilization values written. The header is repeated each day, as when a collector restarts
    nvidia-smi daily and appends to the same file. Several hosts: a leading `host` column."""
    slots = _slot_constants([GpuSlot(host, index) for host in hosts for index in range(host.gpus)], rng)
    host_column = len(hosts) > 1
    header = (("host, " if host_column else "") + NVIDIA_SMI_HEADER + "\n").encode()
    steps_per_day = max(1, MINUTES_PER_DAY // interval)
    utilization_sum = 0
    with path.open("wb") as out:
        for first in range(0, sample_minutes.size, steps_per_day):
            minutes = sample_minutes[first : first + steps_per_day]
            grid = np.hstack([PROFILES[h.pool.profile](minutes, h.gpus, rng, h.pool.busy) for h in hosts])
            utilization = np.clip(np.rint(grid), 0, 100).astype(np.int64)  # nvidia-smi prints whole %
            utilization_sum += int(utilization.sum())
            out.write(header)
            out.write(_lines(minutes, utilization, slots, rng, host_column=host_column))
    return utilization_sum


@dataclass(frozen=True)
class _SlotConstants:
    """Per GPU slot of a file (one column of the utilization grid)."""

    host: pa.Array  # host name
    identity: pa.Array  # "name, pci.bus_id, uuid"
    offset_ms: np.ndarray  # when in the minute the host's nvidia-smi loop samples, + 2 ms per GPU
    memory_mib: np.ndarray
    memory_text: pa.Array  # "81920 MiB"
    idle_watts: np.ndarray
    max_watts: np.ndarray


def _slot_constants(slots: list[GpuSlot], rng: Rng) -> _SlotConstants:
    host_names = dict.fromkeys(s.host.name for s in slots)  # in order, once each
    host_offset_ms = {name: int(rng.integers(0, 30_000)) for name in host_names}
    memory = np.array([s.host.pool.model.memory_mib for s in slots])
    return _SlotConstants(
        host=pa.array([s.host.name for s in slots]),
        identity=pa.array([s.identity for s in slots]),
        offset_ms=np.array([host_offset_ms[s.host.name] + 2 * s.index for s in slots], dtype=np.int64),
        memory_mib=memory,
        memory_text=pa.array([f"{m} MiB" for m in memory]),
        idle_watts=np.array([s.host.pool.model.idle_watts for s in slots]),
        max_watts=np.array([s.host.pool.model.max_watts for s in slots]),
    )


def _lines(
    minutes: np.ndarray, utilization: np.ndarray, slots: _SlotConstants, rng: Rng, *, host_column: bool
) -> memoryview:
    """The CSV lines of a (steps, slots) utilization grid, time-major, as nvidia-smi prints
    them: `2026/11/01 12:00:01.123, NVIDIA ..., 00000000:07:00.0, GPU-..., 37 %, 15 %, 81920 MiB,
    48742 MiB, 310.35 W`. Built column-wise with Arrow: no Python per line."""
    steps, width = utilization.shape
    slot = pa.array(np.tile(np.arange(width), steps))
    util = utilization.ravel()
    memory_total = np.tile(slots.memory_mib, steps)
    # A loaded model holds memory whether busy or not; a GPU at 0 % here has nothing loaded.
    memory_used = np.where(util > 0, memory_total * np.minimum(0.95, 0.35 + util / 200), memory_total * 0.001)
    columns = [
        _timestamps(minutes, slots.offset_ms, rng),
        slots.identity.take(slot),
        _with_unit(_integer_text(util), "%"),
        _with_unit(_integer_text(np.rint(util * 0.4)), "%"),  # utilization.memory: memory controller busy
        slots.memory_text.take(slot),
        _with_unit(_integer_text(memory_used), "MiB"),
        _power(util, np.tile(slots.idle_watts, steps), np.tile(slots.max_watts, steps), rng),
    ]
    if host_column:
        columns.insert(0, slots.host.take(slot))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ", "), "", "\n")  # "line\n"
    return _string_bytes(lines)


def _timestamps(minutes: np.ndarray, offset_ms: np.ndarray, rng: Rng) -> pa.Array:
    """`2026/11/01 12:00:16.539` for each (step, slot). Arrow's strftime costs ~5 µs a value, so
    only the `YYYY/MM/DD HH:MM:` of each step goes through it; the seconds and milliseconds
    (the slot's offset in the minute plus the loop's jitter of a few ms, well short of the next
    minute) are assembled from integers."""
    steps, width = minutes.size, offset_ms.size
    step_start = pa.array(int(START.timestamp()) * 1000 + minutes * 60_000).cast(pa.timestamp("ms"))
    each_step = pa.array(np.repeat(np.arange(steps), width))
    prefix = pc.strftime(step_start, format="%Y/%m/%d %H:%M:").take(each_step)
    in_minute_ms = np.tile(offset_ms, steps) + np.repeat(rng.integers(0, 20, steps), width)
    seconds = pc.utf8_lpad(_integer_text(in_minute_ms // 1000), width=2, padding="0")
    millis = pc.utf8_lpad(_integer_text(in_minute_ms % 1000), width=3, padding="0")
    return pc.binary_join_element_wise(pc.binary_join_element_wise(prefix, seconds, ""), millis, ".")


def _power(util: np.ndarray, idle: np.ndarray, peak: np.ndarray, rng: Rng) -> pa.Array:
    """`310.35 W`: from idle to peak draw with utilization, and now and then `[N/A]`."""
    watts = np.minimum(peak, idle + util / 100 * (peak - idle) * rng.uniform(0.9, 1.05, util.size))
    hundredths = np.rint(watts * 100).astype(np.int64)
    whole = _integer_text(hundredths // 100)
    fraction = pc.utf8_lpad(_integer_text(hundredths % 100), width=2, padding="0")
    text = _with_unit(pc.binary_join_element_wise(whole, fraction, "."), "W")
    return pc.if_else(pa.array(rng.random(util.size) < POWER_SENSOR_GAP_SHARE), "[N/A]", text)


def _integer_text(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64)).cast(pa.string())


def _with_unit(text: pa.Array, unit: str) -> pa.Array:
    return pc.binary_join_element_wise(text, unit, " ")  # "37" -> "37 %"


def _string_bytes(strings: pa.Array) -> memoryview:
    """The concatenation of a null-free string array, without copying: the slice of its data
    buffer that its offsets span."""
    _, offsets, data = strings.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return memoryview(data)[bounds[0] : bounds[-1]]


# --- the bench database ------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    url: str

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def psql(self, *commands: str, database: str | None = None) -> str:
        """Each command as its own statement (CREATE DATABASE refuses a transaction block)."""
        url = urlunsplit(urlsplit(self.url)._replace(path=f"/{database or self.name}"))
        args = ["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        for command in commands:
            args += ["-c", command]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def drop(self) -> None:
        from django.db import connections

        connections.close_all()  # this process's own connection, if any
        self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)", database="postgres")

    def prepare(self, hosts: list[Host]) -> None:
        """A fresh database, migrated, with the fleet's workloads and assignment rules.
        (Migrating takes ~5 s; a fresh database per run keeps runs independent.)"""
        self.drop()
        self.psql(f"CREATE DATABASE {self.name}", database="postgres")
        migrate = [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, cwd=PROJECT, env=django_env(self.url), check=True)
        fleet_rules_create(hosts)

    def checkpoint(self) -> None:
        """Flush dirty pages left by the previous step, so that a measurement does not pay for
        another's writes. Needs superuser (or pg_checkpoint); skipped without it."""
        try:
            self.psql("CHECKPOINT")
        except subprocess.CalledProcessError:
            pass

    def sample_table_megabytes(self) -> float:
        return int(self.psql("SELECT pg_total_relation_size('finops_gpusample')")) / 1e6


def fleet_rules_create(hosts: list[Host]) -> None:
    """The workloads of the pools present, each with a `<prefix>-node-*` rule, plus the canary's
    exact-host rule ahead of them. Spare hosts match no rule and stay unassigned."""
    from finops.models import GpuAssignmentRule, Team, Workload

    pools = {host.pool.prefix: host.pool for host in hosts if host.pool.workload}
    for pool in pools.values():
        team, _ = Team.objects.get_or_create(name=pool.team, slug=pool.team.lower())
        workload = Workload.objects.create(
            team=team, name=pool.workload, slug=pool.workload, model_name=pool.model.name
        )
        pattern = f"{pool.prefix}-node-*"
        GpuAssignmentRule.objects.create(workload=workload, priority=100, host_pattern=pattern)
    if any(host.name == CANARY_HOST for host in hosts):
        team = Team.objects.get(slug="assistant")
        canary = Workload.objects.create(team=team, name=CANARY_WORKLOAD, slug=CANARY_WORKLOAD)
        GpuAssignmentRule.objects.create(workload=canary, priority=10, host_pattern=CANARY_HOST)


def loaded_check(db: BenchDatabase, logs: GeneratedLogs) -> None:
    """Exact checks of what one ingest loaded; raises AssertionError on the first mismatch."""
    runs = db.psql("SELECT string_agg(status, ','), sum(rows_loaded) FROM finops_ingestrun")
    status, loaded = runs.split("|")
    assert status == "succeeded" and int(loaded) == logs.samples, f"ingest runs: {status}, {loaded} rows"
    count, utilization = db.psql("SELECT count(*), sum(utilization)::bigint FROM finops_gpusample").split("|")
    assert int(count) == logs.samples, f"{count} GpuSample rows, generated {logs.samples}"
    assert int(utilization) == logs.utilization_sum, f"utilization {utilization} != {logs.utilization_sum}"
    hourly = int(db.psql("SELECT count(*) FROM finops_gpuhourly"))
    expected = logs.expected_hourly_rows
    assert hourly == expected, f"{hourly} GpuHourly rows, not {expected} ({logs.gpus} GPUs x {logs.hours} h)"
    # Each row's part of its GPU-hour is samples / gpu_samples: the parts of one GPU-hour must
    # add up to exactly one, i.e. their samples add up to the gpu_samples they all carry.
    bad_shares = db.psql(
        "SELECT count(*) FROM (SELECT sum(samples) AS parts, min(gpu_samples) AS low,"
        " max(gpu_samples) AS high FROM finops_gpuhourly GROUP BY hour, host, gpu_uuid) g"
        " WHERE parts <> low OR low <> high"
    )
    assert int(bad_shares) == 0, f"{bad_shares} GPU-hours whose shares do not add up to 1"
    per_workload = db.psql(
        "SELECT coalesce(w.slug, '-'), sum(h.samples) FROM finops_gpuhourly h"
        " LEFT JOIN finops_workload w ON w.id = h.workload_id GROUP BY 1 ORDER BY 1"
    )
    found = {slug: int(n) for slug, n in (line.split("|") for line in per_workload.splitlines())}
    wanted = {slug or "-": n for slug, n in logs.samples_per_workload.items()}
    assert found == wanted, f"samples per workload {found}, expected {wanted}"


# --- measured runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    label: str
    samples: int
    seconds: float
    peak_rss_mb: float
    sample_table_mb: float | None = None
    timed_out: bool = False
    progress: str = ""  # the command's last progress line, when it was stopped

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds


def ingest_subprocess(db: BenchDatabase, logs: GeneratedLogs, label: str, *, timeout: float | None) -> Run:
    """`manage.py ingest_gpu FOLDER` in a subprocess on a fresh database, then the exact checks.
    Wall time includes interpreter and Django start-up (~2 s), as an operator sees it."""
    db.prepare(fleet_plan(logs.gpus))
    db.checkpoint()
    log = logs.folder.with_suffix(".log")
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "manage.py", "ingest_gpu", str(logs.folder)],
            cwd=PROJECT, env=django_env(db.url), stdout=output, stderr=subprocess.STDOUT,
        )
        exit_code, usage, timed_out = _wait(process, timeout)
        seconds = time.perf_counter() - started
    peak_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    if timed_out:
        return Run(label, logs.samples, seconds, peak_rss_mb, timed_out=True, progress=_last_line(log))
    if exit_code != 0:
        raise RuntimeError(f"ingest_gpu exited {exit_code}:\n{log.read_text()[-3000:]}")
    loaded_check(db, logs)
    return Run(label, logs.samples, seconds, peak_rss_mb, sample_table_mb=db.sample_table_megabytes())


def _wait(process: subprocess.Popen, timeout: float | None) -> tuple[int, resource.struct_rusage, bool]:
    """Exit code, resource usage and whether it was stopped for running past `timeout`.

    os.wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would be a maximum over every
    child so far, psql and migrate included). It polls, so that a run can be stopped."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage, False
        if deadline is not None and time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage, True
        time.sleep(0.5)


def _last_line(log: Path) -> str:
    """The command rewrites its progress line with "\\r"; read bytes, as text mode reads "\\r" as "\\n"."""
    text = log.read_bytes().decode(errors="replace").replace("\n", "\r")
    return text.rstrip("\r").rsplit("\r", 1)[-1].strip()


# --- phase breakdown ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """A function whose calls are timed. `within` names the phase whose calls contain these, so
    that the table shows each phase's own time (its total less its inner phases')."""

    label: str
    module: str
    attribute: str  # "function" or "Class.method"
    within: str | None = None
    iterator: bool = False  # time only the producing of each item, not the consumer's work between


READ_WRITE = "read + write samples"
ROLLUP = "hourly rollup (gpu_hourly_refresh)"
PHASES = (
    Phase("sha256 of the files (listing the delivery)", "ingest.sources", "_local_file"),
    Phase(READ_WRITE, "ingest.gpu_loader", "gpu_batches_write"),
    Phase("read: nvidia-smi CSV -> Arrow", "ingest.gpu_readers.nvidia_smi", "_batches", READ_WRITE, True),
    Phase("COPY", "ingest.table_writer", "TableAppender.append", READ_WRITE),
    Phase("COPY: batch -> CSV text (pyarrow)", "pyarrow.csv", "write_csv", "COPY"),
    Phase("per-host spans (GpuLoadResult.add)", "ingest.gpu_loader", "GpuLoadResult.add", READ_WRITE),
    Phase("replace earlier samples (gpu_spans_replace)", "ingest.gpu_loader", "gpu_spans_replace"),
    Phase("assign to workloads (gpu_samples_assign)", "finops.services.gpu", "gpu_samples_assign"),
    Phase(ROLLUP, "finops.services.gpu", "gpu_hourly_refresh"),
    Phase("hourly rollup: INSERT (bulk_create)", "django.db.models.query", "QuerySet.bulk_create", ROLLUP),
)
COMMIT = "COMMIT (deferred FK checks run here)"
OTHER = "other (Django, run bookkeeping)"


class PhaseClock:
    """Seconds per phase and, for outer phases, how far the process's RSS rose above what it was
    when the phase started (its high-water mark is reset at each start; Linux only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rss_growth_mb: dict[str, float] = defaultdict(float)

    def timed(self, label: str, function: Callable, *, track_memory: bool = False) -> Callable:
        track_memory = track_memory and _rss_high_water_reset()

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if track_memory:
                _rss_high_water_reset()
                rss_at_start = _rss_mb("VmRSS")
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                if track_memory:
                    growth = _rss_mb("VmHWM") - rss_at_start
                    self.rss_growth_mb[label] = max(self.rss_growth_mb[label], growth)

        return wrapper

    def timed_iterator(self, label: str, function: Callable[..., Iterator]) -> Callable[..., Iterator]:
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
                    self.seconds[label] += time.perf_counter() - started
                yield item

        return wrapper

    def own_seconds(self) -> dict[str, float]:
        """Each phase's time less that of the phases within it."""
        own = dict(self.seconds)
        for phase in PHASES:
            if phase.within in own and phase.label in self.seconds:
                own[phase.within] -= self.seconds[phase.label]
        return own


def _rss_high_water_reset() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0]) / 1024  # kB


@dataclass(frozen=True)
class PhaseReport:
    seconds: dict[str, float]  # phase -> its own seconds
    rss_growth_mb: dict[str, float]  # outer phase -> peak RSS above the RSS at its start
    total: float
    samples: int
    missing: list[str]  # phases whose function was not found


def phases_measure(db: BenchDatabase, logs: GeneratedLogs) -> PhaseReport:
    """One in-process `ingest_gpu` with timers around each phase (patched in this process only)."""
    from django.core.management import call_command
    from django.db import connections

    db.prepare(fleet_plan(logs.gpus))
    db.checkpoint()
    clock = PhaseClock()
    missing = []
    with ExitStack() as patches:
        for phase in PHASES:
            if phase.iterator:
                wrap = functools.partial(clock.timed_iterator, phase.label)
            else:  # nested phases must not reset the high-water mark their outer phase reads
                wrap = functools.partial(clock.timed, phase.label, track_memory=phase.within is None)
            if not _patch_everywhere(patches, phase.module, phase.attribute, wrap):
                missing.append(phase.label)
        connection = connections["default"]
        commit = clock.timed(COMMIT, connection.commit, track_memory=True)
        patches.enter_context(mock.patch.object(connection, "commit", commit))
        started = time.perf_counter()
        call_command("ingest_gpu", str(logs.folder), stdout=io.StringIO(), stderr=io.StringIO())
        total = time.perf_counter() - started
    connections.close_all()
    loaded_check(db, logs)
    seconds = clock.own_seconds()
    seconds[OTHER] = total - sum(seconds.values())
    return PhaseReport(seconds, dict(clock.rss_growth_mb), total, logs.samples, missing)


def _patch_everywhere(patches: ExitStack, module_name: str, attribute: str, wrap: Callable) -> bool:
    """Replace a function by its wrapped self in its module and in every project module that
    bound it by name (`from x import f` keeps its own reference); methods on their class.
    False when the name does not exist (any more), so that a refactoring skips a phase rather
    than breaking the bench."""
    try:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
    except (ImportError, AttributeError):
        return False
    wrapped = wrap(original)
    patches.enter_context(mock.patch.object(owner, name, wrapped))
    if not path:
        for module in list(sys.modules.values()):
            if module is not owner and getattr(module, "__name__", "").startswith(("ingest", "finops")):
                for bound, value in list(vars(module).items()):
                    if value is original:
                        patches.enter_context(mock.patch.object(module, bound, wrapped))
    return True


# --- report ------------------------------------------------------------------------------------


def table_print(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for cells in [header, ["-" * w for w in widths], *rows]:
        first, *numbers = zip(cells, widths, strict=True)
        print("  ".join([str(first[0]).ljust(first[1]), *(str(c).rjust(w) for c, w in numbers)]))


def generation_print(all_logs: list[GeneratedLogs]) -> None:
    table_print(
        "Generated nvidia-smi logs",
        ["days", "files", "GPUs", "samples", "MB", "seconds", "samples/s"],
        [
            [f"{g.days:g}", g.files, g.gpus, f"{g.samples:,}", f"{g.bytes / 1e6:,.0f}", f"{g.seconds:.1f}",
             f"{g.samples / g.seconds:,.0f}"]
            for g in all_logs
        ],
    )


def runs_print(runs: list[Run]) -> None:
    table_print(
        "manage.py ingest_gpu FOLDER (subprocess; checks passed unless stopped)",
        ["run", "samples", "seconds", "samples/s", "peak RSS MB", "GpuSample table+indexes MB"],
        [
            [r.label + (" (STOPPED)" if r.timed_out else ""), f"{r.samples:,}", f"{r.seconds:.1f}",
             "-" if r.timed_out else f"{r.samples_per_second:,.0f}", f"{r.peak_rss_mb:.0f}",
             f"{r.sample_table_mb:,.0f}" if r.sample_table_mb else "-"]
            for r in runs
        ],
    )
    for r in runs:
        if r.timed_out:
            print(f"{r.label}: stopped after {r.seconds:.0f} s (--timeout-minutes), not checked; "
                  f"last progress: {r.progress!r}")


def phases_print(report: PhaseReport) -> None:
    seconds, total = report.seconds, report.total
    depth = {phase.label: 0 for phase in PHASES}
    for phase in PHASES:
        if phase.within:
            depth[phase.label] = depth[phase.within] + 1
    outer = {phase.within for phase in PHASES}
    rows = [
        ["  " * depth.get(label, 0) + label + (" (own)" if label in outer else ""),
         f"{seconds[label]:.2f}", f"{seconds[label] / total:.0%}",
         f"{report.rss_growth_mb[label]:.0f}" if label in report.rss_growth_mb else ""]
        for label in [p.label for p in PHASES] + [COMMIT, OTHER]
        if label in seconds
    ]
    table_print(
        f"Phase breakdown, one in-process run of {report.samples:,} samples "
        f"({total:.1f} s, {report.samples / total:,.0f} samples/s)",
        ["phase (indented: inside the one above)", "seconds", "share", "RSS growth MB"],
        rows + [["total", f"{total:.2f}", "100%", ""]],
    )
    print("RSS growth: how far the phase's peak RSS rose above the process's RSS when it started.")
    if report.missing:
        print(f"(not timed, function not found: {'; '.join(report.missing)})")


# --- main --------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpus", type=int, default=500, help="GPUs in the fleet, 8 per host")
    parser.add_argument("--days", type=float, default=30, help="span of the measured logs")
    parser.add_argument("--interval-minutes", type=int, default=1, help="sampling interval (1-60)")
    parser.add_argument("--hosts-per-file", type=int, default=1,
                        help="hosts per log file (> 1: merged files with a host column)")
    parser.add_argument("--small-days", type=float, default=1,
                        help="span of the smaller copy: memory comparison and phase breakdown (0: skip both)")
    parser.add_argument("--timeout-minutes", type=float, default=15,
                        help="stop a subprocess run that takes longer (0: never)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_GPU_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--keep-database", action="store_true",
                        help="leave the last run's database for inspection")
    args = parser.parse_args()
    name = urlsplit(args.database_url).path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES or name.startswith("test"):
        parser.error(f"refusing to drop and recreate database {name!r}; name a database of the bench's own")
    if not 1 <= args.interval_minutes <= 60:
        parser.error("--interval-minutes must be 1-60 (every hour must hold a sample of each GPU)")
    if args.gpus < 1 or args.hosts_per_file < 1 or args.days * MINUTES_PER_DAY < args.interval_minutes:
        parser.error("--gpus and --hosts-per-file must be >= 1, and --days must span one interval")
    return args


def django_env(database_url: str) -> dict[str, str]:
    # DEBUG off (no query log growing in memory); no broker, so nothing depends on the caller's env.
    pinned = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "finops.settings", "DEBUG": "false"}
    return {**os.environ, **pinned, "REDIS_URL": "", "CELERY_BROKER_URL": ""}


def django_setup(database_url: str) -> None:
    """Rules are created, and the phase run calls the command, in this process."""
    os.environ.update(django_env(database_url))
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _commit() -> str:
    try:  # read-only
        git = ["git", "rev-parse", "--short", "HEAD"]
        return subprocess.run(git, cwd=PROJECT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def measured_run(db: BenchDatabase, folder: Path, days: float, shape: dict, timeout: float | None) -> tuple:
    step(f"generating {days:g} day(s) of logs for {shape['gpus']} GPUs")
    logs = logs_generate(folder, days=days, **shape)
    step(f"  {logs.samples:,} samples, {logs.bytes / 1e6:,.0f} MB in {logs.seconds:.1f} s; "
         "manage.py ingest_gpu in a subprocess")
    run = ingest_subprocess(db, logs, f"{days:g} day(s)", timeout=timeout)
    step(f"  {run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB")
    return logs, run


def main() -> None:
    args = arguments()
    django_setup(args.database_url)
    db = BenchDatabase(args.database_url)
    server = db.psql("SHOW server_version", database="postgres")
    load_start = os.getloadavg()
    timeout = args.timeout_minutes * 60 or None
    shape = dict(gpus=args.gpus, interval=args.interval_minutes, hosts_per_file=args.hosts_per_file)
    all_logs, runs, phases = [], [], None
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as workdir:
        try:
            if args.small_days:
                small, run = measured_run(db, Path(workdir) / "small", args.small_days, shape, timeout)
                all_logs.append(small)
                runs.append(run)
                step("phase breakdown (in-process run)")
                phases = phases_measure(db, small)
            logs, run = measured_run(db, Path(workdir) / "measured", args.days, shape, timeout)
            all_logs.append(logs)
            runs.append(run)
        finally:
            if not args.keep_database:
                db.drop()

    hosts = fleet_plan(args.gpus)
    unassigned = sum(1 for h in hosts if h.workload is None)
    print(f"\ningest_gpu benchmark: {args.gpus} GPUs on {len(hosts)} hosts ({unassigned} matching no rule), "
          f"one sample per GPU every {args.interval_minutes} min, {args.hosts_per_file} host(s) per file; "
          f"PostgreSQL {server}; {os.cpu_count()} CPUs; "
          f"code at {_commit()} (plus uncommitted changes, if any)")
    # Other work on the machine slows every figure; the load average says how much there was.
    print(f"load average at start {load_start[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
    generation_print(all_logs)
    runs_print(runs)
    if phases:
        phases_print(phases)


if __name__ == "__main__":
    main()
