import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from finops.models import CostRecord, DailySpend, IngestRun, LoadedBillingPeriod
from ingest.services.billing import billing_uri_ingest
from tests.factories import AllocationRuleFactory, WorkloadFactory
from tests.money import assert_same_money

FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest_bytes(tmp_path):
    """Write bytes to a file of their own and ingest it; returns the run."""

    def ingest(data: bytes, name: str = "bill.csv") -> IngestRun:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / name).write_bytes(data)
        [run] = billing_uri_ingest(uri=str(folder / name))
        return run

    return ingest


def total(field: str = "effective_cost") -> Decimal:
    return CostRecord.objects.aggregate(total=Sum(field))["total"] or Decimal(0)


def file_total(data: bytes, column: str = "EffectiveCost") -> Decimal:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return sum((Decimal(row[column]) for row in rows if row[column]), Decimal(0))


def restated(data: bytes, *, factor: Decimal) -> bytes:
    """The same bill with every amount multiplied, as a provider restating a month would."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    for row in rows:
        for column in ("BilledCost", "EffectiveCost", "ContractedCost", "ListCost"):
            if row[column]:
                row[column] = str((Decimal(row[column]) * factor).quantize(Decimal("0.0000000001")))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_it_loads_every_row_and_records_the_run(ingest_bytes):
    run = ingest_bytes(FOCUS.read_bytes())

    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.format == "focus"
    assert run.rows_loaded == CostRecord.objects.count() == 8
    assert run.total_effective_cost == file_total(FOCUS.read_bytes())
    assert run.total_billed_cost == file_total(FOCUS.read_bytes(), "BilledCost")
    assert_same_money(total(), run.total_effective_cost)
    assert_same_money(total("billed_cost"), run.total_billed_cost)
    assert run.billing_periods == [["AWS", "111122223333", "2026-10-01T00:00:00+00:00"]]
    starts = sorted(set(CostRecord.objects.values_list("charge_period_start", flat=True)))
    assert starts == [datetime(2026, 10, 1, 0, tzinfo=UTC), datetime(2026, 10, 1, 1, tzinfo=UTC)]


def test_ingesting_the_same_file_twice_skips_it_and_keeps_the_totals(ingest_bytes):
    ingest_bytes(FOCUS.read_bytes())
    second = ingest_bytes(FOCUS.read_bytes(), "copy-of-bill.csv")

    assert second.status == IngestRun.Status.SKIPPED
    assert "identical to run" in second.message
    assert CostRecord.objects.count() == 8
    assert_same_money(total(), file_total(FOCUS.read_bytes()))


def test_a_restated_bill_replaces_the_period_it_covers(ingest_bytes):
    first = ingest_bytes(FOCUS.read_bytes())
    restatement = restated(FOCUS.read_bytes(), factor=Decimal(2))

    second = ingest_bytes(restatement, "bill-restated.csv")

    assert second.status == IngestRun.Status.SUCCEEDED
    assert second.rows_replaced == 8
    assert not CostRecord.objects.filter(ingest_run=first).exists()
    assert file_total(restatement) == 2 * file_total(FOCUS.read_bytes())
    assert_same_money(total(), file_total(restatement))
    assert_same_money(DailySpend.objects.aggregate(total=Sum("effective_cost"))["total"], total())


def shifted_to_september(data: bytes) -> bytes:
    """The same rows billed a month earlier: a second billing period of the same account."""
    text = data.decode("utf-8-sig")
    for october, september in (("2026-11-01", "2026-10-01"), ("2026-10-01", "2026-09-01")):
        text = text.replace(october, september)
    return text.encode()


def loaded_periods() -> set[tuple[int, str]]:
    return {(run, f"{start:%Y-%m}") for run, start in
            LoadedBillingPeriod.objects.values_list("ingest_run", "billing_period_start")}


def test_a_restatement_of_one_period_keeps_the_earlier_runs_other_period(ingest_bytes):
    october = FOCUS.read_bytes()
    two_months = october + shifted_to_september(october).split(b"\n", 1)[1]
    first = ingest_bytes(two_months, "two-months.csv")
    assert loaded_periods() == {(first.pk, "2026-09"), (first.pk, "2026-10")}

    second = ingest_bytes(restated(october, factor=Decimal(2)), "october-restated.csv")

    assert second.rows_replaced == 8
    assert loaded_periods() == {(first.pk, "2026-09"), (second.pk, "2026-10")}
    assert CostRecord.objects.filter(ingest_run=first, billing_period_start__month=9).count() == 8
    assert_same_money(total(), file_total(shifted_to_september(october)) + 2 * file_total(october))
    # The first run still has rows (September), so the same file again is skipped...
    assert ingest_bytes(two_months, "two-months-again.csv").status == IngestRun.Status.SKIPPED

    third = ingest_bytes(restated(shifted_to_september(october), factor=Decimal(3)), "september-restated.csv")

    assert loaded_periods() == {(third.pk, "2026-09"), (second.pk, "2026-10")}
    assert not CostRecord.objects.filter(ingest_run=first).exists()
    # ...and once none of its rows is left, it loads again, replacing both months.
    again = ingest_bytes(two_months, "two-months-once-more.csv")
    assert again.status == IngestRun.Status.SUCCEEDED
    assert again.rows_replaced == 16
    assert loaded_periods() == {(again.pk, "2026-09"), (again.pk, "2026-10")}
    assert_same_money(total(), file_total(two_months))


def test_the_rollup_of_a_load_still_counts_other_accounts_charges_on_the_same_days(ingest_bytes):
    october = FOCUS.read_bytes()
    other_account = october.replace(b"111122223333", b"999988887777")
    ingest_bytes(october)
    ingest_bytes(other_account, "other-account.csv")

    restatement = ingest_bytes(restated(october, factor=Decimal(2)), "restated.csv")

    assert restatement.rows_replaced == 8
    expected = 2 * file_total(october) + file_total(other_account)
    assert_same_money(total(), expected)
    assert_same_money(DailySpend.objects.aggregate(total=Sum("effective_cost"))["total"], expected)
    assert DailySpend.objects.aggregate(rows=Sum("record_count"))["rows"] == 16


def test_a_bad_file_fails_cleanly_and_leaves_earlier_data_untouched(ingest_bytes):
    ingest_bytes(FOCUS.read_bytes())
    lines = restated(FOCUS.read_bytes(), factor=Decimal(3)).decode().splitlines()
    lines[8] = lines[8].replace("7.2300000000", "seven dollars", 1)  # the last row's BilledCost

    run = ingest_bytes("\n".join(lines).encode(), "bad.csv")

    assert run.status == IngestRun.Status.FAILED
    assert run.error == f"{run.source}, line 9, column 'BilledCost': 'seven dollars' is not a valid number"
    assert run.source.endswith("bad.csv")
    assert CostRecord.objects.count() == 8
    assert_same_money(total(), file_total(FOCUS.read_bytes()))


def test_rollups_match_the_raw_rows_per_day(ingest_bytes):
    ingest_bytes(FOCUS.read_bytes())

    rollup = DailySpend.objects.aggregate(total=Sum("effective_cost"), rows=Sum("record_count"))
    assert rollup["rows"] == 8
    assert_same_money(rollup["total"], total())


def test_allocation_rules_assign_records_and_leave_the_rest_unallocated(ingest_bytes):
    gateway = WorkloadFactory(slug="llm-gateway")
    AllocationRuleFactory(workload=gateway, tag_key="workload", tag_value="llm-gateway")

    ingest_bytes(FOCUS.read_bytes())

    assert CostRecord.objects.filter(workload=gateway).count() == 2
    assert CostRecord.objects.filter(workload=None).count() == 6
    by_team = dict(DailySpend.objects.values_list("team_id").annotate(total=Sum("effective_cost")))
    assert_same_money(by_team[gateway.team_id], Decimal("32.7726000000") + Decimal("19.6635600000"))


def test_the_files_of_one_folder_load_together_or_not_at_all(tmp_path):
    delivery = tmp_path / "export"
    delivery.mkdir()
    (delivery / "part-1.csv").write_bytes(FOCUS.read_bytes())
    (delivery / "part-2.csv").write_bytes(b"not,a,bill\n1,2,3\n")

    [run] = billing_uri_ingest(uri=str(tmp_path))

    assert run.status == IngestRun.Status.FAILED
    assert run.error.startswith(str(delivery / "part-2.csv"))
    assert "unrecognised billing format" in run.error
    assert CostRecord.objects.count() == 0


def test_parts_of_one_month_do_not_replace_each_other(tmp_path):
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    delivery = tmp_path / "export"
    delivery.mkdir()
    (delivery / "part-1.csv").write_text("\n".join([header, *rows[:4]]))
    (delivery / "part-2.csv").write_text("\n".join([header, *rows[4:]]))

    [run] = billing_uri_ingest(uri=str(tmp_path))

    assert run.status == IngestRun.Status.SUCCEEDED
    assert [f["rows"] for f in run.files] == [4, 4]
    assert CostRecord.objects.count() == 8
    assert_same_money(total(), file_total(FOCUS.read_bytes()))


def test_separate_folders_are_separate_runs(tmp_path):
    for month in ("2026-09", "2026-10"):
        (tmp_path / month).mkdir()
    (tmp_path / "2026-10" / "bill.csv").write_bytes(FOCUS.read_bytes())
    (tmp_path / "2026-09" / "bill.csv").write_bytes(b"not,a,bill\n1,2,3\n")

    runs = billing_uri_ingest(uri=str(tmp_path))

    assert [run.status for run in runs] == [IngestRun.Status.FAILED, IngestRun.Status.SUCCEEDED]
    assert CostRecord.objects.count() == 8


def test_a_header_without_rows_is_an_error(ingest_bytes):
    header_only = FOCUS.read_bytes().split(b"\r\n", 1)[0] + b"\r\n"

    run = ingest_bytes(header_only, "empty.csv")

    assert run.status == IngestRun.Status.FAILED
    assert run.error == f"{run.source}, line 2: the file has a header but no rows"


def test_a_failure_in_a_later_block_leaves_nothing_half_loaded(ingest_bytes):
    header, *rows = FOCUS.read_text(encoding="utf-8-sig").strip().splitlines()
    many = [header] + rows * 1500  # about 1.7 MB: several read blocks, so several COPYs/INSERTs
    many[-1] = many[-1].replace("2.4100000000", "NaN dollars", 1)

    run = ingest_bytes("\n".join(many).encode(), "big.csv")

    assert run.status == IngestRun.Status.FAILED
    assert run.error.startswith(f"{run.source}, line {len(many)}, column 'BilledCost'")
    assert CostRecord.objects.count() == 0
    assert DailySpend.objects.count() == 0


def test_token_meters_of_managed_model_apis_roll_up_as_tokens(ingest_bytes):
    chatbot = WorkloadFactory(slug="support-chatbot")
    AllocationRuleFactory(workload=chatbot, tag_key="workload", tag_value="support-chatbot")

    ingest_bytes(FOCUS.read_bytes())

    rollup = DailySpend.objects.filter(workload=chatbot).aggregate(tokens=Sum("tokens"), cost=Sum("effective_cost"))
    assert rollup["tokens"] == (450 + 220) * 1000  # two "1K Tokens" rows
    assert_same_money(rollup["cost"], Decimal("0.1125") + Decimal("0.2750"))
    assert DailySpend.objects.exclude(workload=chatbot).aggregate(tokens=Sum("tokens"))["tokens"] == 0


def test_the_command_prints_each_run_and_fails_loudly_on_bad_input(tmp_path, capsys):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    (good / "bill.csv").write_bytes(FOCUS.read_bytes())
    (bad / "bill.csv").write_bytes(b"not,a,bill\n1,2,3\n")

    call_command("ingest_billing", str(good))
    assert "succeeded (focus)" in capsys.readouterr().out

    with pytest.raises(CommandError, match="1 of 1 deliveries failed"):
        call_command("ingest_billing", str(bad))
    assert "unrecognised billing format" in capsys.readouterr().err


def test_it_stores_the_invoice_id_and_service_subcategory_of_each_row(ingest_bytes):
    ingest_bytes(FOCUS.read_bytes())

    stored = CostRecord.objects.values_list("service_name", "service_subcategory", "invoice_id").distinct()
    assert set(stored) == {
        ("Amazon Elastic Compute Cloud", "Virtual Machines", "2614589032"),
        ("Amazon Elastic Block Store", "Block Storage", "2614589032"),
        ("AWS Data Transfer", "Network Connectivity", "2614589032"),
        ("Amazon Bedrock", "Generative AI", "2614589032"),
    }
