from django.db import models
from django.db.models import Q

from finops.models.costs import MONEY
from finops.models.workloads import Workload


class Benchmark(models.Model):
    """One measured price-performance run of a workload on an instance type."""

    class ThroughputUnit(models.TextChoices):
        REQUESTS_PER_SECOND = "requests_per_second", "requests/s"
        TOKENS_PER_SECOND = "tokens_per_second", "tokens/s"

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="benchmarks")
    provider_name = models.CharField(max_length=100, blank=True)
    instance_type = models.CharField(max_length=100)
    gpu_model = models.CharField(max_length=100, blank=True)
    gpu_count = models.PositiveSmallIntegerField(default=1)
    model_name = models.CharField(max_length=200, blank=True)
    throughput = models.DecimalField(max_digits=18, decimal_places=4)
    throughput_unit = models.CharField(
        max_length=24, choices=ThroughputUnit.choices, default=ThroughputUnit.REQUESTS_PER_SECOND
    )
    p95_latency_ms = models.DecimalField(max_digits=12, decimal_places=3)
    hourly_price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    measured_on = models.DateField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workload_id", "instance_type", "-measured_on"]
        constraints = [
            # A CSV re-import of the same run updates it instead of adding a twin.
            models.UniqueConstraint(
                fields=["workload", "instance_type", "gpu_count", "measured_on"], name="one_benchmark_per_run"
            ),
            models.CheckConstraint(condition=Q(throughput__gt=0), name="benchmark_throughput_positive"),
            models.CheckConstraint(condition=Q(hourly_price__gte=0), name="benchmark_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.workload} on {self.instance_type}: {self.throughput} {self.get_throughput_unit_display()}"


class ManagedApiPrice(models.Model):
    """A managed model API's list price, entered by the user, to compare self-hosting with."""

    provider_name = models.CharField(max_length=100)
    model_name = models.CharField(max_length=200)
    input_price_per_1m_tokens = models.DecimalField(**MONEY, null=True, blank=True)
    output_price_per_1m_tokens = models.DecimalField(**MONEY, null=True, blank=True)
    price_per_1k_requests = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    compared_workloads = models.ManyToManyField(Workload, blank=True, related_name="managed_api_prices")
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_name", "model_name"]
        constraints = [
            models.UniqueConstraint(fields=["provider_name", "model_name"], name="unique_managed_api_price"),
            models.CheckConstraint(
                condition=Q(input_price_per_1m_tokens__isnull=False) | Q(price_per_1k_requests__isnull=False),
                name="managed_api_price_has_a_price",
            ),
        ]

    def __str__(self):
        return f"{self.provider_name} {self.model_name}"
