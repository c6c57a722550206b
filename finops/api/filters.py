import django_filters

from finops.models import CostRecord, IngestRun


class CostRecordFilter(django_filters.FilterSet):
    start = django_filters.IsoDateTimeFilter(field_name="charge_period_start", lookup_expr="gte")
    end = django_filters.IsoDateTimeFilter(field_name="charge_period_start", lookup_expr="lt")
    team = django_filters.NumberFilter(field_name="workload__team")
    unallocated = django_filters.BooleanFilter(field_name="workload", lookup_expr="isnull")

    class Meta:
        model = CostRecord
        fields = ["workload", "provider_name", "service_name", "service_category", "charge_category", "billing_account_id", "sub_account_id", "region_id", "billing_currency"]


class IngestRunFilter(django_filters.FilterSet):
    class Meta:
        model = IngestRun
        fields = ["status", "format", "data_source"]
