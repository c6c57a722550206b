from django.db import models

from finops.models.workloads import Workload

# Providers bill in fractions of a cent (CUR carries 10 decimal places); totals reach
# billions. numeric(24, 10) holds both exactly.
MONEY = {"max_digits": 24, "decimal_places": 10}
QUANTITY = {"max_digits": 28, "decimal_places": 10}


class BlockRangeIndex(models.Index):
    """A BRIN index on PostgreSQL, a plain index on other databases (SQLite has no BRIN, and
    django.contrib.postgres's BrinIndex refuses to be created there). One class keeps the
    migration state the same on both, so makemigrations sees no difference between them.

    BRIN keeps only the min and max of each block range (128 pages): a few kB instead of a
    btree's ~12 MB per million rows, and next to nothing to maintain per inserted row. It
    narrows a scan only as far as the column follows the physical order of the rows."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class CostRecord(models.Model):
    """One billed charge in the shape of FOCUS 1.2. Field names are FOCUS column names in
    snake_case; `ingest.schema` maps them to and from the canonical Arrow columns."""

    # Neither foreign key is a database constraint. PostgreSQL checks a constraint once per
    # inserted row (at COMMIT: Django makes them DEFERRABLE INITIALLY DEFERRED), which took ~16%
    # of a billing ingest, millions of rows at a time, while the loader writes only the id of
    # the run it created in the same transaction and ids of workloads its allocation rules
    # name. on_delete still holds for deletes through the ORM (IngestRun.delete() deletes the
    # run's records, Workload.delete() unallocates them): delete through the ORM, not in SQL.
    # A workload deleted while an ingest is running cannot leave records pointing at it: the
    # ingest's DailySpend rows name the same workloads and their foreign key is a constraint.
    ingest_run = models.ForeignKey(
        "finops.IngestRun",
        on_delete=models.CASCADE,
        related_name="cost_records",
        db_constraint=False,
        # cost_ingest_run_idx, a BRIN: a run's rows are appended together.
        db_index=False,
    )
    workload = models.ForeignKey(
        Workload,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cost_records",
        db_constraint=False,
        # Indexed by cost_workload_idx, named in Meta.
        db_index=False,
    )

    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField()

    provider_name = models.CharField(max_length=100)
    billing_account_id = models.CharField(max_length=200)
    # "" while the charge is on no issued or provisional invoice yet. This and
    # service_subcategory have database defaults: COPY names its columns, and rows loaded before
    # they existed keep working.
    invoice_id = models.CharField(max_length=200, blank=True, default="", db_default="")
    sub_account_id = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    service_category = models.CharField(max_length=100, blank=True)
    # FOCUS ServiceSubcategory as the source states it; "" when it does not (never derived).
    service_subcategory = models.CharField(max_length=100, blank=True, default="", db_default="")
    region_id = models.CharField(max_length=100, blank=True)
    resource_id = models.CharField(max_length=1000, blank=True)
    resource_name = models.CharField(max_length=400, blank=True)
    resource_type = models.CharField(max_length=200, blank=True)
    sku_id = models.CharField(max_length=200, blank=True)
    charge_category = models.CharField(max_length=32)
    charge_class = models.CharField(max_length=32, blank=True)
    charge_description = models.TextField(blank=True)

    consumed_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    consumed_unit = models.CharField(max_length=100, blank=True)
    pricing_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    pricing_unit = models.CharField(max_length=100, blank=True)

    list_cost = models.DecimalField(**MONEY, null=True, blank=True)
    contracted_cost = models.DecimalField(**MONEY, null=True, blank=True)
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    billing_currency = models.CharField(max_length=3)

    tags = models.JSONField(default=dict, blank=True)

    # Set by `finops.services.tco` from the TcoRules; "" while no rule matched. Database
    # defaults, because the loader's COPY names only the columns a bill carries.
    tco_category = models.CharField(max_length=32, blank=True, default="", db_default="")
    is_gpu = models.BooleanField(default=False, db_default=False)
    managed_premium_share = models.DecimalField(max_digits=7, decimal_places=6, default=0, db_default=0)

    class Meta:
        indexes = [
            # BRIN, not btree: keeping a btree current cost PostgreSQL ~1.6-2 s of CPU per
            # million rows a bill loads (~20% of its insert work), as a bill's rows come in no
            # time order within its month. Bills arrive a month at a time, so each block range
            # spans about one month: BRIN skips other months but reads a whole month for a
            # one-day query (alert drivers, one-day FOCUS exports: ~0.1 s -> ~0.4 s at 1M rows
            # a month), and min/max over the table scan it (daily_spend_rebuild, admin dates).
            # Lookups by workload use cost_workload_idx; the API's cursor the primary key.
            # (Auto)vacuum summarizes new block ranges; until then every query reads them.
            BlockRangeIndex(fields=["charge_period_start"], name="cost_charge_start_idx"),
            # BRIN too: a run appends its rows in one COPY, so they fill adjacent block ranges
            # (space freed by replaced rows, once vacuumed, can widen a range). A btree cost
            # ~0.7 s of PostgreSQL CPU per million rows loaded, for lookups by run that are
            # rare: a restatement deleting a replaced run's rows of one period, a run's deletion.
            # The billing period's rows are found through LoadedBillingPeriod, not an index
            # over every record (which cost another ~1.7 s per million rows).
            BlockRangeIndex(fields=["ingest_run"], name="cost_ingest_run_idx"),
            # Lookups by workload (a member's records, alert drivers, a deleted workload's
            # records). The workload alone, not (workload, charge_period_start): one day of
            # a workload's records is the BRIN above ANDed with this, and the narrower btree
            # costs ~0.5 s less PostgreSQL CPU per million rows loaded.
            models.Index(fields=["workload"], name="cost_workload_idx"),
        ]

    def __str__(self):
        return f"{self.provider_name} {self.service_name} {self.billed_cost} {self.billing_currency}"


class LoadedBillingPeriod(models.Model):
    """A billing period (provider, billing account, period start) some of whose cost records a
    run loaded and no later run has replaced, with the span of those records' charge starts.

    A restatement of the period finds the runs whose rows it replaces here, and the rollup
    refresh after a load finds the other runs with charges on the days it rebuilds, so neither
    needs an index over every cost record."""

    ingest_run = models.ForeignKey("finops.IngestRun", on_delete=models.CASCADE, related_name="loaded_periods")
    provider_name = models.CharField(max_length=100)
    billing_account_id = models.CharField(max_length=200)
    billing_period_start = models.DateTimeField()
    first_charge_start = models.DateTimeField()
    last_charge_start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_name", "billing_account_id", "billing_period_start", "ingest_run"],
                name="loaded_billing_period_unique",
            )
        ]

    def __str__(self):
        return f"{self.provider_name} {self.billing_account_id} {self.billing_period_start:%Y-%m} (run {self.ingest_run_id})"


class DailySpend(models.Model):
    """Rollup of cost records per reporting-time-zone day. Pages and alerts read this,
    never the raw rows; ingestion rebuilds the days it touched."""

    day = models.DateField()
    team = models.ForeignKey(
        "finops.Team", on_delete=models.CASCADE, null=True, related_name="+"
    )
    workload = models.ForeignKey(
        Workload, on_delete=models.CASCADE, null=True, related_name="+"
    )
    provider_name = models.CharField(max_length=100)
    service_name = models.CharField(max_length=200)
    service_category = models.CharField(max_length=100)
    charge_category = models.CharField(max_length=32)
    billing_currency = models.CharField(max_length=3)
    tco_category = models.CharField(max_length=32, blank=True, default="")
    is_gpu = models.BooleanField(default=False)
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    list_cost = models.DecimalField(**MONEY)
    # The part of effective_cost that is a managed-service premium over the raw instance
    # price (TcoRule.managed_premium_percent); the TCO breakdown reports it on its own.
    managed_premium = models.DecimalField(**MONEY, default=0)
    # Tokens billed by managed model APIs (any "tokens" consumed unit, scaled to single
    # tokens), so managed-API workloads get a cost per 1M tokens from the bill alone.
    tokens = models.DecimalField(**QUANTITY, default=0)
    record_count = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="daily_spend_day_idx"),
            models.Index(fields=["team", "day"], name="daily_spend_team_idx"),
            models.Index(fields=["workload", "day"], name="daily_spend_workload_idx"),
        ]

    def __str__(self):
        return f"{self.day} {self.service_name} {self.effective_cost}"


class DailyResourceSpend(models.Model):
    """GPU spend (cost records flagged is_gpu) per reporting day and billed resource, so idle
    GPU money can be matched machine by machine to the hosts that send GPU samples
    (finops.selectors.gpu_resources). Refreshed with DailySpend, for the same days."""

    day = models.DateField()
    resource_id = models.CharField(max_length=1000, blank=True)
    resource_name = models.CharField(max_length=400, blank=True)
    team = models.ForeignKey("finops.Team", on_delete=models.CASCADE, null=True, related_name="+")
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, null=True, related_name="+")
    # With these two, a SpendFilter (provider, service) slices this rollup as it slices DailySpend.
    provider_name = models.CharField(max_length=100)
    service_name = models.CharField(max_length=200)
    billing_currency = models.CharField(max_length=3)
    effective_cost = models.DecimalField(**MONEY)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="resource_spend_day_idx"),
            models.Index(fields=["team", "day"], name="resource_spend_team_idx"),
            models.Index(fields=["workload", "day"], name="resource_spend_workload_idx"),
        ]

    def __str__(self):
        return f"{self.day} {self.resource_id or self.resource_name} {self.effective_cost}"
