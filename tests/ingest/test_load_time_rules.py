"""The loader allocates and classifies rows before writing them (ingest.loader.LoadTimeRules) and
sums their daily rollup as it writes them (RunSpendSums). These tests load real exports and
check that the result is what the SQL services give the same stored rows: cost_records_allocate,
cost_records_classify and daily_spend_refresh."""

import csv
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Max, Min
from django.test.utils import CaptureQueriesContext

from finops.models import AllocationRule, CostRecord, DailySpend, IngestRun, TcoRule
from finops.services.allocation import cost_records_allocate
from finops.services.rollups import daily_spend_refresh
from finops.services.tco import cost_records_classify
from ingest.services.billing import billing_uri_ingest
from tests.factories import AllocationRuleFactory, TcoRuleFactory, WorkloadFactory
from tests.ingest.billing_fixtures import BILLING_FIXTURES, FIXTURES, ingest
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db

OUTCOME = ("workload_id", "tco_category", "is_gpu", "managed_premium_share")
ROLLUP = ("day", "workload_id", "team_id", "provider_name", "service_name", "service_category", "charge_category",
          "billing_currency", "tco_category", "is_gpu", "record_count")
ROLLUP_MONEY = ("billed_cost", "effective_cost", "list_cost", "managed_premium", "tokens")


def outcomes() -> dict[int, tuple]:
    return {pk: tuple(rest) for pk, *rest in CostRecord.objects.values_list("pk", *OUTCOME)}


def rollup() -> dict[tuple, tuple]:
    rows = DailySpend.objects.values_list(*ROLLUP, *ROLLUP_MONEY)
    return {row[: len(ROLLUP)]: row[len(ROLLUP):] for row in rows}


def assert_same_rollup(found: dict[tuple, tuple], expected: dict[tuple, tuple]) -> None:
    assert found.keys() == expected.keys()
    for key, amounts in expected.items():
        for stored, summed in zip(found[key], amounts, strict=True):
            assert_same_money(stored, summed)


def rules_from_loaded_rows(rng: random.Random) -> None:
    """Allocation rules of every kind that the loaded rows give matches and near misses for:
    tag key and value, tag key alone, account, resource-id pattern."""
    rows = list(CostRecord.objects.values("tags", "billing_account_id", "sub_account_id", "resource_id"))
    workloads = [WorkloadFactory() for _ in range(6)]
    tags = sorted({(key, value) for row in rows for key, value in row["tags"].items() if isinstance(value, str)})
    for key, value in rng.sample(tags, min(3, len(tags))):
        AllocationRuleFactory(workload=rng.choice(workloads), tag_key=key, tag_value=value, priority=rng.randrange(50))
    if tags:
        AllocationRuleFactory(workload=rng.choice(workloads), tag_key=rng.choice(tags)[0], tag_value="", priority=60)
    accounts = sorted({row["sub_account_id"] or row["billing_account_id"] for row in rows})
    AllocationRuleFactory(workload=rng.choice(workloads), tag_key="", tag_value="", account_id=rng.choice(accounts),
                          priority=rng.randrange(80))
    resources = sorted({row["resource_id"] for row in rows if len(row["resource_id"]) > 4})
    for resource in rng.sample(resources, min(2, len(resources))):
        pattern = resource[: len(resource) // 2] + "*" + resource[-2:-1] + "?"
        AllocationRuleFactory(workload=rng.choice(workloads), tag_key="", tag_value="", resource_id_pattern=pattern,
                              priority=rng.randrange(80))
    # Case matters to allocation: this one matches nothing.
    AllocationRuleFactory(workload=workloads[0], tag_key="", tag_value="", resource_id_pattern=resources[0].upper() if
                          resources and resources[0].upper() != resources[0] else "NOTHING", priority=1)


@pytest.mark.parametrize("fixture", BILLING_FIXTURES)
def test_load_time_allocation_classification_and_rollup_equal_the_sql_services(tmp_path, fixture, settings):
    settings.TIME_ZONE = "Europe/Paris"  # days that are not UTC days
    data = (FIXTURES / fixture).read_bytes()
    ingest(tmp_path, Path(fixture).name, data)
    rules_from_loaded_rows(random.Random(fixture))
    IngestRun.objects.all().delete()  # the same delivery again, now with allocation rules
    assert AllocationRule.objects.count() >= 4 and TcoRule.objects.count() >= 60

    run = ingest(tmp_path, Path(fixture).name, data)
    at_load, rollup_at_load = outcomes(), rollup()
    records = CostRecord.objects.filter(ingest_run=run)
    cost_records_allocate(records=records)
    cost_records_classify(records=records)
    span = records.aggregate(earliest=Min("charge_period_start"), latest=Max("charge_period_start"))
    daily_spend_refresh(earliest=span["earliest"], latest=span["latest"])

    assert outcomes() == at_load
    assert_same_rollup(rollup(), rollup_at_load)
    assert {workload for workload, *_ in at_load.values()} - {None}  # some rows were allocated


def test_no_update_touches_the_new_rows(tmp_path):
    AllocationRuleFactory(tag_key="workload", tag_value="llm-gateway")

    with CaptureQueriesContext(connection) as queries:
        ingest(tmp_path, "bill.csv", (FIXTURES / "focus/aws-focus-1.2.csv").read_bytes())

    statements = [query["sql"].lstrip().upper() for query in queries]
    assert not [sql for sql in statements if sql.startswith("UPDATE") and "FINOPS_COSTRECORD" in sql]
    assert CostRecord.objects.exclude(workload=None).count() == 2
    assert not CostRecord.objects.filter(tco_category="").exists()


def test_rules_are_read_once_per_run(tmp_path):
    header, *rows = (FIXTURES / "focus/aws-focus-1.2.csv").read_text(encoding="utf-8-sig").strip().splitlines()
    delivery = tmp_path / "export"
    delivery.mkdir()
    for part in range(3):
        (delivery / f"part-{part}.csv").write_text("\n".join([header, *rows[part * 3:part * 3 + 3]]))

    with CaptureQueriesContext(connection) as queries:
        [run] = billing_uri_ingest(uri=str(delivery))

    assert run.status == IngestRun.Status.SUCCEEDED and len(run.files) == 3
    rule_reads = [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith("SELECT")
                  and ("finops_allocationrule" in query["sql"] or "finops_tcorule" in query["sql"])]
    assert len(rule_reads) == 2


def focus_rows(data: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return list(reader.fieldnames), list(reader)


def focus_bytes(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_rows_only_sql_can_classify_are_classified_in_sql_and_rolled_up_so(tmp_path):
    TcoRuleFactory(priority=1, service_name="", tag_key="cost", tag_value="5*", category="licensing")
    header, rows = focus_rows((FIXTURES / "focus/aws-focus-1.2.csv").read_bytes())
    rows[0]["Tags"] = '{"cost": 55}'  # a number: only the database can say how it reads as text

    run = ingest(tmp_path, "bill.csv", focus_bytes(header, rows))

    assert run.cost_records.get(tags={"cost": 55}).tco_category == "licensing"
    at_load, rollup_at_load = outcomes(), rollup()
    cost_records_classify(records=CostRecord.objects.all())
    assert outcomes() == at_load
    assert DailySpend.objects.filter(tco_category="licensing").exists()
    span = CostRecord.objects.aggregate(earliest=Min("charge_period_start"), latest=Max("charge_period_start"))
    daily_spend_refresh(earliest=span["earliest"], latest=span["latest"])
    assert_same_rollup(rollup(), rollup_at_load)


def test_the_rollup_adds_the_new_rows_to_other_runs_rows_of_the_same_days(tmp_path):
    header, rows = focus_rows((FIXTURES / "focus/aws-focus-1.2.csv").read_bytes())
    other_account = [row | {"BillingAccountId": "999988887777"} for row in rows]
    ingest(tmp_path, "other.csv", focus_bytes(header, other_account))

    run = ingest(tmp_path, "bill.csv", focus_bytes(header, rows))

    assert run.rows_replaced == 0 and CostRecord.objects.count() == 2 * len(rows)
    rollup_at_load = rollup()
    daily_spend_refresh(earliest=run.cost_records.earliest("charge_period_start").charge_period_start,
                        latest=run.cost_records.latest("charge_period_start").charge_period_start)
    assert_same_rollup(rollup(), rollup_at_load)
    # The two accounts' identical rows share their DailySpend rows: each counts both.
    counts = [key[-1] for key in rollup_at_load]
    assert sum(counts) == 2 * len(rows) and all(count % 2 == 0 for count in counts)


def test_a_period_first_seen_in_a_later_block_still_replaces_what_earlier_runs_loaded(tmp_path):
    header, rows = focus_rows((FIXTURES / "focus/aws-focus-1.2.csv").read_bytes())
    september = [row | {"BillingPeriodStart": "2026-09-01T00:00:00Z", "BillingPeriodEnd": "2026-10-01T00:00:00Z",
                        "ChargePeriodStart": "2026-09-15T00:00:00Z", "ChargePeriodEnd": "2026-09-15T01:00:00Z"}
                 for row in rows]
    # October first, many times over (several 1 MB read blocks, so several batches), then September.
    first = rows * 1200 + september
    ingest(tmp_path, "first.csv", focus_bytes(header, first))
    restated = [row | {"EffectiveCost": "1.0000000000"} for row in first]

    run = ingest(tmp_path, "restated.csv", focus_bytes(header, restated))

    assert run.rows_replaced == len(first)
    assert CostRecord.objects.count() == len(first)
    assert set(CostRecord.objects.values_list("ingest_run", flat=True)) == {run.pk}
    assert_same_money(sum(CostRecord.objects.values_list("effective_cost", flat=True)), Decimal(len(first)))
    assert DailySpend.objects.filter(day__month=9).exists()


def test_a_bill_loads_when_there_is_no_rule_of_any_kind(db):
    from finops.models import AllocationRule, CostRecord, TcoRule
    from ingest.services.billing import billing_uri_ingest

    TcoRule.objects.all().delete()
    AllocationRule.objects.all().delete()

    [run] = billing_uri_ingest(uri="tests/fixtures/focus/aws-focus-1.2.csv")

    assert run.status == "succeeded", run.error
    assert CostRecord.objects.exists()
    assert not CostRecord.objects.exclude(tco_category="").exists()
