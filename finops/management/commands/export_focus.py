from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from finops.models import CostRecord
from finops.selectors.focus_export import FOCUS_VERSION, focus_csv_lines, focus_rows


class Command(BaseCommand):
    help = (
        f"Write every cost record (all teams and unallocated: for operators) as a FOCUS {FOCUS_VERSION} "
        "CSV. --start/--end pick charge periods starting on those days (inclusive, reporting time zone)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="File to write ('-' for standard output).")
        parser.add_argument("--start", type=date.fromisoformat, help="First day, YYYY-MM-DD.")
        parser.add_argument("--end", type=date.fromisoformat, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, out, start, end, **options):
        if start and end and start > end:
            raise CommandError("--start must not be after --end.")
        lines = focus_csv_lines(focus_rows(records=CostRecord.objects.all(), start=start, end=end))
        if out == "-":
            self._write(lines, lambda line: self.stdout.write(line, ending=""))
            return
        path = Path(out)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as file:
                count = self._write(lines, file.write)
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.stderr.write(f"{count} cost records written to {path} (FOCUS {FOCUS_VERSION}).")

    @staticmethod
    def _write(lines, write) -> int:
        count = -1  # the header is not a record
        for line in lines:
            write(line)
            count += 1
        return count
