"""Inference volumes from a CSV file, for serving stacks that export a daily report rather
than push to the API. Each (workload, day) is set, not added, as with the API push."""

from datetime import date
from typing import BinaryIO

from django.conf import settings
from django.db.models import QuerySet

from finops.models import InferenceVolume, Workload
from finops.services.csv_import import CsvCells, csv_rows_read, storable_slugs
from finops.services.volumes import VolumeRow, inference_volumes_upsert
from ingest.errors import IngestError
from ingest.readers.convert import locate_columns

VOLUME_CSV_MAX_BYTES = 32 << 20  # ~1M workload-days; all rows are checked before writing
COLUMNS = {
    "workload": ("workload", "workload_slug", "slug"),
    "day": ("day", "date"),
    "requests": ("requests", "inferences", "request_count"),
    "input_tokens": ("input_tokens", "prompt_tokens", "tokens_in"),
    "output_tokens": ("output_tokens", "completion_tokens", "tokens_out"),
}
REQUIRED = ("workload", "day", "requests")
# PositiveBigIntegerField holds up to 2^63 − 1.
COUNT_MAX = 2**63 - 1


def inference_volumes_import_csv(*, stream: BinaryIO, source_name: str, team_workloads: QuerySet[Workload]) -> int:
    """Set the volumes a CSV file lists for workloads of `team_workloads` (those the importing
    user may write). Raises IngestError naming the file, line and column of the first bad row;
    nothing is written then. Returns the number of (workload, day) pairs set."""
    limit = min(settings.INGEST_UPLOAD_MAX_BYTES, VOLUME_CSV_MAX_BYTES)
    rows = csv_rows_read(stream, source=source_name, limit=limit, what="a volume import")
    if not rows:
        return 0
    header, records = rows[0][1], rows[1:]
    origin = locate_columns(header, COLUMNS, REQUIRED, source=source_name, what="inference volume")
    position = {name: header.index(spelled) for name, spelled in origin.items()}
    slugs = {record[position["workload"]].strip() for _, record in records if len(record) == len(header)}
    writable = {w.slug: w for w in team_workloads.filter(slug__in=storable_slugs(slugs))}
    volumes = []
    for line, record in records:
        if len(record) != len(header):
            raise IngestError(f"the row has {len(record)} fields, the header has {len(header)}", source=source_name, line=line)
        cells = CsvCells(record, position=position, origin=origin, source=source_name, line=line)
        slug = cells.required("workload")
        if slug not in writable:
            raise cells.error("workload", f"{slug!r} is not the slug of a workload you may import volumes for")
        volumes.append(VolumeRow(
            workload=writable[slug], day=_day(cells), requests=_count(cells, "requests"),
            input_tokens=_count(cells, "input_tokens"), output_tokens=_count(cells, "output_tokens"),
        ))
    return inference_volumes_upsert(rows=volumes, source=InferenceVolume.Source.CSV)


def _day(cells: CsvCells) -> date:
    text = cells.required("day")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise cells.error("day", f"{text!r} is not a date (write it as YYYY-MM-DD)") from exc


def _count(cells: CsvCells, name: str) -> int:
    text = cells.text(name).replace(",", "").replace("_", "")
    if not text:
        if name in REQUIRED:
            raise cells.error(name, "a value is required here")
        return 0
    if not (text.isascii() and text.isdigit()) or int(text) > COUNT_MAX:
        raise cells.error(name, f"{cells.text(name)!r} is not a whole, non-negative count")
    return int(text)
