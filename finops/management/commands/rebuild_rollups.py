from django.core.management.base import BaseCommand

from finops.services.gpu_rollups import gpu_fleet_rollups_rebuild
from finops.services.rollups import daily_spend_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the daily spend and GPU rollups from the stored records and samples. Run it after "
        "changing REPORTING_TIME_ZONE: every reporting day moves."
    )

    def handle(self, *args, **options):
        rows = daily_spend_rebuild()
        self.stdout.write(f"DailySpend: {rows} rows")
        gpu_fleet_rollups_rebuild()
        self.stdout.write("GPU workload-hour and device-day rollups rebuilt")
