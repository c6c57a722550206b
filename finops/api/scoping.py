"""Relational fields and filters that offer only what the requesting user may see.

Another team's id then reads exactly like an id that does not exist: a 400 naming the field on
a write, never a hint that the object is there."""

import django_filters
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from rest_framework import serializers

from finops.models import Team, Workload
from finops.selectors.access import visible_teams, workloads_for_user


def _requesting_user(field):
    request = field.context.get("request")
    return request.user if request is not None else None


class VisibleTeamField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = _requesting_user(self)
        return visible_teams(user) if user is not None else Team.objects.none()


class VisibleWorkloadField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = _requesting_user(self)
        return workloads_for_user(user) if user is not None else Workload.objects.none()


class VisibleWorkloadsField(serializers.ManyRelatedField):
    """Workload ids, accepting only visible workloads and listing only those: a leader may link
    another team's workload, and a member of this team must not learn of it."""

    def __init__(self, **kwargs):
        super().__init__(child_relation=VisibleWorkloadField(), **kwargs)
        self._visible_team_ids = None

    def get_attribute(self, instance):
        if self._visible_team_ids is None:  # once per response, not once per row
            user = _requesting_user(self)
            teams = visible_teams(user) if user is not None else Team.objects.none()
            self._visible_team_ids = set(teams.values_list("pk", flat=True))
        linked = super().get_attribute(instance)
        return [workload for workload in linked if workload.team_id in self._visible_team_ids]


class ActiveUserField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return get_user_model().objects.filter(is_active=True)


def owner_sees_team(owner, team: Team) -> bool:
    return visible_teams(owner).filter(pk=team.pk).exists()


def current_values(serializer: serializers.Serializer, attrs: dict, names: tuple[str, ...]) -> dict:
    """The values a write leaves behind: the instance's, overlaid by what this request sends
    (a PATCH sends only some fields, yet rules span several)."""
    values = {name: getattr(serializer.instance, name, None) for name in names}
    values.update({name: attrs[name] for name in names if name in attrs})
    return values


CURRENCY_CODE = RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code in capitals, such as USD.")


def currency_field() -> serializers.CharField:
    return serializers.CharField(max_length=3, validators=[CURRENCY_CODE], default="USD")


def _teams_for_request(request):
    return visible_teams(request.user) if request is not None else Team.objects.none()


def _workloads_for_request(request):
    return workloads_for_user(request.user) if request is not None else Workload.objects.none()


def team_filter(field_name: str = "team") -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(field_name=field_name, queryset=_teams_for_request)


def workload_filter(field_name: str = "workload", *, distinct: bool = False) -> django_filters.ModelChoiceFilter:
    """distinct for a many-to-many field, where a join would repeat rows."""
    return django_filters.ModelChoiceFilter(
        field_name=field_name, queryset=_workloads_for_request, distinct=distinct
    )
