import csv
import gzip
import io
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ingest.errors import IngestError
from ingest.readers import aws_cur, billing_reader
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

CUR = Path(__file__).parents[2] / "fixtures" / "aws-cur" / "cur-2024-05.csv"
CENT = Decimal("0.01")
MONEY_COLUMNS = [
    "lineItem/UsageAmount", "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/NetUnblendedCost",
    "pricing/publicOnDemandCost", "reservation/EffectiveCost", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment", "reservation/UnusedRecurringFee",
]


def read_all(data: bytes, source: str = "cur.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    assert reader is aws_cur
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def fixture_rows() -> list[dict[str, str]]:
    with CUR.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if any(row.values())]


def amount(row: dict[str, str], column: str) -> Decimal:
    return Decimal(row[column] or 0)


def expected_effective(row: dict[str, str]) -> Decimal:
    """AWS's CUR-to-FOCUS EffectiveCost rule, written out independently of the reader."""
    kind = row["lineItem/LineItemType"]
    if kind == "SavingsPlanCoveredUsage":
        return amount(row, "savingsPlan/SavingsPlanEffectiveCost")
    if kind == "DiscountedUsage":
        return amount(row, "reservation/EffectiveCost")
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "Fee" and row["reservation/ReservationARN"]:
        return Decimal(0)
    if kind == "SavingsPlanRecurringFee":
        return amount(row, "savingsPlan/TotalCommitmentToDate") - amount(row, "savingsPlan/UsedCommitment")
    if kind == "RIFee":
        return amount(row, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod") + amount(row, "reservation/UnusedRecurringFee")
    return amount(row, "lineItem/UnblendedCost")


def assert_totals_match_fixture(table: pa.Table) -> None:
    rows = fixture_rows()
    assert table.num_rows == len(rows)
    billed = sum((amount(row, "lineItem/UnblendedCost") for row in rows), Decimal(0))
    effective = sum((expected_effective(row) for row in rows), Decimal(0))
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert sum(table["billed_cost"].to_pylist()) == billed
    assert sum(table["effective_cost"].to_pylist()) == effective


def test_it_reads_a_legacy_cur_export_to_the_cent():
    table = read_all(CUR.read_bytes())

    assert_totals_match_fixture(table)
    assert set(table["provider_name"].to_pylist()) == {"AWS"}
    assert set(table["billing_account_id"].to_pylist()) == {"111122223333"}
    assert table["sub_account_id"].to_pylist()[0] == "444455556666"


def test_effective_cost_counts_only_the_used_and_unused_commitment_once():
    table = read_all(CUR.read_bytes())
    by_type = dict(zip((row["lineItem/LineItemType"] for row in fixture_rows()), table["effective_cost"].to_pylist()))

    assert by_type["SavingsPlanCoveredUsage"] == Decimal("95.28")
    assert by_type["SavingsPlanNegation"] == 0
    assert by_type["SavingsPlanRecurringFee"] == Decimal("142.08")  # 3000 committed - 2857.92 used
    assert by_type["DiscountedUsage"] == Decimal("4.104")
    assert by_type["RIFee"] == Decimal("12.312")


def test_it_maps_line_item_types_to_focus_charge_categories():
    table = read_all(CUR.read_bytes())
    kinds = [row["lineItem/LineItemType"] for row in fixture_rows()]
    categories = dict(zip(kinds, table["charge_category"].to_pylist()))
    classes = dict(zip(kinds, table["charge_class"].to_pylist()))

    assert categories == {
        "Usage": "Usage",
        "SavingsPlanCoveredUsage": "Usage",
        "SavingsPlanNegation": "Credit",
        "SavingsPlanRecurringFee": "Purchase",
        "DiscountedUsage": "Usage",
        "RIFee": "Purchase",
        "Fee": "Purchase",
        "Tax": "Tax",
        "Credit": "Credit",
        "Refund": "Credit",
        "EdpDiscount": "Credit",
        "BundledDiscount": "Credit",
    }
    assert classes["Refund"] == "Correction"
    assert {c for k, c in classes.items() if k != "Refund"} == {""}


def test_it_packs_resource_tag_columns_into_one_object():
    table = read_all(CUR.read_bytes())
    tags = [json.loads(value) for value in table["tags"].to_pylist()]

    assert tags[0] == {
        "team": "ml-platform",
        "workload": "support-chatbot",
        "env": "prod",
        "aws:createdBy": "AssumedRole:AROAEXAMPLEID:terraform",
    }
    assert tags[2] == {"team": "search", "workload": "semantic-search", "env": "prod"}
    assert tags[14] == {}  # data transfer carries no tags


def test_it_keeps_timestamps_in_utc_and_the_billing_period():
    table = read_all(CUR.read_bytes())

    assert table["charge_period_start"].to_pylist()[1] == datetime(2024, 5, 2, tzinfo=timezone.utc)
    assert table["charge_period_end"].to_pylist()[1] == datetime(2024, 5, 3, tzinfo=timezone.utc)
    assert set(table["billing_period_start"].to_pylist()) == {datetime(2024, 5, 1, tzinfo=timezone.utc)}
    assert set(table["billing_period_end"].to_pylist()) == {datetime(2024, 6, 1, tzinfo=timezone.utc)}
    assert table.schema.field("charge_period_start").type.tz == "UTC"


def test_it_keeps_bedrock_token_quantities_and_units():
    table = read_all(CUR.read_bytes()).to_pylist()
    bedrock = [row for row in table if row["service_name"] == "Amazon Bedrock"]

    assert [row["consumed_quantity"] for row in bedrock] == [Decimal("18452.331"), Decimal("4120.5"), Decimal("20118.7")]
    assert {row["consumed_unit"] for row in bedrock} == {"1K tokens"}
    assert {row["service_category"] for row in bedrock} == {"AI and Machine Learning"}


def test_it_fills_service_and_region_columns():
    row = read_all(CUR.read_bytes()).to_pylist()[0]

    assert row["service_name"] == "Amazon Elastic Compute Cloud"
    assert row["service_category"] == "Compute"
    assert row["region_id"] == "us-east-1"
    assert row["resource_id"] == "i-0a1b2c3d4e5f60718"
    assert row["list_cost"] == Decimal("29.088")


def test_it_reads_the_gzipped_export():
    assert_totals_match_fixture(read_all(gzip.compress(CUR.read_bytes()), source="cur.csv.gz"))


def test_it_reads_the_parquet_export_with_float_money_columns(tmp_path):
    text = pacsv.read_csv(CUR, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(fixture_rows()[0], pa.string())))
    # CUR Parquet stores money as doubles; blank text becomes a missing number.
    for name in MONEY_COLUMNS:
        position = text.schema.get_field_index(name)
        column = pa.array([float(v) if v else None for v in text[name].to_pylist()], pa.float64())
        text = text.set_column(position, name, column)
    path = tmp_path / "cur.parquet"
    pq.write_table(text, path)

    assert_totals_match_fixture(read_all(path.read_bytes(), source=str(path)))


def test_it_reads_legacy_parquet_with_athena_style_snake_case_names(tmp_path):
    table = pacsv.read_csv(CUR, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(fixture_rows()[0], pa.string())))
    snake = [re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).replace("/", "_").replace(":", "_").lower() for name in table.column_names]
    path = tmp_path / "cur-athena.parquet"
    pq.write_table(table.rename_columns(snake), path)

    result = read_all(path.read_bytes(), source=str(path))
    assert_totals_match_fixture(result)
    assert json.loads(result["tags"].to_pylist()[0]) == {
        "team": "ml-platform",
        "workload": "support-chatbot",
        "env": "prod",
        "aws:created_by": "AssumedRole:AROAEXAMPLEID:terraform",  # Athena snake-cases names
    }


def test_a_bad_amount_names_file_line_and_column(tmp_path):
    rows = fixture_rows()
    rows[4]["lineItem/UnblendedCost"] = "3,000.00"
    path = tmp_path / "broken-cur.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(path) in str(caught.value)
    assert "line 6" in str(caught.value)
    assert "'lineItem/UnblendedCost'" in str(caught.value)


def test_a_missing_required_column_is_reported_on_the_header_line():
    data = CUR.read_bytes().replace(b"lineItem/CurrencyCode", b"lineItem/Currency", 1)

    with pytest.raises(IngestError) as caught:
        read_all(data, source="cur.csv")
    assert "cur.csv, line 1" in str(caught.value)
    assert "lineItem/CurrencyCode" in str(caught.value)


def test_it_keeps_bill_invoice_id_and_a_month_not_yet_invoiced_stays_blank():
    rows = fixture_rows()
    rows[-1]["bill/InvoiceId"] = ""  # AWS fills the id in once it has invoiced the month
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

    table = read_all(out.getvalue().encode())

    assert table["invoice_id"].to_pylist() == ["EUINGB24-123456"] * (len(rows) - 1) + [""]
    assert set(table["service_subcategory"].to_pylist()) == {""}  # CUR does not state one
