"""Optimization initiatives in the REST API, scoped by their team (another team's is a 404).

Anyone who sees a team records and updates its initiatives: a team tracks its own work. Only
leaders and staff, who see every team, may link workloads of other teams to one."""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from finops.api.scoping import (
    ActiveUserField,
    VisibleTeamField,
    VisibleWorkloadsField,
    current_values,
    currency_field,
    owner_sees_team,
    team_filter,
    workload_filter,
)
from finops.models import Initiative
from finops.selectors.access import user_sees_all_teams, visible_teams
from finops.selectors.initiatives import initiative_results


class MeasuredSavingSerializer(serializers.Serializer):
    """What the data says the initiative saved (finops.selectors.initiatives), as of yesterday."""

    realized_saving = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    monthly_realized_saving = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    roi = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    payback_months = serializers.DecimalField(max_digits=24, decimal_places=1, allow_null=True)
    interval_low = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    interval_high = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    confidence = serializers.ChoiceField(choices=["none", "low", "medium", "high"])
    days_measured_after = serializers.IntegerField()
    reason = serializers.CharField(allow_blank=True)


def measured_saving(result) -> dict:
    interval = result.interval
    return {
        "realized_saving": result.realized_saving,
        "monthly_realized_saving": result.monthly_realized_saving,
        "roi": result.roi,
        "payback_months": result.payback_months,
        "interval_low": interval[0] if interval else None,
        "interval_high": interval[1] if interval else None,
        "confidence": result.confidence,
        "days_measured_after": min((w.after.days_measured for w in result.measured), default=0),
        "reason": result.reason,
    }


class InitiativeSerializer(serializers.ModelSerializer):
    team = VisibleTeamField()
    workloads = VisibleWorkloadsField(allow_empty=False)
    owner = ActiveUserField(required=False, allow_null=True)
    currency = currency_field()
    implementation_cost = serializers.DecimalField(
        max_digits=24, decimal_places=10, min_value=0, required=False
    )
    baseline_days = serializers.IntegerField(
        min_value=1, max_value=32767, required=False,
        help_text="Days before effective_on whose cost per inference is the baseline.",
    )

    measured = serializers.SerializerMethodField()

    class Meta:
        model = Initiative
        fields = [
            "id", "title", "team", "workloads", "technique", "status", "owner", "started_on", "effective_on",
            "expected_monthly_saving", "implementation_cost", "currency", "baseline_days", "notes",
            "created_at", "measured",
        ]

    @extend_schema_field(MeasuredSavingSerializer)
    def get_measured(self, initiative: Initiative) -> dict:
        results = self.context.get("measured_results") or {}
        result = results.get(initiative.pk)
        if result is None:
            user = self.context["request"].user
            result = initiative_results(user=user, initiatives=[initiative])[initiative.pk]
        return MeasuredSavingSerializer(measured_saving(result)).data

    def validate(self, attrs):
        values = current_values(self, attrs, ("team", "status", "started_on", "effective_on", "owner"))
        if values["status"] == Initiative.Status.DONE and values["effective_on"] is None:
            raise serializers.ValidationError({"effective_on": "A done initiative needs the day it went live."})
        if values["started_on"] and values["effective_on"] and values["started_on"] > values["effective_on"]:
            raise serializers.ValidationError({"effective_on": "effective_on must not be before started_on."})
        owner_changes = {"owner", "team"} & attrs.keys()
        if values["owner"] is not None and owner_changes and not owner_sees_team(values["owner"], values["team"]):
            raise serializers.ValidationError({"owner": "The owner cannot see this team."})
        if {"workloads", "team"} & attrs.keys() and not user_sees_all_teams(self._user()):
            workloads = attrs.get("workloads") or self._workloads_shown()
            if any(workload.team_id != values["team"].pk for workload in workloads):
                raise serializers.ValidationError({"workloads": "Pick workloads of the initiative's team."})
        return attrs

    def update(self, instance, validated_data):
        if "workloads" in validated_data:
            # Workloads a leader linked from teams this user cannot see were never shown to
            # them: replacing the list they were shown keeps those links.
            unseen = instance.workloads.exclude(team__in=visible_teams(self._user()))
            validated_data["workloads"] = [*validated_data["workloads"], *unseen]
        return super().update(instance, validated_data)

    def _user(self):
        return self.context["request"].user

    def _workloads_shown(self) -> list:
        if self.instance is None:
            return []
        return list(self.instance.workloads.filter(team__in=visible_teams(self._user())))


class InitiativeFilter(django_filters.FilterSet):
    team = team_filter()
    workload = workload_filter("workloads", distinct=True)

    class Meta:
        model = Initiative
        fields = ["team", "workload", "technique", "status", "owner", "currency"]


class InitiativeViewSet(viewsets.ModelViewSet):
    serializer_class = InitiativeSerializer
    filterset_class = InitiativeFilter
    ordering_fields = ["created_at", "started_on", "effective_on", "expected_monthly_saving", "title", "id"]
    search_fields = ["title", "notes"]

    def get_queryset(self):
        return (
            Initiative.objects.filter(team__in=visible_teams(self.request.user))
            .prefetch_related("workloads")
            .order_by("-created_at", "-id")
        )

    def paginate_queryset(self, queryset):
        """Measures the whole page at once: a handful of queries, not a few per initiative."""
        page = super().paginate_queryset(queryset)
        self._measured = initiative_results(user=self.request.user, initiatives=page if page is not None else queryset)
        return page

    def get_serializer_context(self):
        return super().get_serializer_context() | {"measured_results": getattr(self, "_measured", None)}
