"""What the hostile-input tests share: every reader's sample file, reading through the same
path ingestion takes (header, registry or detection, batches), checks that what a reader
returns can be stored, and gzip bombs built in a blink."""

import contextlib
import gzip
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from finops.models import CostRecord, GpuSample
from ingest.gpu_readers import gpu_reader, read_head
from ingest.gpu_schema import GPU_SAMPLE_COLUMNS, GPU_SAMPLE_SCHEMA
from ingest.readers import billing_reader
from ingest.readers.tabular import read_header
from ingest.schema import COST_COLUMNS, COST_SCHEMA
from ingest.sources import inflating

FIXTURES = Path(__file__).parents[1] / "fixtures"
OBSERVED_AT = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    """A real export of one format, and the source columns that carry names (where a
    "=HYPERLINK(...)" would sit) keyed by the canonical column they feed."""

    format: str
    path: Path
    name_columns: dict[str, str]

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    def __str__(self) -> str:
        return f"{self.format}:{self.path.name}"


BILLING_SAMPLES = (
    Sample(
        "focus",
        FIXTURES / "focus" / "aws-focus-1.2.csv",
        {"service_name": "ServiceName", "resource_id": "ResourceId"},
    ),
    Sample("focus", FIXTURES / "focus" / "gcp-focus-1.0-snake.csv", {"service_name": "service_name"}),
    Sample(
        "aws-cur",
        FIXTURES / "aws-cur" / "cur-2024-05.csv",
        {"service_name": "product/ProductName", "resource_id": "lineItem/ResourceId"},
    ),
    Sample("aws-cur2", FIXTURES / "aws-cur2" / "cur2-2024-05.csv", {"resource_id": "line_item_resource_id"}),
    Sample(
        "gcp",
        FIXTURES / "gcp" / "gcp-billing-2024-05.csv",
        {"service_name": "service.description", "resource_name": "resource.name"},
    ),
    Sample("gcp", FIXTURES / "gcp" / "gcp-billing-2024-05.jsonl", {}),
    Sample(
        "azure",
        FIXTURES / "azure" / "azure-ea-actual-2024-05.csv",
        {"service_name": "MeterCategory", "resource_name": "ResourceName"},
    ),
    Sample(
        "azure",
        FIXTURES / "azure" / "azure-mca-amortized-2024-05.csv",
        {"service_name": "meterCategory", "resource_id": "ResourceId"},
    ),
    Sample(
        "oci",
        FIXTURES / "oci" / "oci-cost-2024-05-01-0001.csv",
        {"service_name": "product/service", "resource_id": "product/resourceId"},
    ),
)
CSV_BILLING_SAMPLES = tuple(s for s in BILLING_SAMPLES if s.path.suffix == ".csv")
GPU_SAMPLES = (
    Sample("nvidia-smi", FIXTURES / "nvidia-smi" / "gpu-node-07_2026-11-01.csv", {}),
    Sample("nvidia-smi", FIXTURES / "nvidia-smi" / "fleet_2026-11-01.csv", {}),
    Sample("nvidia-smi", FIXTURES / "nvidia-smi" / "gpu-node-08.csv", {}),
    Sample("dcgm", FIXTURES / "dcgm" / "gpu-node-01.prom", {}),
    Sample("dcgm", FIXTURES / "dcgm" / "scrapes_2026-11-01.prom", {}),
)


# Cells that have broken readers somewhere, mixed into arbitrary text.
HOSTILE_CELLS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ufeff",
    '"',
    "\r\n",
    '=HYPERLINK("http://x")',
    "+cmd",
    "@SUM(1)",
    "-1e-400",
    "9" * 30,
    "99999999999999999999.999999999999999999",
    "1e400",
    "NaN",
    "Infinity",
    "-0",
    "١٢",
    "0000-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "99999-01-01",
    "2024-02-30",
    '{"a": "\\u0000"}',
    '{"a": "\\ud800"}',
    '{"\\udfff": 1}',
    "[" * 3000,
    '{"a":' * 3000,
    '[{"key": ["x"], "value": "y"}]',
    '[{"amount": "\\ud800"}]',
    "x" * 1001,
    "é" * 300,
]


def read_billing(data: bytes, *, format: str = "auto", source: str = "bill.csv") -> pa.Table:
    """What billing ingestion does with one file's bytes, short of the database."""
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader(format, header, source=source)
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def read_billing_opened(data: bytes, *, format: str = "auto", source: str = "bill.csv.gz") -> pa.Table:
    """The same through the opener ingestion uses for files (which inflates gzip'd ones)."""
    with inflating(lambda: contextlib.nullcontext(io.BytesIO(data)), source=source)() as stream:
        header = read_header(stream, source=source)
        reader = billing_reader(format, header, source=source)
        return pa.Table.from_batches(
            list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA
        )


def read_gpu(data: bytes, *, format: str = "auto", source: str = "gpu-node-07.csv") -> pa.Table:
    stream = io.BytesIO(data)
    reader = gpu_reader(format, read_head(stream, source=source), source=source)
    batches = reader.read(stream, source=source, observed_at=OBSERVED_AT)
    return pa.Table.from_batches(list(batches), schema=GPU_SAMPLE_SCHEMA)


def read_gpu_opened(data: bytes, *, format: str = "auto", source: str = "gpu-node-07.csv.gz") -> pa.Table:
    with inflating(lambda: contextlib.nullcontext(io.BytesIO(data)), source=source)() as stream:
        reader = gpu_reader(format, read_head(stream, source=source), source=source)
        batches = reader.read(stream, source=source, observed_at=OBSERVED_AT)
        return pa.Table.from_batches(list(batches), schema=GPU_SAMPLE_SCHEMA)


def parquet_of(sample: Sample) -> bytes:
    """The sample as the Parquet file an export tool would write from it."""
    table = pacsv.read_csv(
        io.BytesIO(sample.data), convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def assert_storable_costs(table: pa.Table) -> None:
    """What a reader returned fits CostRecord on every database: text within max_length and
    free of NUL, tags a JSON object jsonb accepts, dates a datetime can hold."""
    for column in COST_COLUMNS:
        values = table[column.name]
        if column.name == "tags":
            for text in pc.unique(values).to_pylist():
                tags = json.loads(text)
                assert isinstance(tags, dict)
                encoded = json.dumps(tags, ensure_ascii=False)
                assert "\\u0000" not in encoded
                encoded.encode("utf-8")
        elif column.is_text:
            _assert_fits(values, CostRecord._meta.get_field(column.name).max_length, column.name)
        elif pa.types.is_timestamp(column.type) and len(values):
            assert EARLIEST <= pc.min(values).as_py() and pc.max(values).as_py() < LATEST, column.name


def assert_storable_samples(table: pa.Table) -> None:
    for column in GPU_SAMPLE_COLUMNS:
        values = table[column.name]
        if column.is_text:
            _assert_fits(values, GpuSample._meta.get_field(column.name).max_length, column.name)
        elif pa.types.is_timestamp(column.type) and len(values):
            assert EARLIEST <= pc.min(values).as_py() and pc.max(values).as_py() < LATEST, column.name
        else:
            for value in values.to_pylist():
                assert value is None or math.isfinite(value), column.name
    for value in table["utilization"].to_pylist():
        assert 0 <= value <= 100


def _assert_fits(values, max_length: int | None, name: str) -> None:
    for text in pc.unique(values).to_pylist():
        assert text is not None and "\x00" not in text, name
        assert max_length is None or len(text) <= max_length, name


def gzip_bomb(head: bytes, unit: bytes, *, inflated: int) -> bytes:
    """A gzip file of `head` then `unit` repeated to about `inflated` bytes, a few kB small:
    one gzip member of ~1 MiB of units, repeated (a multi-member gzip file is one stream)."""
    block = unit * max(1, (1 << 20) // len(unit))
    member = gzip.compress(block, compresslevel=9)
    return gzip.compress(head) + member * max(1, inflated // len(block))
