from django.conf import settings
from django.db import models
from django.db.models import Q

from finops.models.costs import MONEY
from finops.models.teams import Team
from finops.models.workloads import Workload


class TcoCategory(models.TextChoices):
    """White paper §3. Compute is the direct cost; every other category is a hidden cost."""

    COMPUTE = "compute", "Compute"
    IDLE_WASTE = "idle_waste", "Idle waste"
    STORAGE = "storage", "Storage"
    DATA_EGRESS = "data_egress", "Data egress"
    VIRTUALIZATION_OVERHEAD = "virtualization_overhead", "Virtualization overhead"
    MANAGED_SERVICE_PREMIUM = "managed_service_premium", "Managed service premium"
    LICENSING = "licensing", "Licensing"
    RETRAINING_VERSIONING = "retraining_versioning", "Retraining and versioning"
    OPERATIONS = "operations", "Operations"
    OTHER = "other", "Other"


# What a cost record carries until a rule classifies it: shown as such, never guessed.
UNCLASSIFIED = ""
HIDDEN_CATEGORIES = tuple(c for c in TcoCategory.values if c != TcoCategory.COMPUTE)


class TcoRule(models.Model):
    """Classifies cost records into a TCO category. Rules are tried in ascending priority;
    the first rule whose every given criterion matches wins. Criteria are case-insensitive
    shell-style patterns (`*data transfer*`) over FOCUS columns, or a tag."""

    name = models.CharField(max_length=200)
    priority = models.PositiveIntegerField(default=100)
    provider_name = models.CharField(max_length=200, blank=True)
    service_category = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    sku_id = models.CharField(max_length=200, blank=True)
    charge_description = models.CharField(max_length=400, blank=True)
    resource_type = models.CharField(max_length=200, blank=True)
    consumed_unit = models.CharField(max_length=200, blank=True)
    tag_key = models.CharField(max_length=200, blank=True)
    tag_value = models.CharField(max_length=400, blank=True, help_text="Leave blank to match any value of the tag.")

    category = models.CharField(max_length=32, choices=TcoCategory.choices)
    is_gpu = models.BooleanField(default=False, help_text="GPU instance time (compute only).")
    managed_premium_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Share of the charge that is a managed-service premium over the equivalent raw "
        "instance price, in percent. That share is reported as managed_service_premium.",
    )
    builtin = models.BooleanField(default=False, editable=False)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    CRITERIA = (
        "provider_name",
        "service_category",
        "service_name",
        "sku_id",
        "charge_description",
        "resource_type",
        "consumed_unit",
        "tag_key",
    )

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(provider_name="", service_category="", service_name="", sku_id="",
                             charge_description="", resource_type="", consumed_unit="", tag_key=""),
                name="tco_rule_has_a_criterion",
            ),
            models.CheckConstraint(
                condition=Q(tag_value="") | ~Q(tag_key=""), name="tco_rule_tag_value_needs_key"
            ),
            models.CheckConstraint(
                condition=Q(managed_premium_percent__gte=0, managed_premium_percent__lte=100),
                name="tco_rule_premium_is_a_percentage",
            ),
        ]

    def __str__(self):
        return f"#{self.priority} {self.name} → {self.category}"


class TcoLineItem(models.Model):
    """A cost that is not on the cloud bill (licences, MLOps tools, engineer time for
    retraining and operations), entered by hand, once or every month."""

    class Recurrence(models.TextChoices):
        ONE_OFF = "one_off", "One-off"
        MONTHLY = "monthly", "Monthly"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tco_line_items")
    workload = models.ForeignKey(
        Workload, on_delete=models.CASCADE, null=True, blank=True, related_name="tco_line_items"
    )
    category = models.CharField(max_length=32, choices=TcoCategory.choices)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    recurrence = models.CharField(max_length=16, choices=Recurrence.choices, default=Recurrence.MONTHLY)
    start_date = models.DateField(help_text="The day of a one-off cost; the first month of a monthly one.")
    end_date = models.DateField(null=True, blank=True, help_text="Last day of a monthly cost; blank while ongoing.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="tco_line_item_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.description} {self.amount} {self.currency} ({self.recurrence})"
