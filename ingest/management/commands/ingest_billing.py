import time

from django.core.management.base import BaseCommand, CommandError

from finops.models import IngestRun
from ingest.errors import IngestError, SourceUnavailable
from ingest.readers import BILLING_READERS
from ingest.services import billing_uri_ingest


class Command(BaseCommand):
    help = "Ingest billing exports from a file, a folder or an s3://bucket/prefix."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A file, a folder, or s3://bucket/prefix.")
        parser.add_argument("--format", default="auto", choices=["auto", *sorted(BILLING_READERS)])

    def handle(self, *args, path, format, **options):
        started = time.monotonic()

        def progress(rows: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            self.stderr.write(f"\r{rows:,} rows, {rows / elapsed:,.0f} rows/s", ending="")

        try:
            runs = billing_uri_ingest(uri=path, format=format, progress=progress)
        except (FileNotFoundError, IngestError, SourceUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write("")
        failed = [run for run in runs if run.status == IngestRun.Status.FAILED]
        for run in runs:
            if run.status == IngestRun.Status.FAILED:
                self.stderr.write(self.style.ERROR(f"run #{run.pk} failed: {run.error}"))
            else:
                self.stdout.write(f"run #{run.pk} {run.status} ({run.format}): {run.source}: {run.message}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} files failed; earlier data is unchanged")
