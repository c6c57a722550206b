from django.contrib import admin

from finops.models import (
    AllocationRule,
    CostRecord,
    DataSource,
    GpuAssignmentRule,
    InferenceVolume,
    IngestRun,
    Team,
    TeamMembership,
    Workload,
)
from finops.models import Alert, AlertDelivery, AlertRule


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


class AllocationRuleInline(admin.TabularInline):
    model = AllocationRule
    extra = 1


@admin.register(Workload)
class WorkloadAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "hosting", "model_name", "inference_unit"]
    list_filter = ["team", "hosting"]
    search_fields = ["name", "slug", "model_name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AllocationRuleInline]


@admin.register(AllocationRule)
class AllocationRuleAdmin(admin.ModelAdmin):
    list_display = ["priority", "workload", "tag_key", "tag_value", "account_id", "resource_id_pattern", "enabled"]
    list_filter = ["enabled", "workload__team"]
    list_editable = ["enabled"]
    ordering = ["priority", "id"]


@admin.register(CostRecord)
class CostRecordAdmin(admin.ModelAdmin):
    list_display = ["charge_period_start", "provider_name", "service_name", "resource_id", "workload", "effective_cost", "billing_currency"]
    list_filter = ["provider_name", "charge_category", "workload__team"]
    date_hierarchy = "charge_period_start"
    raw_id_fields = ["ingest_run", "workload"]
    # Counting millions of rows on every page is what makes admin slow on real bills.
    show_full_result_count = False


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "source", "format", "status", "rows_loaded", "rows_replaced", "started_at", "finished_at"]
    list_filter = ["kind", "status", "format"]
    search_fields = ["source", "checksum"]
    readonly_fields = [f.name for f in IngestRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "uri", "format", "interval_minutes", "enabled", "last_started_at"]
    list_editable = ["enabled"]
    readonly_fields = ["last_started_at"]


# --- Spike alerts ---


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "workload", "service_name", "method", "threshold", "min_amount", "enabled", "muted_until"]
    list_filter = ["enabled", "method", "is_default", "team"]
    list_editable = ["enabled"]
    search_fields = ["name", "service_name"]
    raw_id_fields = ["workload"]
    filter_horizontal = ["recipients", "unsubscribed"]
    readonly_fields = ["is_default", "created_at"]


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    can_delete = False
    readonly_fields = ["email", "user", "status", "attempts", "last_error", "claimed_at", "sent_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["day", "scope_label", "currency", "observed_amount", "expected_amount", "state", "notification_note"]
    list_filter = ["state", "rule__team", "rule"]
    date_hierarchy = "day"
    readonly_fields = [
        "rule", "scope_label", "day", "currency", "observed_amount", "expected_amount", "details", "drivers",
        "notification_note", "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "created_at", "updated_at",
    ]
    inlines = [AlertDeliveryInline]

    def has_add_permission(self, request):
        return False


@admin.register(GpuAssignmentRule)
class GpuAssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ["priority", "workload", "host_pattern", "namespace", "pod_pattern", "gpu_uuid", "mig_instance", "enabled"]
    list_filter = ["enabled", "workload__team"]
    list_editable = ["enabled"]
    ordering = ["priority", "id"]


@admin.register(InferenceVolume)
class InferenceVolumeAdmin(admin.ModelAdmin):
    list_display = ["day", "workload", "requests", "input_tokens", "output_tokens", "source"]
    list_filter = ["source", "workload__team"]
    date_hierarchy = "day"
