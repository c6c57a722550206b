from django.conf import settings
from django.db import models
from django.db.models import Q

from finops.models.teams import Team
from finops.models.workloads import Workload


class ChecklistStep(models.TextChoices):
    """The white paper's five-step cost optimization checklist (§8), in its order."""

    AUDIT_TCO = "audit_tco", "Audit your TCO"
    BENCHMARK_MODELS = "benchmark_models", "Benchmark your models"
    LOW_HANGING_FRUIT = "low_hanging_fruit", "Go after low-hanging fruit"
    ASSESS_PLATFORMS = "assess_platforms", "Assess platforms (build vs buy)"
    START_SMALL_AND_SCALE = "start_small_and_scale", "Start small and scale"


class ChecklistItem(models.Model):
    """What a team says about one checklist step, for the team or one of its workloads.
    Evidence found in the data is shown beside it by `finops.selectors.checklist`."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="checklist_items")
    workload = models.ForeignKey(
        Workload, on_delete=models.CASCADE, null=True, blank=True, related_name="checklist_items"
    )
    step = models.CharField(max_length=32, choices=ChecklistStep.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    evidence_url = models.URLField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team_id", "workload_id", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "step"], condition=Q(workload__isnull=True), name="one_team_checklist_step"
            ),
            models.UniqueConstraint(
                fields=["team", "workload", "step"], condition=Q(workload__isnull=False),
                name="one_workload_checklist_step",
            ),
        ]

    def __str__(self):
        subject = self.workload or self.team
        return f"{subject}: {self.get_step_display()} ({self.status})"
