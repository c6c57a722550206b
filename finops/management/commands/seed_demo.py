from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.utils import timezone

from finops.demo.billing import demo_billing_exports_write, expected_total
from finops.demo.organisation import demo_organisation_create
from finops.models import CostRecord, IngestRun
from ingest.services import billing_uri_ingest


class Command(BaseCommand):
    help = (
        "Create the demo organisation, write 90 days of generated FOCUS billing exports and "
        "ingest them through the normal ingestion pipeline. Safe to run again."
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
        loaded = CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"]
        self.stdout.write(f"Demo billing: {len(paths)} FOCUS files in {directory}, effective cost "
                          f"{expected_total(paths):,.2f} USD in the files, {loaded:,.2f} USD loaded.")
        self.stdout.write(self.style.SUCCESS(f"Log in at http://127.0.0.1:8000/ as {username} / {password}"))
