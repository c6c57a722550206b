import csv
import io

from django.http import HttpResponse

# A cell starting with one of these is run as a formula by spreadsheet programs; a workload
# named "=HYPERLINK(...)" must arrive as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_response(*, filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    # Written to a string first: the response's own write() encodes each line on its own,
    # ~3 µs a line: 41 ms instead of 14 ms for a year of spend per service and day.
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([[_safe(value) for value in row] for row in rows])
    response = HttpResponse(text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value
