from datetime import date

from django.core.management.base import BaseCommand, CommandError

from finops.selectors.alerts import spend_day_range
from finops.services.alert_detection import spikes_detect


class Command(BaseCommand):
    help = (
        "Evaluate every enabled alert rule on a range of days and record the spikes. Without "
        "dates it back-fills the whole history in the rollup, so a new installation shows past "
        "spikes. Safe to run again: a day fires at most once per rule; back-filled days older "
        "than ALERT_EMAIL_MAX_AGE_DAYS are recorded without e-mail."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", type=date.fromisoformat, help="First day, YYYY-MM-DD (default: first day of spend).")
        parser.add_argument("--end", type=date.fromisoformat, help="Last day, YYYY-MM-DD (default: last day of spend).")

    def handle(self, *args, start, end, **options):
        known = spend_day_range()
        if known is None and not (start and end):
            self.stdout.write("No spend loaded yet: nothing to evaluate.")
            return
        start = start or known[0]
        end = end or known[1]
        if start > end:
            raise CommandError("--start must not be after --end.")
        summary = spikes_detect(start=start, end=end)
        self.stdout.write(self.style.SUCCESS(f"{start} to {end}: {summary}"))
