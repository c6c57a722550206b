from django.db import models

from finops.models.costs import MONEY


class IngestKind(models.TextChoices):
    BILLING = "billing", "Billing export"
    GPU = "gpu", "GPU metrics"
    VOLUMES = "volumes", "Inference volumes"


class DataSource(models.Model):
    """A place exports arrive (a folder or an s3:// prefix), or a Prometheus server to query
    (`http(s)://` URI, format "prometheus"), ingested on a schedule."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=IngestKind.choices, default=IngestKind.BILLING)
    uri = models.CharField(
        max_length=1000, help_text="A local folder, s3://bucket/prefix, or a Prometheus server's base URL"
    )
    format = models.CharField(max_length=32, default="auto")
    # Prometheus sources: the PromQL to run and how to read it (README "Prometheus").
    options = models.JSONField(default=dict, blank=True)
    interval_minutes = models.PositiveIntegerField(default=360)
    enabled = models.BooleanField(default=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class IngestRun(models.Model):
    """One attempt to load one delivery: a billing file, or the parts of an export that sit in
    one folder, loaded together in one transaction. Kept for every outcome, failures included."""

    Kind = IngestKind

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped (identical file already loaded)"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=IngestKind.choices, default=IngestKind.BILLING)
    data_source = models.ForeignKey(
        DataSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    source = models.CharField(max_length=1000, help_text="File, folder, upload or s3:// URI.")
    format = models.CharField(max_length=100, blank=True)
    checksum = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 over the fingerprints of the files."
    )
    files = models.JSONField(default=list, blank=True, help_text="[{name, fingerprint, rows}]")
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
        indexes = [models.Index(fields=["kind", "checksum", "status"], name="ingest_checksum_idx")]

    def __str__(self):
        return f"{self.source} ({self.status})"
