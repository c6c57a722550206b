import numpy as np
from django.db import models
from django.db.models import Q

from finops.models.workloads import Workload


class GpuSample(models.Model):
    """Utilization of one GPU (or one MIG slice of it) at one moment, at the resolution the
    source recorded. Field names are those of `ingest.gpu_schema`."""

    ingest_run = models.ForeignKey("finops.IngestRun", on_delete=models.CASCADE, related_name="gpu_samples")
    workload = models.ForeignKey(Workload, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sampled_at = models.DateTimeField()
    host = models.CharField(max_length=255)
    gpu_uuid = models.CharField(max_length=100)
    mig_instance = models.CharField(max_length=50, blank=True)
    gpu_index = models.CharField(max_length=20, blank=True)
    pci_bus_id = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    pod = models.CharField(max_length=255, blank=True)
    namespace = models.CharField(max_length=255, blank=True)
    container = models.CharField(max_length=255, blank=True)
    utilization = models.FloatField(help_text="Percent of the interval the GPU was busy, 0-100.")
    memory_utilization = models.FloatField(null=True, blank=True)
    memory_used_mib = models.FloatField(null=True, blank=True)
    memory_total_mib = models.FloatField(null=True, blank=True)
    power_watts = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["host", "sampled_at"], name="gpu_sample_host_idx"),
            models.Index(fields=["sampled_at"], name="gpu_sample_time_idx"),
        ]

    def __str__(self):
        return f"{self.host} {self.gpu_uuid} {self.sampled_at:%Y-%m-%d %H:%M} {self.utilization:.0f}%"


class GpuHourly(models.Model):
    """Rollup of samples per hour, GPU, MIG slice and workload.

    A physical GPU shared by several workloads (MIG slices, time-slicing) is split by measured
    share: this row's part of the GPU-hour is `samples / gpu_samples`, where `gpu_samples`
    counts every sample of the physical GPU in that hour. Integer counts keep the split exact:
    the parts of one GPU-hour always add up to exactly one GPU-hour."""

    hour = models.DateTimeField()
    host = models.CharField(max_length=255)
    gpu_uuid = models.CharField(max_length=100)
    mig_instance = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, null=True, related_name="+")
    team = models.ForeignKey("finops.Team", on_delete=models.CASCADE, null=True, related_name="+")
    samples = models.PositiveIntegerField()
    utilization_avg = models.FloatField()
    utilization_max = models.FloatField()
    gpu_samples = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["hour"], name="gpu_hourly_hour_idx"),
            models.Index(fields=["workload", "hour"], name="gpu_hourly_workload_idx"),
            models.Index(fields=["host", "hour"], name="gpu_hourly_host_idx"),
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.host} {self.gpu_uuid} {self.utilization_avg:.0f}%"


class GpuAssignmentRule(models.Model):
    """Assigns GPU samples to a workload: by host, Kubernetes namespace or pod, GPU UUID or
    MIG slice. Lowest priority first; the first rule whose every given criterion matches wins,
    so plain VMs and bare metal (host rules) work as well as Kubernetes (pod labels)."""

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="gpu_assignment_rules")
    priority = models.PositiveIntegerField(default=100)
    host_pattern = models.CharField(max_length=255, blank=True, help_text="Shell-style, e.g. gpu-node-*")
    namespace = models.CharField(max_length=255, blank=True)
    pod_pattern = models.CharField(max_length=255, blank=True, help_text="Shell-style, e.g. llm-gateway-*")
    gpu_uuid = models.CharField(max_length=100, blank=True)
    mig_instance = models.CharField(max_length=50, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(host_pattern="") | ~Q(namespace="") | ~Q(pod_pattern="") | ~Q(gpu_uuid=""),
                name="gpu_rule_has_a_criterion",
            )
        ]

    def __str__(self):
        return f"#{self.priority} → {self.workload}"


class GpuWorkloadHourly(models.Model):
    """GPU-hours per hour, workload and GPU model, summed from GpuHourly so that the pages read
    a few rows per workload-hour rather than one per device-hour (a 500-GPU fleet writes 12k
    device-hours a day). `gpu_hours` is the workload's measured share of the devices it ran on;
    `busy_gpu_hours` is that share times each device's average utilization."""

    hour = models.DateTimeField()
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, null=True, related_name="+")
    team = models.ForeignKey("finops.Team", on_delete=models.CASCADE, null=True, related_name="+")
    model_name = models.CharField(max_length=200, blank=True)
    gpu_hours = models.FloatField()
    busy_gpu_hours = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["hour"], name="gpu_workload_hour_idx"),
            models.Index(fields=["workload", "hour"], name="gpu_workload_workload_idx"),
            models.Index(fields=["team", "hour"], name="gpu_workload_team_idx"),
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.workload_id} {self.gpu_hours:.2f} GPU-h"


# Little-endian whatever the machine, so the stored bytes mean the same everywhere. Sample
# counts are whole numbers; busy samples (utilization × samples) are the exact float64 sums.
HOURLY_SAMPLES_DTYPE = np.dtype("<i4")
HOURLY_BUSY_SAMPLES_DTYPE = np.dtype("<f8")


def hourly_encode(values, dtype: np.dtype) -> bytes:
    """A day's hourly values packed as `dtype` (one of the two above); a count too large for
    32 bits raises OverflowError rather than wrapping."""
    return np.asarray(values, dtype=dtype).tobytes()


def hourly_decode(data: bytes | memoryview, dtype: np.dtype) -> np.ndarray:
    """The array hourly_encode packed (read-only: it shares the bytes' memory)."""
    return np.frombuffer(data, dtype=dtype)


class GpuDeviceDaily(models.Model):
    """Samples and busy samples per reporting day (REPORTING_TIME_ZONE) and device, in all and
    hour by hour, so the heatmap picks its least-utilized devices and draws their hours from
    one row per device-day (a month of 60 devices: 1,800 rows, not 43,000 device-hours)."""

    day = models.DateField()
    host = models.CharField(max_length=255)
    gpu_uuid = models.CharField(max_length=100)
    mig_instance = models.CharField(max_length=50, blank=True)
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, null=True, related_name="+")
    team = models.ForeignKey("finops.Team", on_delete=models.CASCADE, null=True, related_name="+")
    samples = models.PositiveIntegerField()
    busy_samples = models.FloatField(help_text="Sum of utilization (0-100) × samples over the day's hours.")
    # The day's hours as packed arrays (HOURLY_SAMPLES_DTYPE, HOURLY_BUSY_SAMPLES_DTYPE; read
    # and written with hourly_decode / hourly_encode): element i is the hour starting i hours
    # after the day's midnight (23 or 25 hours on the days clocks change). Bytes, not JSON: the
    # heatmap reads a month of 60 devices (1,680 rows × 2 arrays) on every GPU page; parsing
    # them as JSON was half its time, and numpy reads the bytes as they are.
    hourly_samples = models.BinaryField(default=bytes)
    hourly_busy_samples = models.BinaryField(default=bytes)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="gpu_device_day_idx"),
            models.Index(fields=["team", "day"], name="gpu_device_team_idx"),
        ]

    def __str__(self):
        return f"{self.day} {self.host} {self.gpu_uuid}"
