import hashlib
from collections.abc import Callable

import pyarrow as pa
from django.utils import timezone

from finops.models import DataSource, GpuSample, IngestRun
from finops.services.gpu import gpu_hourly_refresh, gpu_samples_assign
from ingest.errors import IngestError
from ingest.gpu_loader import GpuLoadResult, gpu_batches_write, gpu_spans_replace
from ingest.gpu_readers import gpu_reader, read_head
from ingest.services.runs import delivery_run, uri_deliveries
from ingest.sources import GPU_SUFFIXES, Delivery, SourceFile

Progress = Callable[[int], None]


def gpu_uri_ingest(
    *, uri: str, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None
) -> list[IngestRun]:
    """Ingest every delivery of GPU metrics (nvidia-smi CSV, DCGM exporter text) at a file,
    folder or s3:// prefix."""
    found = uri_deliveries(uri=uri, kind=IngestRun.Kind.GPU, data_source=data_source, suffixes=GPU_SUFFIXES)
    return [
        gpu_delivery_ingest(delivery=delivery, format=format, data_source=data_source, progress=progress)
        for delivery in found
    ]


def gpu_delivery_ingest(
    *, delivery: Delivery, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None
) -> IngestRun:
    """Load the samples of one delivery, replace what earlier runs loaded for the same hosts
    and span, assign samples to workloads and rebuild the hourly rollup of the touched hours."""

    def load(run: IngestRun) -> None:
        result = GpuLoadResult()
        formats = []
        for file in delivery.files:
            before = result.samples_loaded
            formats.append(_load_file(file, run_id=run.pk, format=format, result=result, progress=progress))
            run.files.append({"name": file.name, "fingerprint": file.fingerprint, "rows": result.samples_loaded - before})
        _loaded_samples_settle(run, result, formats=formats, label=delivery.label)

    return delivery_run(delivery=delivery, kind=IngestRun.Kind.GPU, data_source=data_source, load=load)


def gpu_samples_push(*, batch: pa.RecordBatch, label: str) -> IngestRun:
    """Samples pushed through the API (already validated, in GPU_SAMPLE_SCHEMA), loaded like a
    delivery of one file: an identical batch sent again is skipped, and an overlapping one
    replaces the same hosts' samples over its span, so a client's retries never double count."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    fingerprint = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    pushed = SourceFile(name=label, fingerprint=fingerprint, modified_at=timezone.now(), open=None)
    delivery = Delivery(label=label, files=(pushed,))

    def load(run: IngestRun) -> None:
        result = GpuLoadResult()
        gpu_batches_write(run_id=run.pk, batches=[batch], result=result)
        run.files.append({"name": label, "fingerprint": fingerprint, "rows": result.samples_loaded})
        _loaded_samples_settle(run, result, formats=["api"], label=label)

    return delivery_run(delivery=delivery, kind=IngestRun.Kind.GPU, data_source=None, load=load)


def _loaded_samples_settle(run: IngestRun, result: GpuLoadResult, *, formats: list[str], label: str) -> None:
    """Replace what earlier runs loaded for the same hosts and span, assign the run's samples
    to workloads, rebuild the touched hours' rollup and describe the run."""
    if not result.samples_loaded:
        raise IngestError("no GPU samples found", source=label)
    gpu_spans_replace(run_id=run.pk, result=result)
    gpu_samples_assign(samples=GpuSample.objects.filter(ingest_run_id=run.pk))
    gpu_hourly_refresh(hosts=list(result.spans), earliest=result.earliest, latest=result.latest)
    run.format = ", ".join(sorted(set(formats)))
    run.rows_loaded = result.samples_loaded
    run.rows_replaced = result.samples_replaced
    hosts = len(result.spans)
    skipped = "".join(f", skipped {count} {reason}" for reason, count in sorted(result.skipped.items()))
    run.message = (
        f"{result.samples_loaded} samples from {hosts} host{'s' if hosts != 1 else ''}, "
        f"{result.samples_replaced} replaced{skipped}"
    )


def _load_file(file: SourceFile, *, run_id: int, format: str, result: GpuLoadResult, progress: Progress | None) -> str:
    with file.open() as stream:
        reader = gpu_reader(format, read_head(stream, source=file.name), source=file.name)
        batches = reader.read(stream, source=file.name, observed_at=file.modified_at)
        gpu_batches_write(run_id=run_id, batches=batches, result=result, progress=progress)
    result.skipped.update(batches.skipped)
    return reader.FORMAT
