from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from finops.models import CostRecord, IngestRun


class UtcIsoDateTimeField(IsoDateTimeField):
    """In UTC before it reaches the database: PostgreSQL refuses offsets beyond +-15:59
    (a valid ISO 8601 "-23:49" was a 500), and a date at the calendar's edge is a 400."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Date and time out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class CostRecordFilter(django_filters.FilterSet):
    start = UtcIsoDateTimeFilter(field_name="charge_period_start", lookup_expr="gte")
    end = UtcIsoDateTimeFilter(field_name="charge_period_start", lookup_expr="lt")
    team = django_filters.NumberFilter(field_name="workload__team")
    unallocated = django_filters.BooleanFilter(field_name="workload", lookup_expr="isnull")

    class Meta:
        model = CostRecord
        fields = ["workload", "provider_name", "service_name", "service_category", "charge_category", "billing_account_id", "sub_account_id", "region_id", "billing_currency"]


class IngestRunFilter(django_filters.FilterSet):
    class Meta:
        model = IngestRun
        fields = ["status", "format", "data_source"]
