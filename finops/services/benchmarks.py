"""Benchmark runs loaded from a CSV file: every row is checked before any is written, and a
run loaded again (same workload, instance type, GPU count and day) is updated in place."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from finops.models import Benchmark, Workload
from finops.services.csv_import import CsvCells, csv_rows_read, storable_slugs
from ingest.errors import IngestError
from ingest.readers.convert import locate_columns

# A benchmark file is a few hundred rows, and all of them are held in memory to be checked
# before the first is written; the billing upload limit (gigabytes) is far too generous here.
BENCHMARK_CSV_MAX_BYTES = 8 << 20

# Each field, and the header spellings that name it (compared without case or punctuation).
COLUMNS = {
    "workload": ("workload", "workload_slug", "slug"),
    "instance_type": ("instance_type", "instance", "machine_type", "vm_size", "shape"),
    "gpu_model": ("gpu_model", "gpu", "gpu_type", "accelerator"),
    "gpu_count": ("gpu_count", "gpus", "num_gpus", "gpu_qty"),
    "throughput": ("throughput",),
    "throughput_unit": ("throughput_unit", "unit"),
    "p95_latency_ms": ("p95_latency_ms", "p95_ms", "p95", "latency_p95_ms", "p95_latency"),
    "hourly_price": ("hourly_price", "price_per_hour", "hourly_cost", "cost_per_hour", "price_hour"),
    "currency": ("currency", "currency_code"),
    "measured_on": ("measured_on", "date", "measured_at", "day"),
    "provider_name": ("provider_name", "provider", "cloud"),
    "model_name": ("model_name", "model"),
    "notes": ("notes", "note", "comment", "comments"),
}
REQUIRED = ("workload", "instance_type", "throughput", "p95_latency_ms", "hourly_price", "measured_on")
UPDATED_FIELDS = [
    "provider_name", "gpu_model", "model_name", "throughput", "throughput_unit", "p95_latency_ms",
    "hourly_price", "currency", "notes",
]
TEXT_LIMITS = {
    name: Benchmark._meta.get_field(name).max_length
    for name in ("instance_type", "gpu_model", "provider_name", "model_name")
}
UNIT_SPELLINGS = {
    Benchmark.ThroughputUnit.REQUESTS_PER_SECOND: {"requests_per_second", "requests/s", "request/s", "req/s", "rps"},
    Benchmark.ThroughputUnit.TOKENS_PER_SECOND: {"tokens_per_second", "tokens/s", "token/s", "tok/s", "tps"},
}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_GPU_COUNT_MAX = 32767  # PositiveSmallIntegerField


@dataclass(frozen=True)
class BenchmarkImportResult:
    created: int
    updated: int

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated"


def benchmarks_import_csv(
    *, stream: BinaryIO, source_name: str, team_workloads: QuerySet[Workload], max_bytes: int | None = None
) -> BenchmarkImportResult:
    """Load benchmark runs from CSV bytes (UTF-8, a BOM tolerated) into workloads of
    `team_workloads`, the ones the importing user may write.

    Raises IngestError naming the file, line and column of the first bad row; nothing is
    written then. Columns may come in any order and spelling (see COLUMNS); unknown ones are
    ignored."""
    limit = max_bytes or min(settings.INGEST_UPLOAD_MAX_BYTES, BENCHMARK_CSV_MAX_BYTES)
    rows = csv_rows_read(stream, source=source_name, limit=limit, what="a benchmark import")
    if not rows:
        return BenchmarkImportResult(created=0, updated=0)
    header, records = rows[0][1], rows[1:]
    origin = locate_columns(header, COLUMNS, REQUIRED, source=source_name, what="benchmark")
    position = {field_name: header.index(name) for field_name, name in origin.items()}
    slugs = {record[position["workload"]].strip() for _line, record in records if len(record) == len(header)}
    writable = {workload.slug: workload for workload in team_workloads.filter(slug__in=storable_slugs(slugs))}

    runs: dict[tuple, Benchmark] = {}
    lines: dict[tuple, int] = {}
    for line, record in records:
        if len(record) != len(header):
            raise IngestError(
                f"the row has {len(record)} fields, the header has {len(header)}", source=source_name, line=line
            )
        cells = CsvCells(record, position=position, origin=origin, source=source_name, line=line)
        run = _benchmark(cells, writable=writable)
        key = (run.workload.pk, run.instance_type, run.gpu_count, run.measured_on)
        if key in runs:
            raise IngestError(
                f"repeats the run on line {lines[key]} (same workload, instance type, GPU count and date)",
                source=source_name, line=line, column=origin["measured_on"],
            )
        runs[key], lines[key] = run, line
    return _write(list(runs.values()))


def _benchmark(cells: CsvCells, *, writable: dict[str, Workload]) -> Benchmark:
    slug = cells.required("workload")
    workload = writable.get(slug)
    if workload is None:
        # The same words whether the slug is unknown or another team's: a member must not
        # learn which slugs other teams use (another team's object reads as missing).
        raise cells.error("workload", f"{slug!r} is not the slug of a workload you may import benchmarks for")
    texts = {name: cells.text(name) for name in TEXT_LIMITS}
    texts["instance_type"] = cells.required("instance_type")
    for name, limit in TEXT_LIMITS.items():
        if len(texts[name]) > limit:
            raise cells.error(name, f"is {len(texts[name])} characters long; at most {limit} fit")
    throughput = _decimal(cells, "throughput", digits=18, places=4)
    if throughput <= 0:
        raise cells.error("throughput", f"throughput must be more than zero, got {throughput}")
    latency = _decimal(cells, "p95_latency_ms", digits=12, places=3)
    if latency < 0:
        raise cells.error("p95_latency_ms", f"a latency cannot be negative, got {latency}")
    price = _decimal(cells, "hourly_price", digits=24, places=10)
    if price < 0:
        raise cells.error("hourly_price", f"a price cannot be negative, got {price}")
    return Benchmark(
        workload=workload,
        provider_name=texts["provider_name"],
        instance_type=texts["instance_type"],
        gpu_model=texts["gpu_model"],
        gpu_count=_gpu_count(cells),
        model_name=texts["model_name"],
        throughput=throughput,
        throughput_unit=_unit(cells, workload),
        p95_latency_ms=latency,
        hourly_price=price,
        currency=_currency(cells),
        measured_on=_date(cells),
        notes=cells.text("notes"),
    )


def _decimal(cells: CsvCells, field_name: str, *, digits: int, places: int) -> Decimal:
    """The cell as an exact Decimal rounded half-even to the stored scale (a 12-decimal price
    is not an error), or an error when it is no number or too large to store."""
    text = cells.required(field_name)
    if not _NUMBER.fullmatch(text):
        raise cells.error(field_name, f"{text!r} is not a number")
    number = Decimal(text)
    if number.adjusted() < digits - places:
        # Wide enough that quantizing rounds nothing but the excess decimals.
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=Context(prec=digits + 2))
    if number.adjusted() >= digits - places:
        raise cells.error(field_name, f"{text} is too large (at most {digits - places} digits before the point)")
    return number


def _gpu_count(cells: CsvCells) -> int:
    text = cells.text("gpu_count")
    if not text:
        return 1
    if not text.isascii() or not text.isdigit() or int(text) > _GPU_COUNT_MAX:
        raise cells.error("gpu_count", f"{text!r} is not a whole number of GPUs")
    return int(text)


def _unit(cells: CsvCells, workload: Workload) -> str:
    """Spelled as in the model, or as people write it ("tokens/s", "rps"). Left out, it is the
    unit the workload counts inferences in."""
    text = cells.text("throughput_unit").lower().replace(" ", "")
    if not text:
        if workload.inference_unit == Workload.InferenceUnit.TOKEN:
            return Benchmark.ThroughputUnit.TOKENS_PER_SECOND
        return Benchmark.ThroughputUnit.REQUESTS_PER_SECOND
    for unit, spellings in UNIT_SPELLINGS.items():
        if text in spellings:
            return unit
    raise cells.error(
        "throughput_unit", f"{text!r} is not a throughput unit (use requests_per_second or tokens_per_second)"
    )


def _currency(cells: CsvCells) -> str:
    text = cells.text("currency").upper()
    if not text:
        return "USD"
    if not _CURRENCY.fullmatch(text):
        raise cells.error("currency", f"{text!r} is not a three-letter currency code")
    return text


def _date(cells: CsvCells) -> date:
    text = cells.required("measured_on")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise cells.error("measured_on", f"{text!r} is not a date (write it as YYYY-MM-DD)") from exc


def _write(runs: list[Benchmark]) -> BenchmarkImportResult:
    keys = {(run.workload_id, run.instance_type, run.gpu_count, run.measured_on) for run in runs}
    with transaction.atomic():
        existing = {
            key
            for key in Benchmark.objects.filter(
                workload_id__in={key[0] for key in keys}, measured_on__in={key[3] for key in keys}
            ).values_list("workload_id", "instance_type", "gpu_count", "measured_on")
            if key in keys
        }
        # An upsert, so two imports of the same file at once both succeed (the last one wins).
        Benchmark.objects.bulk_create(
            runs,
            update_conflicts=True,
            unique_fields=["workload", "instance_type", "gpu_count", "measured_on"],
            update_fields=UPDATED_FIELDS,
            batch_size=1000,
        )
    return BenchmarkImportResult(created=len(keys) - len(existing), updated=len(existing))
