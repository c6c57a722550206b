"""Benchmarks (price-performance runs of a workload) and the managed API price table.

Benchmarks are a team's measurements, scoped by their workload's team (another team's is a
404), and recorded by anyone who sees the workload, as inference volumes are: a team's CI
pipeline pushes its runs. Managed API prices are global configuration: everyone signed in
reads them, leaders and staff change them."""

from decimal import Decimal, localcontext

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from finops.api.permissions import LeaderWritesOthersRead
from finops.api.scoping import (
    VisibleWorkloadField,
    VisibleWorkloadsField,
    current_values,
    currency_field,
    team_filter,
    workload_filter,
)
from finops.models import Benchmark, ManagedApiPrice
from finops.selectors.benchmarks import benchmark_cost_per_unit, benchmark_price_unit, benchmarks_for_user

PRECISION = Decimal("0.0000000001")
PRICE = {"max_digits": 24, "decimal_places": 10, "min_value": 0}


def _to_precision(amount: Decimal) -> Decimal:
    # The largest price over the smallest throughput has 31 digits at this precision: more
    # than the default context's 28.
    with localcontext(prec=50):
        return amount.quantize(PRECISION)


class BenchmarkSerializer(serializers.ModelSerializer):
    workload = VisibleWorkloadField()
    team = serializers.IntegerField(source="workload.team_id", read_only=True)
    gpu_count = serializers.IntegerField(min_value=0, max_value=32767, default=1)
    throughput = serializers.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))
    p95_latency_ms = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0)
    hourly_price = serializers.DecimalField(**PRICE)
    currency = currency_field()
    cost_per_unit = serializers.SerializerMethodField(help_text="hourly_price at this throughput, per cost_unit.")
    cost_unit = serializers.SerializerMethodField(
        help_text='"1M tokens" for a tokens/s run, "1k requests" for a requests/s run.'
    )

    class Meta:
        model = Benchmark
        fields = [
            "id", "workload", "team", "provider_name", "instance_type", "gpu_model", "gpu_count", "model_name",
            "throughput", "throughput_unit", "p95_latency_ms", "hourly_price", "currency", "cost_per_unit",
            "cost_unit", "measured_on", "notes", "created_at",
        ]

    @extend_schema_field(serializers.DecimalField(max_digits=None, decimal_places=10))
    def get_cost_per_unit(self, benchmark) -> str:
        # Fixed-point: str() would write zero as 0E-10.
        return f"{_to_precision(benchmark_cost_per_unit(benchmark)):f}"

    def get_cost_unit(self, benchmark) -> str:
        return benchmark_price_unit(benchmark)


class BenchmarkFilter(django_filters.FilterSet):
    team = team_filter("workload__team")
    workload = workload_filter()

    class Meta:
        model = Benchmark
        fields = [
            "team", "workload", "instance_type", "gpu_model", "provider_name", "throughput_unit", "measured_on",
        ]


class BenchmarkViewSet(viewsets.ModelViewSet):
    serializer_class = BenchmarkSerializer
    filterset_class = BenchmarkFilter
    ordering_fields = ["measured_on", "instance_type", "hourly_price", "throughput", "p95_latency_ms", "id"]
    search_fields = ["instance_type", "gpu_model", "model_name"]

    def get_queryset(self):
        return benchmarks_for_user(self.request.user).order_by(
            "workload_id", "instance_type", "-measured_on", "id"
        )


class ManagedApiPriceSerializer(serializers.ModelSerializer):
    input_price_per_1m_tokens = serializers.DecimalField(**PRICE, required=False, allow_null=True)
    output_price_per_1m_tokens = serializers.DecimalField(**PRICE, required=False, allow_null=True)
    price_per_1k_requests = serializers.DecimalField(**PRICE, required=False, allow_null=True)
    currency = currency_field()
    compared_workloads = VisibleWorkloadsField(required=False, help_text="Workloads to compare with this price.")

    class Meta:
        model = ManagedApiPrice
        fields = [
            "id", "provider_name", "model_name", "input_price_per_1m_tokens", "output_price_per_1m_tokens",
            "price_per_1k_requests", "currency", "compared_workloads", "notes", "updated_at",
        ]

    def validate(self, attrs):
        values = current_values(self, attrs, ("input_price_per_1m_tokens", "price_per_1k_requests"))
        if values["input_price_per_1m_tokens"] is None and values["price_per_1k_requests"] is None:
            raise serializers.ValidationError("Give input_price_per_1m_tokens or price_per_1k_requests.")
        return attrs


class ManagedApiPriceFilter(django_filters.FilterSet):
    workload = workload_filter("compared_workloads", distinct=True)

    class Meta:
        model = ManagedApiPrice
        fields = ["provider_name", "model_name", "currency", "workload"]


class ManagedApiPriceViewSet(viewsets.ModelViewSet):
    """List prices of managed model APIs, to compare self-hosted unit costs with."""

    serializer_class = ManagedApiPriceSerializer
    permission_classes = [LeaderWritesOthersRead]
    filterset_class = ManagedApiPriceFilter
    ordering_fields = ["provider_name", "model_name", "updated_at", "id"]
    search_fields = ["provider_name", "model_name"]

    def get_queryset(self):
        return ManagedApiPrice.objects.prefetch_related("compared_workloads").order_by(
            "provider_name", "model_name", "id"
        )
