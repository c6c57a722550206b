from django.core.management.base import BaseCommand, CommandError

from finops.models import Workload
from finops.services.benchmarks import benchmarks_import_csv
from ingest.errors import IngestError


class Command(BaseCommand):
    help = (
        "Load benchmark runs (instance type, GPU, throughput, p95 latency, hourly price) from a "
        "CSV file. Every row is checked first: one bad row loads nothing. Loading the same run "
        "again (workload, instance type, GPU count, date) updates it."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A CSV file with a header line.")

    def handle(self, *args, path, **options):
        try:
            with open(path, "rb") as stream:
                # An operator at the shell may write to every workload.
                result = benchmarks_import_csv(stream=stream, source_name=path, team_workloads=Workload.objects.all())
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from exc
        except IngestError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{path}: {result}"))
