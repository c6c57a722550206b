"""TCO classification rules and the costs that are not on the bill, in the REST API.

Rules are global configuration: everyone signed in reads them, leaders and staff change them,
and every change reclassifies the cost records once it is committed. Line items are team data,
scoped like every endpoint (another team's is a 404) and written by leaders and staff, like
workloads and allocation rules."""

import django_filters
from django.db import transaction
from rest_framework import serializers, viewsets

from finops.api.permissions import LeaderWritesOthersRead
from finops.api.scoping import (
    VisibleTeamField,
    VisibleWorkloadField,
    current_values,
    currency_field,
    team_filter,
    workload_filter,
)
from finops.models import TcoLineItem, TcoRule
from finops.selectors.access import visible_teams
from finops.tasks import reclassify_cost_records


class TcoRuleSerializer(serializers.ModelSerializer):
    managed_premium_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False,
        help_text=TcoRule._meta.get_field("managed_premium_percent").help_text,
    )
    # Declared for its default: a form post that leaves a boolean out would otherwise send False.
    enabled = serializers.BooleanField(default=True)

    class Meta:
        model = TcoRule
        fields = [
            "id", "name", "priority", *TcoRule.CRITERIA, "tag_value", "category", "is_gpu",
            "managed_premium_percent", "enabled", "builtin", "updated_at",
        ]
        read_only_fields = ["builtin", "updated_at"]

    def validate(self, attrs):
        values = current_values(self, attrs, (*TcoRule.CRITERIA, "tag_value"))
        if not any(values[name] for name in TcoRule.CRITERIA):
            raise serializers.ValidationError(f"Give at least one criterion: {', '.join(TcoRule.CRITERIA)}.")
        if values["tag_value"] and not values["tag_key"]:
            raise serializers.ValidationError({"tag_value": "A tag value needs a tag_key."})
        return attrs


class TcoRuleViewSet(viewsets.ModelViewSet):
    """Tried in ascending priority; the first rule whose every criterion matches classifies a
    cost record. Saving or deleting a rule queues the reclassification of every record."""

    serializer_class = TcoRuleSerializer
    permission_classes = [LeaderWritesOthersRead]
    filterset_fields = ["category", "is_gpu", "enabled", "builtin"]
    ordering_fields = ["priority", "name", "id", "updated_at"]
    search_fields = ["name", "service_name", "charge_description"]
    queryset = TcoRule.objects.order_by("priority", "id")

    def perform_create(self, serializer):
        super().perform_create(serializer)
        _reclassify_after_commit()

    def perform_update(self, serializer):
        super().perform_update(serializer)
        _reclassify_after_commit()

    def perform_destroy(self, instance):
        super().perform_destroy(instance)
        _reclassify_after_commit()


def _reclassify_after_commit() -> None:
    """Queued, not run in the request: one rule can move any of millions of records. Only once
    the change is committed, and a broker that cannot take it is logged, not raised: the rule is
    saved by then, as finops.tasks.detect_spikes_on_commit does for an ingest."""
    transaction.on_commit(reclassify_cost_records.delay, robust=True)


class TcoLineItemSerializer(serializers.ModelSerializer):
    team = VisibleTeamField()
    workload = VisibleWorkloadField(required=False, allow_null=True)
    currency = currency_field()
    created_by = serializers.StringRelatedField()

    class Meta:
        model = TcoLineItem
        fields = [
            "id", "team", "workload", "category", "description", "amount", "currency", "recurrence",
            "start_date", "end_date", "created_by", "created_at",
        ]

    def validate(self, attrs):
        values = current_values(self, attrs, ("team", "workload", "recurrence", "start_date", "end_date"))
        if values["workload"] is not None and values["workload"].team_id != values["team"].pk:
            raise serializers.ValidationError({"workload": "The workload belongs to another team."})
        if values["end_date"] is not None:
            if (values["recurrence"] or TcoLineItem.Recurrence.MONTHLY) == TcoLineItem.Recurrence.ONE_OFF:
                raise serializers.ValidationError({"end_date": "A one-off cost has no end date."})
            if values["end_date"] < values["start_date"]:
                raise serializers.ValidationError({"end_date": "end_date must not be before start_date."})
        return attrs


class TcoLineItemFilter(django_filters.FilterSet):
    team = team_filter()
    workload = workload_filter()

    class Meta:
        model = TcoLineItem
        fields = ["team", "workload", "category", "recurrence", "currency"]


class TcoLineItemViewSet(viewsets.ModelViewSet):
    """Costs that are not on the cloud bill: licences, MLOps tools, engineer time. Members
    record their own teams' costs, as on the web page; leaders and staff any team's."""

    serializer_class = TcoLineItemSerializer
    filterset_class = TcoLineItemFilter
    ordering_fields = ["start_date", "amount", "category", "id"]
    search_fields = ["description"]

    def get_queryset(self):
        return (
            TcoLineItem.objects.filter(team__in=visible_teams(self.request.user))
            .select_related("created_by")
            .order_by("start_date", "id")
        )

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)
