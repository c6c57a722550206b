"""Small CSV files people upload (benchmark runs, inference volumes): read whole, every row
checked before anything is written, and every error located at its file, line and column."""

import csv
import io
from typing import BinaryIO

from django.template.defaultfilters import filesizeformat

from finops.models import Workload
from ingest.errors import IngestError


def csv_rows_read(stream: BinaryIO, *, source: str, limit: int, what: str) -> list[tuple[int, list[str]]]:
    """The non-blank CSV records with the line each starts on (quoted values may span lines)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise IngestError(
            f"the file is larger than the {filesizeformat(limit)} {what} accepts; split it",
            source=source,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise IngestError("the file is not UTF-8 text (re-export it as UTF-8)", source=source, line=line) from exc
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise IngestError("the file contains a NUL byte: it is not a CSV text file", source=source, line=line)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, next_line = [], 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                rows.append((next_line, record))
            next_line = reader.line_num + 1
    except csv.Error as exc:
        raise IngestError(f"not valid CSV ({exc})", source=source, line=next_line) from exc
    if rows and not any(name.strip() for name in rows[0][1]):
        raise IngestError("the first line is not a CSV header", source=source, line=rows[0][0])
    return rows


def storable_slugs(slugs: set[str]) -> set[str]:
    # Slugs are short ASCII; a longer value can be no workload's, and the query need not see it.
    return {slug for slug in slugs if len(slug) <= Workload._meta.get_field("slug").max_length}


class CsvCells:
    """One record's values by field name, and errors located at their line and column."""

    def __init__(self, record: list[str], *, position: dict[str, int], origin: dict[str, str], source: str, line: int):
        self._record, self._position, self._origin = record, position, origin
        self.source, self.line = source, line

    def text(self, field_name: str) -> str:
        index = self._position.get(field_name)
        return "" if index is None else self._record[index].strip()

    def error(self, field_name: str, message: str) -> IngestError:
        return IngestError(message, source=self.source, line=self.line, column=self._origin.get(field_name, field_name))

    def required(self, field_name: str) -> str:
        value = self.text(field_name)
        if not value:
            raise self.error(field_name, "a value is required here")
        return value
