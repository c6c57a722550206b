from rest_framework import serializers

from finops.api.flat import FlatRowsSerializer
from finops.models import AllocationRule, CostRecord, IngestRun, Team, Workload
from finops.selectors.spend import GRANULARITIES, GROUPS


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "description"]


class WorkloadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workload
        fields = ["id", "team", "name", "slug", "hosting", "model_name", "inference_unit", "description"]


class AllocationRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AllocationRule
        fields = ["id", "workload", "priority", "tag_key", "tag_value", "account_id", "resource_id_pattern", "enabled"]

    def validate(self, attrs):
        merged = {field: getattr(self.instance, field, "") for field in ("tag_key", "tag_value", "account_id", "resource_id_pattern")}
        merged.update({k: v for k, v in attrs.items() if k in merged})
        if not (merged["tag_key"] or merged["account_id"] or merged["resource_id_pattern"]):
            raise serializers.ValidationError("Give at least one of tag_key, account_id or resource_id_pattern.")
        if merged["tag_value"] and not merged["tag_key"]:
            raise serializers.ValidationError({"tag_value": "A tag value needs a tag_key."})
        return attrs


class CostRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostRecord
        exclude = ["ingest_run"]


class IngestRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestRun
        fields = [
            "id", "data_source", "source", "format", "checksum", "status", "rows_loaded", "rows_replaced",
            "total_billed_cost", "total_effective_cost", "billing_periods", "files", "message", "error",
            "started_at", "finished_at",
        ]


class SpendQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=sorted(GROUPS), default="team")
    granularity = serializers.ChoiceField(choices=GRANULARITIES, default="day")
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs):
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": "end must not be before start."})
        if (attrs["end"] - attrs["start"]).days > 3 * 366:
            raise serializers.ValidationError({"end": "Ask for at most three years at a time."})
        return attrs


class SpendRowSerializer(serializers.Serializer):
    period = serializers.DateField()
    group = serializers.CharField(allow_null=True, help_text="null: spend no allocation rule matched")
    billing_currency = serializers.CharField()
    billed_cost = serializers.DecimalField(max_digits=24, decimal_places=10)
    effective_cost = serializers.DecimalField(max_digits=24, decimal_places=10)
    tokens = serializers.DecimalField(max_digits=28, decimal_places=10)

    class Meta:
        list_serializer_class = FlatRowsSerializer  # ~9,000 rows for a year by day
