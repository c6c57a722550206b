from datetime import timedelta

from django.utils import timezone

from finops.models import DataSource


def data_sources_claim_due(*, now=None) -> list[DataSource]:
    """The enabled sources whose interval has passed, each claimed by a conditional UPDATE so
    that two beat schedulers (or a retried tick) never start the same source twice."""
    now = now or timezone.now()
    claimed = []
    for source in DataSource.objects.filter(enabled=True):
        if source.last_started_at and source.last_started_at + timedelta(minutes=source.interval_minutes) > now:
            continue
        won = DataSource.objects.filter(pk=source.pk, last_started_at=source.last_started_at).update(last_started_at=now)
        if won:
            claimed.append(source)
    return claimed
