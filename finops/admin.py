from django.contrib import admin
from django.db import models, transaction

from finops.forms.tco_rules import TcoRuleForm
from finops.models import (
    AllocationRule,
    Benchmark,
    ChecklistItem,
    CostRecord,
    DataSource,
    GpuAssignmentRule,
    InferenceVolume,
    IngestRun,
    Initiative,
    ManagedApiPrice,
    TcoLineItem,
    TcoRule,
    Team,
    TeamMembership,
    Workload,
)
from finops.models import Alert, AlertDelivery, AlertRule
from finops.tasks import reassign_gpu_samples_on_commit, reclassify_cost_records


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
    """Deleting a workload deletes its GPU assignment rules (and its hourly GPU rollup rows):
    the samples they matched are assigned again, so their GPU-hours come back, unassigned or
    under the next rule."""

    list_display = ["name", "team", "hosting", "model_name", "inference_unit"]
    list_filter = ["team", "hosting"]
    search_fields = ["name", "slug", "model_name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AllocationRuleInline]

    def delete_model(self, request, obj):
        rules = list(obj.gpu_assignment_rules.all())
        super().delete_model(request, obj)
        reassign_gpu_samples_on_commit(rules=rules)

    def delete_queryset(self, request, queryset):
        rules = list(GpuAssignmentRule.objects.filter(workload__in=queryset))
        super().delete_queryset(request, queryset)
        reassign_gpu_samples_on_commit(rules=rules)


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
    """Every change assigns the samples the rule matched or matches again, after commit (also
    for the `enabled` box ticked on the list, which saves through save_model)."""

    list_display = ["priority", "workload", "host_pattern", "namespace", "pod_pattern", "gpu_uuid", "mig_instance", "enabled"]
    list_filter = ["enabled", "workload__team"]
    list_editable = ["enabled"]
    ordering = ["priority", "id"]

    def save_model(self, request, obj, form, change):
        before = GpuAssignmentRule.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        reassign_gpu_samples_on_commit(rules=[before, obj])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        reassign_gpu_samples_on_commit(rules=[obj])

    def delete_queryset(self, request, queryset):
        rules = list(queryset)
        super().delete_queryset(request, queryset)
        reassign_gpu_samples_on_commit(rules=rules)


@admin.register(InferenceVolume)
class InferenceVolumeAdmin(admin.ModelAdmin):
    list_display = ["day", "workload", "requests", "input_tokens", "output_tokens", "source"]
    list_filter = ["source", "workload__team"]
    date_hierarchy = "day"


# --- TCO, benchmarks, initiatives and the checklist (also edited on the /manage/ pages) ---


def _reclassify_after_commit() -> None:
    transaction.on_commit(lambda: reclassify_cost_records.delay(), robust=True)


@admin.register(TcoRule)
class TcoRuleAdmin(admin.ModelAdmin):
    """Every change classifies the cost records again, as on the TCO rules page."""

    form = TcoRuleForm
    list_display = ["priority", "name", "category", "service_name", "charge_description", "tag_key", "is_gpu",
                    "managed_premium_percent", "builtin", "enabled"]
    list_filter = ["category", "is_gpu", "builtin", "enabled"]
    search_fields = ["name", "provider_name", "service_name", "charge_description", "sku_id"]
    readonly_fields = ["builtin", "updated_at"]
    ordering = ["priority", "id"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _reclassify_after_commit()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _reclassify_after_commit()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        _reclassify_after_commit()


@admin.register(TcoLineItem)
class TcoLineItemAdmin(admin.ModelAdmin):
    list_display = ["description", "team", "workload", "category", "amount", "currency", "recurrence",
                    "start_date", "end_date", "created_by"]
    list_filter = ["category", "recurrence", "currency", "team"]
    search_fields = ["description"]
    date_hierarchy = "start_date"
    raw_id_fields = ["workload"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["workload", "instance_type", "gpu_model", "gpu_count", "throughput", "throughput_unit",
                    "p95_latency_ms", "hourly_price", "currency", "measured_on"]
    list_filter = ["throughput_unit", "provider_name", "gpu_model", "workload__team"]
    search_fields = ["instance_type", "gpu_model", "model_name", "workload__name"]
    date_hierarchy = "measured_on"
    raw_id_fields = ["workload"]


@admin.register(ManagedApiPrice)
class ManagedApiPriceAdmin(admin.ModelAdmin):
    list_display = ["provider_name", "model_name", "input_price_per_1m_tokens", "output_price_per_1m_tokens",
                    "price_per_1k_requests", "currency", "updated_at"]
    list_filter = ["provider_name", "currency"]
    search_fields = ["provider_name", "model_name"]
    filter_horizontal = ["compared_workloads"]


@admin.register(Initiative)
class InitiativeAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "technique", "status", "owner", "effective_on",
                    "expected_monthly_saving", "implementation_cost", "currency"]
    list_filter = ["status", "technique", "team"]
    search_fields = ["title", "notes"]
    filter_horizontal = ["workloads"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ["team", "workload", "step", "status", "owner", "updated_at"]
    list_filter = ["step", "status", "team"]
    search_fields = ["notes", "team__name", "workload__name"]
    raw_id_fields = ["workload"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["updated_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
