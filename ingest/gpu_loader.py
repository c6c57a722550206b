"""Writes canonical GPU sample batches into GpuSample, replacing what earlier runs loaded for
the same hosts over the same span of time (collectors resend overlapping files)."""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from operator import or_

import pyarrow as pa
from django.db.models import Q

from finops.models import GpuSample
from ingest.gpu_schema import GPU_SAMPLE_SCHEMA
from ingest.table_writer import arrow_batch_insert, with_constant


@dataclass
class GpuLoadResult:
    samples_loaded: int = 0
    samples_replaced: int = 0
    spans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # host -> first, last
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count, as readers report it

    def add(self, batch: pa.RecordBatch) -> None:
        self.samples_loaded += batch.num_rows
        per_host = pa.table([batch["host"], batch["sampled_at"]], names=["host", "at"]).group_by("host").aggregate(
            [("at", "min"), ("at", "max")]
        )
        for host, first, last in zip(*(per_host[c].to_pylist() for c in ("host", "at_min", "at_max")), strict=True):
            if host in self.spans:
                first, last = min(first, self.spans[host][0]), max(last, self.spans[host][1])
            self.spans[host] = (first, last)

    @property
    def earliest(self) -> datetime:
        return min(first for first, _ in self.spans.values())

    @property
    def latest(self) -> datetime:
        return max(last for _, last in self.spans.values())


def gpu_batches_write(
    *, run_id: int, batches: Iterable[pa.RecordBatch], result: GpuLoadResult, progress: Callable[[int], None] | None = None
) -> None:
    for batch in batches:
        assert batch.schema.equals(GPU_SAMPLE_SCHEMA), "GPU readers must yield GPU_SAMPLE_SCHEMA batches"
        if batch.num_rows == 0:
            continue
        arrow_batch_insert(table=GpuSample._meta.db_table, batch=with_constant(batch, "ingest_run_id", run_id))
        result.add(batch)
        if progress:
            progress(result.samples_loaded)


def gpu_spans_replace(*, run_id: int, result: GpuLoadResult) -> None:
    """Drop earlier runs' samples of the same hosts inside the span this run covers."""
    if not result.spans:
        return
    covered = reduce(
        or_, (Q(host=host, sampled_at__gte=first, sampled_at__lte=last) for host, (first, last) in result.spans.items())
    )
    result.samples_replaced = GpuSample.objects.filter(covered).exclude(ingest_run_id=run_id).delete()[0]
