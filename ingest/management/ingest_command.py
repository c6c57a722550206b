import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from finops.models import IngestRun
from ingest.errors import IngestError, SourceUnavailable


class IngestCommand(BaseCommand):
    """What `ingest_billing` and `ingest_gpu` share: a path or s3:// prefix, a format, progress
    with its rate on stderr, one line per run, and a non-zero exit when any delivery failed."""

    formats: dict = {}
    unit = "rows"
    # Django's system checks load the URLconf, and through it every view, DRF and plotly: 43 MB
    # and ~0.3 s that an ingest (run by cron or a worker against a deployed, checked project)
    # never uses, and that put a 3M-row bill's peak memory over 300 MB.
    requires_system_checks = []

    def ingest(self, *, uri: str, format: str, progress: Callable[[int], None]) -> list[IngestRun]:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("path", help="A file, a folder, or s3://bucket/prefix.")
        parser.add_argument("--format", default="auto", choices=["auto", *sorted(self.formats)])

    def handle(self, *args, path, format, **options):
        started = time.monotonic()

        def progress(count: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            self.stderr.write(f"\r{count:,} {self.unit}, {count / elapsed:,.0f} {self.unit}/s", ending="")

        try:
            runs = self.ingest(uri=path, format=format, progress=progress)
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
            raise CommandError(f"{len(failed)} of {len(runs)} deliveries failed; earlier data is unchanged")
