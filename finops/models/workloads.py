from django.db import models
from django.db.models import Q

from finops.models.teams import Team


class Workload(models.Model):
    """One inference service or model, owned by a team."""

    class Hosting(models.TextChoices):
        SELF_HOSTED = "self_hosted", "Self-hosted"
        MANAGED_API = "managed_api", "Managed API"

    class InferenceUnit(models.TextChoices):
        REQUEST = "request", "Request"
        TOKEN = "token", "Token"
        IMAGE = "image", "Image"
        SECOND_OF_AUDIO = "audio_second", "Second of audio"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="workloads")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    hosting = models.CharField(
        max_length=16, choices=Hosting.choices, default=Hosting.SELF_HOSTED
    )
    model_name = models.CharField(max_length=200, blank=True)
    inference_unit = models.CharField(
        max_length=16, choices=InferenceUnit.choices, default=InferenceUnit.REQUEST
    )
    description = models.TextField(blank=True)
    p95_latency_target_ms = models.DecimalField(
        max_digits=12, decimal_places=3, null=True, blank=True,
        help_text="The latency the cheapest benchmarked instance must meet.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_workload_name")
        ]

    def __str__(self):
        return self.name


class AllocationRule(models.Model):
    """Assigns cost records to a workload. Rules are tried in ascending priority; the
    first rule whose every given criterion matches wins. Unmatched spend stays unallocated."""

    workload = models.ForeignKey(
        Workload, on_delete=models.CASCADE, related_name="allocation_rules"
    )
    priority = models.PositiveIntegerField(default=100)
    tag_key = models.CharField(max_length=200, blank=True)
    tag_value = models.CharField(
        max_length=400, blank=True, help_text="Leave blank to match any value of the tag."
    )
    account_id = models.CharField(
        max_length=200, blank=True, help_text="Matches BillingAccountId or SubAccountId."
    )
    resource_id_pattern = models.CharField(
        max_length=400,
        blank=True,
        help_text="Shell-style pattern over ResourceId, e.g. arn:aws:ec2:*:i-0abc*",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(tag_key="") | ~Q(account_id="") | ~Q(resource_id_pattern=""),
                name="allocation_rule_has_a_criterion",
            ),
            models.CheckConstraint(
                condition=Q(tag_value="") | ~Q(tag_key=""),
                name="allocation_rule_tag_value_needs_key",
            ),
        ]

    def __str__(self):
        return f"#{self.priority} → {self.workload}"
