from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.utils import timezone

from finops.demo.billing import demo_billing_exports_write, expected_total
from finops.demo.organisation import demo_organisation_create
from finops.demo.tco import demo_tco_create
from finops.demo.usage import demo_gpu_logs_write, demo_gpu_rules_create, demo_volumes_store
from finops.models import CostRecord, IngestRun
from ingest.services.billing import billing_uri_ingest
from ingest.services.gpu import gpu_uri_ingest


class Command(BaseCommand):
    help = (
        "Create the demo organisation, write 90 days of generated FOCUS billing exports and 14 days "
        "of nvidia-smi GPU logs and ingest them through the normal ingestion pipeline, store "
        "daily inference volumes, and record the costs off the bill, benchmarks, API prices and "
        "initiatives. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--password", help="Password for the demo leader (default: random).")

    def handle(self, *args, days, password, **options):
        username, password = demo_organisation_create(password=password)
        directory = settings.DEMO_DATA_DIR / "billing"
        end = timezone.localdate() - timezone.timedelta(days=1)
        paths = demo_billing_exports_write(directory=directory, end=end, days=days)
        runs = billing_uri_ingest(uri=str(directory))
        failed = [run for run in runs if run.status == IngestRun.Status.FAILED]
        if failed:
            raise CommandError("; ".join(run.error for run in failed))
        for run in runs:
            self.stdout.write(f"  {run.source}: {run.get_status_display()}: {run.message}")
        demo_gpu_rules_create()
        gpu_logs = demo_gpu_logs_write(directory=settings.DEMO_DATA_DIR / "gpu", end=end, days=min(days, 14))
        gpu_runs = gpu_uri_ingest(uri=str(settings.DEMO_DATA_DIR / "gpu"))
        failed = [run for run in gpu_runs if run.status == IngestRun.Status.FAILED]
        if failed:
            raise CommandError("; ".join(run.error for run in failed))
        for run in gpu_runs:
            self.stdout.write(f"  {run.source}: {run.get_status_display()}: {run.message}")
        volumes = demo_volumes_store(end=end, days=days)
        demo_tco_create(end=end)
        self.stdout.write(f"Demo GPU logs: {len(gpu_logs)} nvidia-smi files; inference volumes: {volumes} workload-days.")
        loaded = CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"]
        self.stdout.write(f"Demo billing: {len(paths)} FOCUS files in {directory}, effective cost "
                          f"{expected_total(paths):,.2f} USD in the files, {loaded:,.2f} USD loaded.")
        self.stdout.write(self.style.SUCCESS(f"Log in at http://127.0.0.1:8000/ as {username} / {password}"))
