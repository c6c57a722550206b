"""Migration 0012 fills LoadedBillingPeriod from the cost records already stored, so a bill
restated after the upgrade still replaces what was loaded before it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from finops.models import CostRecord, IngestRun, LoadedBillingPeriod
from ingest.services.billing import billing_uri_ingest

BEFORE = [("finops", "0011_gpu_device_daily_binary_hours")]
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
SEPTEMBER = datetime(2026, 9, 1, tzinfo=UTC)
FOCUS = "tests/fixtures/focus/aws-focus-1.2.csv"  # 8 rows of AWS account 111122223333, October 2026


def migrate_to(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_migration_records_what_each_run_loaded_and_restatements_still_replace_it():
    executor = migrate_to(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    runs = [old.get_model("finops", "IngestRun").objects.create(kind="billing", source=f"bill-{n}") for n in (1, 2)]
    record = old.get_model("finops", "CostRecord")

    def charges(run, period_start, account, hours):
        return [
            record(ingest_run=run, provider_name="AWS", billing_account_id=account, billing_period_start=period_start,
                   billing_period_end=period_start + timedelta(days=31), charge_period_start=period_start + timedelta(hours=h),
                   charge_period_end=period_start + timedelta(hours=h + 1), charge_category="Usage",
                   billed_cost=Decimal("1.25"), effective_cost=Decimal("1.25"), billing_currency="USD")
            for h in range(hours)
        ]

    record.objects.bulk_create(
        charges(runs[0], SEPTEMBER, "111122223333", 3) + charges(runs[0], OCTOBER, "111122223333", 2)
        + charges(runs[1], OCTOBER, "999988887777", 4)
    )
    try:
        migrate_to(None)

        loaded = set(LoadedBillingPeriod.objects.values_list(
            "ingest_run", "billing_account_id", "billing_period_start", "first_charge_start", "last_charge_start"))
        hour = timedelta(hours=1)
        assert loaded == {(runs[0].pk, "111122223333", SEPTEMBER, SEPTEMBER, SEPTEMBER + 2 * hour),
                          (runs[0].pk, "111122223333", OCTOBER, OCTOBER, OCTOBER + hour),
                          (runs[1].pk, "999988887777", OCTOBER, OCTOBER, OCTOBER + 3 * hour)}

        [restatement] = billing_uri_ingest(uri=FOCUS)

        assert restatement.status == IngestRun.Status.SUCCEEDED, restatement.error
        assert restatement.rows_replaced == 2
        kept = CostRecord.objects.exclude(ingest_run=restatement.pk)
        assert sorted(kept.values_list("billing_account_id", "billing_period_start").distinct()) == [
            ("111122223333", SEPTEMBER), ("999988887777", OCTOBER)]
        assert kept.count() == 7
    finally:
        migrate_to(None)
