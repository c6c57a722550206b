"""Form fields and choices shared by the management forms."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from finops.models import Team, TeamMembership
from finops.selectors.access import visible_teams

# Leaders and staff see every team (finops.selectors.access), so may own any team's work.
SEES_EVERY_TEAM = Q(is_staff=True) | Q(is_superuser=True) | Q(memberships__role=TeamMembership.Role.LEADER)
CURRENCY_CODE = RegexValidator(r"^[A-Z]{3}\Z", "An ISO 4217 code in capitals, such as USD.")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CurrencyField(forms.CharField):
    default_validators = [CURRENCY_CODE]

    def to_python(self, value):
        return super().to_python(value).upper()


class WorkloadChoiceField(forms.ModelChoiceField):
    """Workloads named with their team: two teams may each have a "Reranker"."""

    def label_from_instance(self, workload):
        return f"{workload.team.name} · {workload.name}"


class WorkloadMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, workload):
        return f"{workload.team.name} · {workload.name}"


def users_who_see(teams: QuerySet[Team], *, also_pk: int | None = None):
    """Active users who see at least one of `teams` (their members, every leader, staff): the
    people who may own that team's work. `also_pk` keeps a current owner selectable."""
    chosen = Q(is_active=True) & (SEES_EVERY_TEAM | Q(memberships__team__in=teams))
    if also_pk is not None:
        chosen |= Q(pk=also_pk)
    return get_user_model().objects.filter(chosen).distinct().order_by(get_user_model().USERNAME_FIELD)


def user_sees_team(user, team: Team) -> bool:
    return visible_teams(user).filter(pk=team.pk).exists()
