from django.db import models

from finops.models.costs import MONEY


class IngestRun(models.Model):
    """One attempt to load one billing file. Kept for every outcome, failures included."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped (identical file already loaded)"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=1000, help_text="Path, upload name or s3:// URI.")
    format = models.CharField(max_length=32, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the bytes.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    rows_loaded = models.PositiveBigIntegerField(default=0)
    rows_replaced = models.PositiveBigIntegerField(default=0)
    total_billed_cost = models.DecimalField(**MONEY, null=True, blank=True)
    total_effective_cost = models.DecimalField(**MONEY, null=True, blank=True)
    billing_periods = models.JSONField(
        default=list, blank=True, help_text="The (provider, account, period) keys loaded."
    )
    message = models.TextField(blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["checksum", "status"], name="ingest_checksum_idx")]

    def __str__(self):
        return f"{self.source} ({self.status})"
