"""What the demo's GPUs and services did: nvidia-smi logs for every self-hosted GPU workload
(ingested by `ingest_gpu` like real logs) and daily inference volumes (stored through the same
service the REST API push uses). Each workload has its own utilization profile, so the GPU page
has busy workloads and under-used ones to suggest right-sizing for."""

import csv
import hashlib
import math
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from finops.models import GpuAssignmentRule, InferenceVolume, Workload
from finops.services.volumes import VolumeRow, inference_volumes_upsert

SAMPLE_MINUTES = 15
NVIDIA_SMI_HEADER = (
    "timestamp, name, pci.bus_id, uuid, utilization.gpu [%], utilization.memory [%], "
    "memory.total [MiB], memory.used [MiB], power.draw [W]"
)


@dataclass(frozen=True)
class GpuFleet:
    gpu_model: str
    memory_mib: int
    nodes: int
    gpus_per_node: int
    busy: float  # average share of the time the GPUs work, before the daily cycle


GPU_FLEETS = {
    "query-embeddings": GpuFleet("NVIDIA A10G", 23028, 3, 1, 0.46),
    "reranker": GpuFleet("NVIDIA A10G", 23028, 2, 1, 0.12),
    "llm-gateway": GpuFleet("NVIDIA A100-SXM4-40GB", 40960, 2, 8, 0.68),
    "summarizer": GpuFleet("NVIDIA A10G", 23028, 2, 1, 0.35),
    "image-moderation": GpuFleet("Tesla T4", 15360, 2, 1, 0.41),
    "product-tagging": GpuFleet("NVIDIA L4", 23034, 2, 1, 0.27),
    "document-ocr": GpuFleet("Tesla T4", 15360, 2, 1, 0.33),
    "speech-to-text": GpuFleet("NVIDIA A10G", 23028, 1, 4, 0.07),
}

# Requests per weekday at the start of the period, and tokens per request for token workloads.
DAILY_REQUESTS = {
    "query-embeddings": (2_400_000, 0, 0),
    "reranker": (650_000, 0, 0),
    "semantic-cache": (3_100_000, 0, 0),
    "llm-gateway": (310_000, 1_450, 320),
    "support-chatbot": (85_000, 1_050, 260),
    "summarizer": (42_000, 3_800, 450),
    "image-moderation": (900_000, 0, 0),
    "product-tagging": (380_000, 0, 0),
    "document-ocr": (120_000, 0, 0),
    "speech-to-text": (55_000, 0, 0),
    "translation": (140_000, 1_100, 420),
    "fraud-scoring": (5_200_000, 0, 0),
}


def demo_gpu_logs_write(*, directory: Path, end: date, days: int = 14, seed: int = 11) -> list[Path]:
    """nvidia-smi --query-gpu CSV, one file per host, for `days` days up to `end`."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    rng = random.Random(seed)
    start = datetime.combine(end - timedelta(days=days - 1), time.min, tzinfo=UTC)
    steps = days * 24 * 60 // SAMPLE_MINUTES
    paths = []
    for slug, fleet in GPU_FLEETS.items():
        for node in range(fleet.nodes):
            path = directory / f"{slug}-node-{node}.csv"
            with path.open("w", newline="") as handle:
                handle.write(NVIDIA_SMI_HEADER + "\n")
                writer = csv.writer(handle, lineterminator="\n")
                for step in range(steps):
                    at = start + timedelta(minutes=SAMPLE_MINUTES * step)
                    for gpu in range(fleet.gpus_per_node):
                        writer.writerow(_sample(slug, fleet, node, gpu, at, rng))
            paths.append(path)
    return paths


def _sample(slug: str, fleet: GpuFleet, node: int, gpu: int, at: datetime, rng: random.Random) -> list[str]:
    hour = at.hour + at.minute / 60
    daily = 1 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi)  # busiest mid-afternoon UTC
    weekly = 0.7 if at.weekday() >= 5 else 1.0
    busy = min(100.0, max(0.0, 100 * fleet.busy * daily * weekly * rng.uniform(0.85, 1.15)))
    memory_used = int(fleet.memory_mib * min(0.95, 0.35 + busy / 200))
    uuid = hashlib.sha256(f"{slug}/{node}/{gpu}".encode()).hexdigest()
    return [
        at.strftime("%Y/%m/%d %H:%M:%S.000"),
        fleet.gpu_model,
        f"00000000:{gpu * 8 + 7:02X}:00.0",
        f"GPU-{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}",
        f"{busy:.0f} %",
        f"{busy * 0.4:.0f} %",
        f"{fleet.memory_mib} MiB",
        f"{memory_used} MiB",
        f"{60 + busy * 2.4:.2f} W",
    ]


def demo_gpu_rules_create() -> None:
    for slug in GPU_FLEETS:
        workload = Workload.objects.get(slug=slug)
        GpuAssignmentRule.objects.get_or_create(workload=workload, host_pattern=f"{slug}-node-*")


def demo_volumes_store(*, end: date, days: int = 90, seed: int = 13) -> int:
    """Daily requests and tokens per workload, growing like the bill does."""
    rng = random.Random(seed)
    workloads = {workload.slug: workload for workload in Workload.objects.filter(slug__in=DAILY_REQUESTS)}
    rows = []
    for offset in range(days):
        day = end - timedelta(days=days - 1 - offset)
        growth = 1.08 ** (offset / 30)
        weekly = 0.62 if day.weekday() >= 5 else 1.0
        for slug, (requests, tokens_in, tokens_out) in DAILY_REQUESTS.items():
            served = int(requests * growth * weekly * rng.uniform(0.95, 1.05))
            rows.append(VolumeRow(workload=workloads[slug], day=day, requests=served,
                                  input_tokens=served * tokens_in, output_tokens=served * tokens_out))
    return inference_volumes_upsert(rows=rows, source=InferenceVolume.Source.API)
