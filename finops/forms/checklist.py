from django import forms
from django.contrib.auth import get_user_model

from finops.forms.fields import SEES_EVERY_TEAM
from finops.models import ChecklistItem, Team, TeamMembership


class ChecklistItemForm(forms.ModelForm):
    """What a team says about one step, for the team or one of its workloads. The instance
    carries the team, workload and step; the row is created on its first save.

    A page holds dozens of these forms, so the owners offered (people who see the team) are
    read once per team by `checklist_owners` and passed in, not queried per form."""

    owner = forms.ChoiceField(required=False)
    evidence_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=ChecklistItem._meta.get_field("evidence_url").max_length,
        widget=forms.URLInput(attrs={"size": 24, "placeholder": "https://"}),
    )

    class Meta:
        model = ChecklistItem
        fields = ["status", "owner", "notes", "evidence_url"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2, "cols": 28})}

    def __init__(self, *args, owners: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.owners = {str(user.pk): user for user in owners}
        if self.instance.owner_id is not None:
            # Someone who has since left the team stays shown as the owner until changed.
            self.owners.setdefault(str(self.instance.owner_id), self.instance.owner)
        self.fields["owner"].choices = [("", "—")] + [
            (pk, user.get_username()) for pk, user in self.owners.items()
        ]
        if self.prefix:
            # The prefix is also the id of the <form>: the fields sit in the cells of a table
            # row, which cannot hold a form of its own, and name it with form="…".
            for field in self.fields.values():
                field.widget.attrs["form"] = self.prefix

    def clean_owner(self):
        return self.owners.get(self.cleaned_data["owner"])

    def save(self) -> ChecklistItem:
        subject = self.instance
        values = {name: self.cleaned_data[name] for name in self._meta.fields}
        # One row per (team, workload, step) even when two people save the same step at once.
        self.instance, _created = ChecklistItem.objects.update_or_create(
            team_id=subject.team_id, workload_id=subject.workload_id, step=subject.step, defaults=values
        )
        return self.instance


def checklist_owners(teams: list[Team]) -> dict[int, list]:
    """For each team, the active users who see it (its members, every leader, staff), by name."""
    leaders_and_staff = get_user_model().objects.filter(SEES_EVERY_TEAM, is_active=True).distinct()
    everywhere = {user.pk: user for user in leaders_and_staff}
    by_team = {team.pk: dict(everywhere) for team in teams}
    memberships = TeamMembership.objects.filter(team__in=teams, user__is_active=True).select_related("user")
    for membership in memberships:
        by_team[membership.team_id][membership.user_id] = membership.user
    return {
        team_pk: sorted(users.values(), key=lambda user: user.get_username())
        for team_pk, users in by_team.items()
    }
