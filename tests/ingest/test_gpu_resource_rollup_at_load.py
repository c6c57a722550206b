"""The loader sums the GPU rows it writes per resource and day (RunSpendSums.gpu_resources), and
the refresh at the end of the run merges them with the GPU rows other runs hold on those days.
These tests load real exports and check the DailyResourceSpend rows against the same rollup
aggregated in SQL from the stored rows, and against sums done here record by record."""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Max, Min

from finops.models import CostRecord, DailyResourceSpend
from finops.services.rollups import daily_spend_refresh, reporting_day
from tests.ingest.billing_fixtures import BILLING_FIXTURES, FIXTURES, ingest
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db

KEY = ("day", "resource_id", "resource_name", "workload_id", "team_id", "provider_name", "service_name",
       "billing_currency")


def resource_rollup() -> dict[tuple, Decimal]:
    rows = DailyResourceSpend.objects.values_list(*KEY, "effective_cost")
    assert len(rows) == len({row[:-1] for row in rows}), "one row per key"
    return {row[:-1]: row[-1] for row in rows}


def summed_record_by_record() -> dict[tuple, Decimal]:
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for record in CostRecord.objects.filter(is_gpu=True).select_related("workload"):
        key = (reporting_day(record.charge_period_start), record.resource_id, record.resource_name, record.workload_id,
               record.workload.team_id if record.workload else None, record.provider_name, record.service_name,
               record.billing_currency)
        sums[key] += record.effective_cost
    return dict(sums)


def assert_same_rollup(found: dict[tuple, Decimal], expected: dict[tuple, Decimal]) -> None:
    assert found.keys() == expected.keys()
    for key, amount in expected.items():
        assert_same_money(found[key], amount)


def refreshed_in_sql() -> dict[tuple, Decimal]:
    span = CostRecord.objects.aggregate(earliest=Min("charge_period_start"), latest=Max("charge_period_start"))
    daily_spend_refresh(earliest=span["earliest"], latest=span["latest"])
    return resource_rollup()


@pytest.mark.parametrize("fixture", BILLING_FIXTURES)
def test_the_gpu_resource_rollup_at_load_equals_the_sql_rollup(tmp_path, fixture, settings):
    settings.TIME_ZONE = "Europe/Paris"  # days that are not UTC days
    ingest(tmp_path, Path(fixture).name, (FIXTURES / fixture).read_bytes())

    at_load = resource_rollup()

    assert_same_rollup(at_load, summed_record_by_record())
    assert_same_rollup(refreshed_in_sql(), at_load)


@pytest.mark.parametrize("fixture", ["aws-cur/cur-2024-05.csv", "focus/aws-focus-1.2.csv"])
def test_gpu_instances_of_the_bill_are_in_the_rollup(tmp_path, fixture):
    ingest(tmp_path, Path(fixture).name, (FIXTURES / fixture).read_bytes())

    gpu_records = CostRecord.objects.filter(is_gpu=True)
    assert gpu_records.exists()
    assert {key[1] for key in resource_rollup()} == set(gpu_records.values_list("resource_id", flat=True))


@pytest.mark.parametrize("rows_written", [1, 10_000])  # 1: every row in a batch of its own
def test_a_second_account_billed_on_the_same_days_adds_to_the_first(tmp_path, monkeypatch, rows_written):
    monkeypatch.setattr("finops.services.rollups.RESOURCE_ROWS_WRITTEN", rows_written)
    data = (FIXTURES / "focus/aws-focus-1.2.csv").read_bytes()
    ingest(tmp_path, "aws-focus-1.2.csv", data)
    first = resource_rollup()

    # Another payer account restating nothing of the first: its GPU rows land on the same days
    # and resources, so the refresh merges them with the first run's, read back in SQL.
    ingest(tmp_path, "aws-focus-1.2.csv", data.replace(b"111122223333", b"999988887777"))

    both = resource_rollup()
    assert both.keys() == first.keys()
    for key, amount in first.items():
        assert_same_money(both[key], 2 * amount)
    assert_same_rollup(both, summed_record_by_record())


def test_a_restated_period_replaces_its_gpu_rows(tmp_path):
    data = (FIXTURES / "focus/aws-focus-1.2.csv").read_bytes()
    ingest(tmp_path, "aws-focus-1.2.csv", data)
    first = resource_rollup()

    restated = data.replace(b"32.7726000000", b"30.0000000000")  # the on-demand p4d hour, billed lower
    assert restated != data
    ingest(tmp_path, "aws-focus-1.2.csv", restated)

    found = resource_rollup()
    assert_same_rollup(found, summed_record_by_record())
    assert sum(first.values()) - sum(found.values()) == Decimal("2.7726")
