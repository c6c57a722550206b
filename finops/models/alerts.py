"""Spike alerts: a rule watches the daily spend of one scope, an alert is one day it fired,
and a delivery is one e-mail about it to one address."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models
from django.db.models import Q
from django.utils import timezone

from finops.models.costs import MONEY
from finops.models.tco import TcoCategory
from finops.models.teams import Team
from finops.models.workloads import Workload


class AlertRule(models.Model):
    """What to watch and when to speak up.

    The scope is the conjunction of the filters that are set: no team, workload or service
    means all spend (unallocated included); a team narrows to that team; a workload to one
    workload (its team is kept in `team`); a service name to that service, within the team if
    one is set; a TCO category to the spend classified into it (a managed premium carved out of
    compute by a rule's percentage stays with its compute rows here).
    """

    class Method(models.TextChoices):
        ROBUST_ZSCORE = "robust_zscore", "Robust z-score, day-of-week aware"
        PERCENT_OVER_BASELINE = "percent_over_baseline", "Percent over trailing baseline"
        DAILY_BUDGET = "daily_budget", "Absolute daily budget"
        UNIT_COST = "unit_cost", "Unit cost (per 1k inferences, else per 1M billed tokens) over baseline"

    # What `threshold` means for each method, shown in forms and e-mails.
    THRESHOLD_MEANING = {
        Method.ROBUST_ZSCORE: "robust z-score",
        Method.PERCENT_OVER_BASELINE: "percent over baseline",
        Method.DAILY_BUDGET: "daily budget",
        Method.UNIT_COST: "percent over baseline unit cost",
    }
    DEFAULT_THRESHOLDS = {
        Method.ROBUST_ZSCORE: Decimal("3.25"),
        Method.PERCENT_OVER_BASELINE: Decimal(50),
        Method.UNIT_COST: Decimal(30),
    }

    name = models.CharField(max_length=200)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules",
        help_text="Blank: every team and the unallocated spend (visible to leaders only).",
    )
    workload = models.ForeignKey(
        Workload, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    service_name = models.CharField(max_length=200, blank=True, help_text="FOCUS ServiceName, exactly.")
    tco_category = models.CharField(max_length=32, blank=True, choices=TcoCategory.choices)
    currency = models.CharField(
        max_length=3, blank=True, help_text="Blank: each billing currency is watched on its own."
    )
    method = models.CharField(max_length=32, choices=Method.choices, default=Method.ROBUST_ZSCORE)
    threshold = models.DecimalField(
        max_digits=24, decimal_places=4, validators=[MinValueValidator(0)],
        help_text="z-score, percent, or the budget amount, depending on the method.",
    )
    min_amount = models.DecimalField(
        **MONEY, default=50, validators=[MinValueValidator(0)],
        help_text="Ignore spikes whose excess over the expected amount is smaller than this.",
    )
    window_days = models.PositiveSmallIntegerField(
        default=42, validators=[MinValueValidator(7)], help_text="Trailing days the baseline is computed from."
    )
    cooldown_days = models.PositiveSmallIntegerField(
        default=7,
        help_text="Spikes at most this many days apart are one incident: mailed once, again only if it doubles.",
    )
    notify_team = models.BooleanField(
        default=True, help_text="Mail the members of the rule's team (leaders, for a rule without team)."
    )
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    email_addresses = models.TextField(blank=True, help_text="More addresses, one per line.")
    unsubscribed = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(
        null=True, blank=True, help_text="Alerts are still recorded, but nobody is mailed until then."
    )
    is_default = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_default=True), name="one_default_alert_rule_per_team"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.workload_id:
            if self.team_id and self.workload.team_id != self.team_id:
                raise ValidationError({"workload": "The workload belongs to another team."})
            self.team_id = self.workload.team_id
        if self.method == self.Method.DAILY_BUDGET and not self.currency:
            raise ValidationError({"currency": "A daily budget needs its currency."})
        for address in self.extra_addresses():
            validate_email(address)

    @property
    def scope_label(self) -> str:
        parts = []
        if self.workload_id:
            parts.append(f"workload {self.workload.name}")
        if self.service_name:
            parts.append(f"service {self.service_name}")
        if self.tco_category:
            parts.append(TcoCategory(self.tco_category).label.lower())
        if self.team_id:
            parts.append(f"team {self.team.name}" if not parts else f"({self.team.name})")
        return " ".join(parts) if parts else "all spend"

    def extra_addresses(self) -> list[str]:
        return [line.strip() for line in self.email_addresses.splitlines() if line.strip()]

    def is_muted(self, now: datetime | None = None) -> bool:
        return bool(self.muted_until and self.muted_until > (now or timezone.now()))


class Alert(models.Model):
    """One day on which a rule fired, for one billing currency. A re-ingested (restated)
    bill updates the same row; it never creates a second one."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    scope_label = models.CharField(max_length=500, help_text="The rule's scope when it fired.")
    day = models.DateField()
    currency = models.CharField(max_length=3)
    observed_amount = models.DecimalField(**MONEY)
    expected_amount = models.DecimalField(**MONEY)
    details = models.JSONField(default=dict, blank=True, help_text="The method's statistics.")
    drivers = models.JSONField(
        default=dict, blank=True, help_text="{services: [...], resources: [...]}: what was behind the jump."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    notification_note = models.CharField(
        max_length=200, blank=True, help_text="Why nobody was mailed, when nobody was."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "day", "currency"], name="one_alert_per_rule_day_currency"),
        ]
        indexes = [models.Index(fields=["state", "day"], name="alert_state_day_idx")]

    def __str__(self):
        return f"{self.scope_label} {self.day}"

    @property
    def excess_amount(self):
        return self.observed_amount - self.expected_amount

    @property
    def excess_percent(self):
        if self.expected_amount <= 0:
            return None
        return (self.observed_amount / self.expected_amount - 1) * 100


class AlertDelivery(models.Model):
    """One e-mail about one alert to one address. A worker claims it with a conditional
    UPDATE (pending -> sending) before talking to SMTP, so it is sent at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField(max_length=320)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alert", "email"]
        constraints = [models.UniqueConstraint(fields=["alert", "email"], name="one_delivery_per_alert_address")]
        indexes = [models.Index(fields=["status", "claimed_at"], name="alert_delivery_status_idx")]

    def __str__(self):
        return f"{self.email} ({self.status})"
