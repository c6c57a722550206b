import csv
import gzip
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ingest.errors import IngestError
from ingest.readers import aws_cur2, billing_reader
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

CUR2 = Path(__file__).parents[2] / "fixtures" / "aws-cur2" / "cur2-2024-05.csv"
CENT = Decimal("0.01")
MONEY_COLUMNS = [
    "line_item_usage_amount", "line_item_unblended_rate", "line_item_unblended_cost", "line_item_net_unblended_cost",
    "pricing_public_on_demand_cost", "reservation_effective_cost", "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date", "savings_plan_used_commitment", "reservation_unused_recurring_fee",
]
MAP_COLUMNS = ["product", "resource_tags"]


def read_all(data: bytes, source: str = "cur2.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    assert reader is aws_cur2
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def fixture_rows() -> list[dict[str, str]]:
    with CUR2.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def amount(row: dict[str, str], column: str) -> Decimal:
    return Decimal(row[column] or 0)


def expected_effective(row: dict[str, str]) -> Decimal:
    """AWS's CUR-to-FOCUS EffectiveCost rule, written out independently of the reader."""
    kind = row["line_item_line_item_type"]
    if kind == "SavingsPlanCoveredUsage":
        return amount(row, "savings_plan_savings_plan_effective_cost")
    if kind == "DiscountedUsage":
        return amount(row, "reservation_effective_cost")
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "Fee" and row["reservation_reservation_a_r_n"]:
        return Decimal(0)
    if kind == "SavingsPlanRecurringFee":
        return amount(row, "savings_plan_total_commitment_to_date") - amount(row, "savings_plan_used_commitment")
    if kind == "RIFee":
        return amount(row, "reservation_unused_amortized_upfront_fee_for_billing_period") + amount(
            row, "reservation_unused_recurring_fee"
        )
    return amount(row, "line_item_unblended_cost")


def assert_totals_match_fixture(table: pa.Table) -> None:
    rows = fixture_rows()
    assert table.num_rows == len(rows)
    billed = sum((amount(row, "line_item_unblended_cost") for row in rows), Decimal(0))
    effective = sum((expected_effective(row) for row in rows), Decimal(0))
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()) == effective


def parquet_from_fixture(path: Path) -> Path:
    """The fixture as Data Exports writes Parquet: doubles for money, maps for map columns."""
    text = pacsv.read_csv(CUR2, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(fixture_rows()[0], pa.string())))
    for name in MONEY_COLUMNS:
        column = pa.array([float(v) if v else None for v in text[name].to_pylist()], pa.float64())
        text = text.set_column(text.schema.get_field_index(name), name, column)
    for name in MAP_COLUMNS:
        column = pa.array([list(json.loads(v).items()) for v in text[name].to_pylist()], pa.map_(pa.string(), pa.string()))
        text = text.set_column(text.schema.get_field_index(name), name, column)
    pq.write_table(text, path)
    return path


def test_it_reads_a_cur2_export_to_the_cent():
    table = read_all(CUR2.read_bytes())

    assert_totals_match_fixture(table)
    assert set(table["provider_name"].to_pylist()) == {"AWS"}
    assert set(table["billing_account_id"].to_pylist()) == {"111122223333"}


def test_it_takes_the_service_name_from_the_product_map():
    table = read_all(CUR2.read_bytes()).to_pylist()

    assert table[0]["service_name"] == "Amazon Elastic Compute Cloud"
    assert table[7]["service_name"] == "Amazon Bedrock"
    assert table[7]["service_category"] == "AI and Machine Learning"
    assert table[0]["region_id"] == "us-east-1"


def test_it_maps_line_item_types_and_refunds():
    table = read_all(CUR2.read_bytes())
    kinds = [row["line_item_line_item_type"] for row in fixture_rows()]
    categories = dict(zip(kinds, table["charge_category"].to_pylist()))

    assert categories["SavingsPlanCoveredUsage"] == "Usage"
    assert categories["SavingsPlanNegation"] == "Credit"
    assert categories["RIFee"] == "Purchase"
    assert categories["Tax"] == "Tax"
    assert categories["Refund"] == "Credit"
    assert table["charge_class"].to_pylist()[kinds.index("Refund")] == "Correction"


def test_it_unpacks_resource_tags_without_the_user_prefix():
    tags = [json.loads(value) for value in read_all(CUR2.read_bytes())["tags"].to_pylist()]

    assert tags[0] == {
        "team": "ml-platform",
        "workload": "support-chatbot",
        "env": "prod",
        "aws:createdBy": "AssumedRole:AROAEXAMPLEID:terraform",
    }
    assert tags[11] == {"team": "search", "workload": "reranker", "env": "staging"}  # empty cost_center left out
    assert tags[3] == {}


def test_it_reads_millisecond_timestamps_as_utc():
    table = read_all(CUR2.read_bytes())

    assert table["charge_period_start"].to_pylist()[0] == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert table["billing_period_end"].to_pylist()[0] == datetime(2024, 6, 1, tzinfo=timezone.utc)


def test_it_keeps_bedrock_token_quantities_and_units():
    rows = [row for row in read_all(CUR2.read_bytes()).to_pylist() if row["service_name"] == "Amazon Bedrock"]

    assert [(row["consumed_quantity"], row["consumed_unit"]) for row in rows] == [
        (Decimal("18452.331"), "1K tokens"),
        (Decimal("4120.5"), "1K tokens"),
    ]


def test_it_reads_the_gzipped_export():
    assert_totals_match_fixture(read_all(gzip.compress(CUR2.read_bytes()), source="cur2.csv.gz"))


def test_it_reads_the_parquet_export_with_map_columns(tmp_path):
    path = parquet_from_fixture(tmp_path / "cur2.parquet")
    table = read_all(path.read_bytes(), source=str(path))

    assert_totals_match_fixture(table)
    assert json.loads(table["tags"].to_pylist()[0])["team"] == "ml-platform"
    assert table["service_name"].to_pylist()[7] == "Amazon Bedrock"


def test_a_broken_tag_map_names_file_line_and_column(tmp_path):
    rows = fixture_rows()
    rows[9]["resource_tags"] = '{"user_team": "search"'
    path = tmp_path / "broken-cur2.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(caught.value).startswith(f"{path}, line 11, column 'resource_tags'")


def test_it_keeps_bill_invoice_id_and_a_month_not_yet_invoiced_stays_blank():
    rows = fixture_rows()
    rows[0]["bill_invoice_id"] = ""  # AWS fills the id in once it has invoiced the month
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

    table = read_all(out.getvalue().encode())

    assert table["invoice_id"].to_pylist() == [""] + ["EUINGB24-123456"] * (len(rows) - 1)
    assert set(table["service_subcategory"].to_pylist()) == {""}  # CUR 2.0 does not state one
