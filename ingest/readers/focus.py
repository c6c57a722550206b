"""FOCUS 1.0, 1.1 and 1.2 exports (CSV, CSV.gz, Parquet) as AWS, Azure, GCP and OCI publish
them. Canonical names are FOCUS names in snake_case, so the mapping is mostly by name."""

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from ingest.errors import IngestError
from ingest.readers.convert import to_cost_batch
from ingest.readers.tabular import iter_text_batches, normalize_header
from ingest.schema import COST_COLUMNS

FORMAT = "focus"
LABEL = "FOCUS 1.0-1.2"

# Names a later FOCUS release gave a column, tried after the canonical one.
ALIASES = {
    "provider_name": ("ServiceProviderName",),
}


def detect(header: list[str]) -> bool:
    names = {normalize_header(h) for h in header}
    return {"billedcost", "chargeperiodstart", "billingaccountid"} <= names


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    origin = _map_columns(header, source=source)
    for batch in iter_text_batches(stream, source=source, header=header):
        values = {name: batch.column(src) for name, src in origin.items()}
        yield to_cost_batch(values, batch=batch, source=source, origin=origin)


def _map_columns(header: list[str], *, source: str) -> dict[str, str]:
    by_normalized = {}
    for name in header:
        by_normalized.setdefault(normalize_header(name), name)
    origin = {}
    for column in COST_COLUMNS:
        candidates = (column.name, *ALIASES.get(column.name, ()))
        found = next((by_normalized[normalize_header(c)] for c in candidates if normalize_header(c) in by_normalized), None)
        if found:
            origin[column.name] = found
        elif column.required:
            focus_name = "".join(part.title() for part in column.name.split("_"))
            raise IngestError(f"required FOCUS column {focus_name} is missing", source=source, line=1)
    return origin
