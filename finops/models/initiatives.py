from django.conf import settings
from django.db import models
from django.db.models import Q

from finops.models.costs import MONEY
from finops.models.teams import Team
from finops.models.workloads import Workload


class Initiative(models.Model):
    """An optimization (white paper §5-7). Its realized saving is measured from the data by
    `finops.services.initiatives`, never typed in."""

    class Technique(models.TextChoices):
        QUANTIZATION = "quantization", "Quantization"
        PRUNING = "pruning", "Pruning"
        BATCHING = "batching", "Batching"
        CONTINUOUS_BATCHING = "continuous_batching", "Continuous batching"
        RIGHT_SIZING = "right_sizing", "Right-sizing"
        FRACTIONAL_GPU = "fractional_gpu", "Fractional GPUs"
        AUTOSCALING_WARM_POOLS = "autoscaling_warm_pools", "Autoscaling and warm pools"
        SPOT_OR_COMMITMENT = "spot_or_commitment", "Spot or commitment"
        MIGRATE_IN_HOUSE = "migrate_in_house", "Migrate in-house"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        ABANDONED = "abandoned", "Abandoned"

    title = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="initiatives")
    workloads = models.ManyToManyField(Workload, related_name="initiatives")
    technique = models.CharField(max_length=32, choices=Technique.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_on = models.DateField(null=True, blank=True)
    effective_on = models.DateField(
        null=True,
        blank=True,
        help_text="The day the change went live: the baseline is measured before it, the saving from it.",
    )
    expected_monthly_saving = models.DecimalField(**MONEY, default=0)
    implementation_cost = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=3, default="USD")
    baseline_days = models.PositiveSmallIntegerField(default=28)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(baseline_days__gte=1), name="initiative_baseline_days_positive"),
            models.CheckConstraint(condition=Q(implementation_cost__gte=0), name="initiative_cost_not_negative"),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(effective_on__isnull=False), name="initiative_done_has_effective_date"
            ),
        ]

    def __str__(self):
        return self.title
