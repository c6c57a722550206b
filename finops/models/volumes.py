from django.db import models

from finops.models.workloads import Workload


class InferenceVolume(models.Model):
    """Requests and tokens one workload served on one reporting day. One row per workload and
    day: a push sets the day's figures rather than adding to them, so retries never double
    count."""

    class Source(models.TextChoices):
        API = "api", "REST API"
        CSV = "csv", "CSV upload"
        PROMETHEUS = "prometheus", "Prometheus"

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="inference_volumes")
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "workload_id"]
        constraints = [
            models.UniqueConstraint(fields=["workload", "day"], name="one_volume_per_workload_day")
        ]

    def __str__(self):
        return f"{self.workload} {self.day}: {self.requests} requests"
