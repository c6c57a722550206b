"""The cost optimization checklist in the REST API: what a team says about each step, for the
team as a whole or for one of its workloads. Scoped by team (another team's item is a 404);
anyone who sees a team keeps its checklist."""

import django_filters
from rest_framework import serializers, viewsets

from finops.api.scoping import (
    ActiveUserField,
    VisibleTeamField,
    VisibleWorkloadField,
    current_values,
    owner_sees_team,
    team_filter,
    workload_filter,
)
from finops.models import ChecklistItem
from finops.selectors.access import visible_teams


class ChecklistItemSerializer(serializers.ModelSerializer):
    team = VisibleTeamField()
    workload = VisibleWorkloadField(
        required=False, allow_null=True, help_text="null: the item is for the team as a whole."
    )
    owner = ActiveUserField(required=False, allow_null=True)

    class Meta:
        model = ChecklistItem
        fields = ["id", "team", "workload", "step", "status", "owner", "notes", "evidence_url", "updated_at"]
        # The unique constraints are checked in validate(): generated validators would make
        # `workload` a required field, though most items are for the team as a whole.
        validators = []

    def validate(self, attrs):
        values = current_values(self, attrs, ("team", "workload", "step", "owner"))
        team, workload = values["team"], values["workload"]
        if workload is not None and workload.team_id != team.pk:
            raise serializers.ValidationError({"workload": "The workload belongs to another team."})
        owner_changes = {"owner", "team"} & attrs.keys()
        if values["owner"] is not None and owner_changes and not owner_sees_team(values["owner"], team):
            raise serializers.ValidationError({"owner": "The owner cannot see this team."})
        twins = ChecklistItem.objects.filter(team=team, workload=workload, step=values["step"])
        if self.instance is not None:
            twins = twins.exclude(pk=self.instance.pk)
        if twins.exists():
            subject = "This workload" if workload is not None else "This team"
            raise serializers.ValidationError({"step": f"{subject} already has an item for this step."})
        return attrs


class ChecklistItemFilter(django_filters.FilterSet):
    team = team_filter()
    workload = workload_filter()
    team_level = django_filters.BooleanFilter(
        field_name="workload", lookup_expr="isnull",
        label="true: items for a team as a whole; false: items for one workload.",
    )

    class Meta:
        model = ChecklistItem
        fields = ["team", "workload", "team_level", "step", "status", "owner"]


class ChecklistItemViewSet(viewsets.ModelViewSet):
    serializer_class = ChecklistItemSerializer
    filterset_class = ChecklistItemFilter
    ordering_fields = ["step", "status", "updated_at", "id"]

    def get_queryset(self):
        return ChecklistItem.objects.filter(team__in=visible_teams(self.request.user)).order_by(
            "team_id", "workload_id", "step", "id"
        )
