from datetime import date, timedelta

from django import forms
from django.utils import timezone

from finops.selectors.access import visible_teams, workloads_for_user
from finops.selectors.spend import GRANULARITIES, GROUPS, SpendFilter

PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "custom": "Custom",
}
MAX_DAYS = 3 * 366


class DashboardFilterForm(forms.Form):
    """The filter bar every dashboard page shares. Its state lives in the query string, so a
    view can be bookmarked and shared; choices are limited to what the user may see."""

    preset = forms.ChoiceField(choices=PRESETS.items(), required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day = forms.DateField(required=False, widget=forms.HiddenInput, help_text="Show the 30 days up to this day.")
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All teams")
    workload = forms.ModelChoiceField(queryset=None, required=False, empty_label="All workloads")
    provider = forms.CharField(required=False, max_length=100)
    service = forms.CharField(required=False, max_length=200)

    def __init__(self, data, *, user, today: date | None = None):
        super().__init__(data)
        self.today = today or timezone.localdate()
        self.fields["team"].queryset = visible_teams(user).order_by("name")
        self.fields["workload"].queryset = workloads_for_user(user)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if cleaned.get("day"):
            start, end = cleaned["day"] - timedelta(days=29), cleaned["day"]
        elif start or end:
            if not (start and end):
                raise forms.ValidationError("Give both a start and an end date.")
        else:
            start, end = self._preset_range(cleaned.get("preset") or "30d")
        if start > end:
            self.add_error("end", "The end date is before the start date.")
        elif (end - start).days > MAX_DAYS:
            self.add_error("end", "Choose at most three years.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def _preset_range(self, preset: str) -> tuple[date, date]:
        today = self.today
        if preset == "mtd":
            return today.replace(day=1), today
        if preset == "last_month":
            last_day = today.replace(day=1) - timedelta(days=1)
            return last_day.replace(day=1), last_day
        days = {"7d": 7, "90d": 90}.get(preset, 30)
        return today - timedelta(days=days - 1), today

    def spend_filter(self) -> SpendFilter:
        data = self.cleaned_data
        return SpendFilter(
            start=data["start"],
            end=data["end"],
            team=data.get("team"),
            workload=data.get("workload"),
            provider=data.get("provider", ""),
            service=data.get("service", ""),
        )


class SpendViewForm(DashboardFilterForm):
    group_by = forms.ChoiceField(choices=[(g, g.replace("_", " ").capitalize()) for g in GROUPS], required=False)
    granularity = forms.ChoiceField(choices=[(g, g.capitalize()) for g in GRANULARITIES], required=False)

    def clean_group_by(self):
        return self.cleaned_data["group_by"] or "team"

    def clean_granularity(self):
        return self.cleaned_data["granularity"] or "day"
