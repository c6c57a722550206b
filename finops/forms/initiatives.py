from django import forms

from finops.forms.fields import (
    DATE_INPUT,
    CurrencyField,
    WorkloadMultipleChoiceField,
    user_sees_team,
    users_who_see,
)
from finops.models import Initiative
from finops.selectors.access import user_sees_all_teams, visible_teams, workloads_for_user


class InitiativeForm(forms.ModelForm):
    """Anyone who sees a team records its initiatives. Only leaders and staff, who see every
    team, may link workloads of another team than the initiative's."""

    implementation_cost = forms.DecimalField(max_digits=24, decimal_places=10, min_value=0, initial=0)
    baseline_days = forms.IntegerField(
        min_value=1,
        max_value=32767,
        initial=28,
        help_text="Days before the go-live date whose cost per inference is the baseline.",
    )

    class Meta:
        model = Initiative
        fields = [
            "title",
            "team",
            "workloads",
            "technique",
            "status",
            "owner",
            "started_on",
            "effective_on",
            "expected_monthly_saving",
            "implementation_cost",
            "currency",
            "baseline_days",
            "notes",
        ]
        field_classes = {"currency": CurrencyField, "workloads": WorkloadMultipleChoiceField}
        widgets = {
            "started_on": DATE_INPUT,
            "effective_on": DATE_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"effective_on": "Effective on (go-live)"}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.sees_all_teams = user_sees_all_teams(user)
        teams = visible_teams(user)
        self.fields["team"].queryset = teams.order_by("name")
        self.fields["workloads"].queryset = workloads_for_user(user)
        self.fields["owner"].queryset = users_who_see(teams, also_pk=self.instance.owner_id)
        # Workloads a leader linked from teams this user cannot see are never shown to them;
        # saving the list they were shown keeps those links.
        self.unseen_workloads = []
        if self.instance.pk is not None:
            self.unseen_workloads = list(self.instance.workloads.exclude(team__in=teams))

    def clean(self):
        cleaned = super().clean()
        status, effective_on = cleaned.get("status"), cleaned.get("effective_on")
        started_on = cleaned.get("started_on")
        if status == Initiative.Status.DONE and effective_on is None and "effective_on" not in self.errors:
            self.add_error("effective_on", "A done initiative needs the day it went live.")
        if started_on and effective_on and started_on > effective_on:
            self.add_error("effective_on", "The go-live date is before the start date.")
        team, owner = cleaned.get("team"), cleaned.get("owner")
        if team is not None and owner is not None:
            unchanged = (owner.pk, team.pk) == (self.instance.owner_id, self.instance.team_id)
            if not unchanged and not user_sees_team(owner, team):
                self.add_error("owner", f"{owner.get_username()} cannot see {team.name}.")
        workloads = cleaned.get("workloads")
        if team is not None and workloads is not None and not self.sees_all_teams:
            if any(workload.team_id != team.pk for workload in workloads):
                self.add_error("workloads", f"Pick workloads of {team.name}.")
        if "workloads" in cleaned and self.unseen_workloads:
            cleaned["workloads"] = [*cleaned["workloads"], *self.unseen_workloads]
        return cleaned
