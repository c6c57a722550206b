from django import forms

from finops.forms.fields import DATE_INPUT, CurrencyField, WorkloadChoiceField
from finops.models import TcoLineItem
from finops.selectors.access import visible_teams, workloads_for_user


class TcoLineItemForm(forms.ModelForm):
    """Teams offered are the ones `user` may write: their own, or every team for leaders."""

    class Meta:
        model = TcoLineItem
        fields = [
            "team",
            "workload",
            "category",
            "description",
            "amount",
            "currency",
            "recurrence",
            "start_date",
            "end_date",
        ]
        field_classes = {"currency": CurrencyField, "workload": WorkloadChoiceField}
        widgets = {"start_date": DATE_INPUT, "end_date": DATE_INPUT}
        help_texts = {"workload": "Blank when the cost is the team's as a whole."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = visible_teams(user).order_by("name")
        self.fields["workload"].queryset = workloads_for_user(user)

    def clean(self):
        cleaned = super().clean()
        team, workload = cleaned.get("team"), cleaned.get("workload")
        if team is not None and workload is not None and workload.team_id != team.pk:
            self.add_error("workload", f"{workload.name} belongs to {workload.team.name}, not {team.name}.")
        end_date, start_date = cleaned.get("end_date"), cleaned.get("start_date")
        if end_date is not None:
            if cleaned.get("recurrence") == TcoLineItem.Recurrence.ONE_OFF:
                self.add_error("end_date", "A one-off cost has no end date; leave it blank.")
            elif start_date is not None and end_date < start_date:
                self.add_error("end_date", "The end date is before the start date.")
        return cleaned
