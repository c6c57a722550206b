from django.contrib import admin

from finops.models import AllocationRule, CostRecord, DataSource, IngestRun, Team, TeamMembership, Workload


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
    list_display = ["pk", "source", "format", "status", "rows_loaded", "rows_replaced", "started_at", "finished_at"]
    list_filter = ["status", "format"]
    search_fields = ["source", "checksum"]
    readonly_fields = [f.name for f in IngestRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "uri", "format", "interval_minutes", "enabled", "last_started_at"]
    list_editable = ["enabled"]
    readonly_fields = ["last_started_at"]
