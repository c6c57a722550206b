"""The canonical GPU sample columns every GPU-metrics reader produces (nvidia-smi CSV, DCGM
exporter text, Prometheus query_range). One row is one GPU, or one MIG instance of a GPU,
at one moment. Utilization is a measurement, not money: floats are right here."""

import pyarrow as pa

from ingest.schema import TEXT, TIMESTAMP, Column

PERCENT = pa.float64()

GPU_SAMPLE_COLUMNS = (
    Column("sampled_at", TIMESTAMP, required=True),
    Column("host", TEXT, required=True),  # from a column/label, else the file name
    Column("gpu_uuid", TEXT, required=True),  # GPU-xxxxxxxx-...; MIG samples keep the parent's UUID
    Column("mig_instance", TEXT),  # "" for a whole GPU; the GPU instance id (DCGM GPU_I_ID) for a MIG slice
    Column("gpu_index", TEXT),
    Column("pci_bus_id", TEXT),
    Column("model_name", TEXT),
    Column("pod", TEXT),
    Column("namespace", TEXT),
    Column("container", TEXT),
    Column("utilization", PERCENT, required=True),  # 0-100: busy share of the sample interval
    Column("memory_utilization", PERCENT),
    Column("memory_used_mib", PERCENT),
    Column("memory_total_mib", PERCENT),
    Column("power_watts", PERCENT),
)

GPU_SAMPLE_SCHEMA = pa.schema(
    [pa.field(c.name, c.type, nullable=not c.required) for c in GPU_SAMPLE_COLUMNS]
)
GPU_SAMPLE_COLUMN_NAMES = tuple(c.name for c in GPU_SAMPLE_COLUMNS)
