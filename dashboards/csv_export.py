import csv

from django.http import HttpResponse

# A cell starting with one of these is run as a formula by spreadsheet programs; a workload
# named "=HYPERLINK(...)" must arrive as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_response(*, filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([[_safe(value) for value in row] for row in rows])
    return response


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value
