import csv
import gzip
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.errors import IngestError
from ingest.readers import billing_reader, gcp
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gcp"
GCP_CSV = FIXTURES / "gcp-billing-2024-05.csv"
GCP_JSONL = FIXTURES / "gcp-billing-2024-05.jsonl"
CENT = Decimal("0.01")
UTC = timezone.utc


def read_all(data: bytes, source: str = "gcp.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    assert reader is gcp
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def csv_rows() -> list[dict[str, str]]:
    with GCP_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def jsonl_records() -> list[dict]:
    lines = GCP_JSONL.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def credit_total(credits: list[dict]) -> Decimal:
    return sum((Decimal(str(credit["amount"])) for credit in credits), Decimal(0))


def test_it_reads_a_csv_export_to_the_cent_with_credits_in_effective_cost():
    table = read_all(GCP_CSV.read_bytes())
    rows = csv_rows()
    billed = sum((Decimal(row["cost"]) for row in rows), Decimal(0))
    effective = billed + sum((credit_total(json.loads(row["credits"])) for row in rows), Decimal(0))

    assert table.num_rows == len(rows)
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()) == effective
    assert table["effective_cost"].to_pylist()[1] == Decimal("18.3456") - Decimal("3.66912") - Decimal("6.2")
    assert set(table["provider_name"].to_pylist()) == {"Google Cloud"}


def test_it_reads_newline_delimited_json_to_the_cent():
    table = read_all(GCP_JSONL.read_bytes(), source="gcp.jsonl")
    records = jsonl_records()
    billed = sum((Decimal(str(r["cost"])) for r in records), Decimal(0))
    effective = billed + sum((credit_total(r["credits"]) for r in records), Decimal(0))

    assert table.num_rows == len(records)
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert table["service_name"].to_pylist()[0] == "Vertex AI"
    assert table["resource_id"].to_pylist()[1].startswith("//compute.googleapis.com/")


def test_it_reads_gzipped_json_lines():
    table = read_all(gzip.compress(GCP_JSONL.read_bytes()), source="gcp.jsonl.gz")

    assert table.num_rows == len(jsonl_records())


def test_labels_become_the_tags_object_without_empty_values():
    tags = [json.loads(value) for value in read_all(GCP_CSV.read_bytes())["tags"].to_pylist()]

    assert tags[0] == {"team": "ml-platform", "workload": "support-chatbot", "env": "prod"}
    assert tags[8] == {"team": "search", "env": "prod"}  # workload label set to ""
    assert tags[12] == {}


def test_it_maps_cost_types_to_charge_categories():
    table = read_all(GCP_CSV.read_bytes())
    kinds = [row["cost_type"] for row in csv_rows()]
    categories = dict(zip(kinds, table["charge_category"].to_pylist()))
    classes = dict(zip(kinds, table["charge_class"].to_pylist()))

    assert categories == {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}
    assert classes["adjustment"] == "Correction"
    assert classes["regular"] == ""


def test_timestamps_are_utc_and_the_invoice_month_is_the_billing_period():
    table = read_all(GCP_CSV.read_bytes()).to_pylist()
    late_april = table[10]

    assert table[2]["charge_period_start"] == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert late_april["charge_period_start"] == datetime(2024, 4, 30, 23, tzinfo=UTC)
    assert late_april["billing_period_start"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert late_april["billing_period_end"] == datetime(2024, 6, 1, tzinfo=UTC)


def test_vertex_token_and_character_skus_say_what_they_count():
    table = read_all(GCP_CSV.read_bytes()).to_pylist()

    assert (table[2]["consumed_quantity"], table[2]["consumed_unit"]) == (Decimal(6042850), "tokens")
    assert (table[2]["pricing_quantity"], table[2]["pricing_unit"]) == (Decimal("6042.85"), "1000 tokens")
    assert table[4]["consumed_unit"] == "characters"
    assert table[0]["consumed_unit"] == "seconds"  # other units stay as exported
    assert table[2]["service_category"] == "AI and Machine Learning"


def test_literal_null_resource_names_read_as_blank():
    row = read_all(GCP_CSV.read_bytes()).to_pylist()[2]  # resource.name written as NULL

    assert (row["resource_id"], row["resource_name"]) == ("", "")


def test_multi_region_rows_fall_back_to_the_location():
    table = read_all(GCP_CSV.read_bytes()).to_pylist()

    assert table[0]["region_id"] == "us-central1"
    assert table[6]["region_id"] == "us"


def test_a_bad_credits_value_names_file_line_and_column(tmp_path):
    rows = csv_rows()
    rows[6]["credits"] = "[{'name': 'Free Tier', 'amount': -0.013}]"  # Python repr, not JSON
    path = tmp_path / "broken-gcp.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(caught.value).startswith(f"{path}, line 8, column 'credits'")


def test_a_bad_json_line_names_its_line():
    lines = GCP_JSONL.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3][:40] + b"\n"

    with pytest.raises(IngestError) as caught:
        read_all(b"".join(lines), source="gcp.jsonl")
    assert str(caught.value).startswith("gcp.jsonl, line 4")


def test_a_bad_cost_in_json_lines_names_line_and_column():
    lines = GCP_JSONL.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"cost":18.3456', b'"cost":"18,3456"')
    assert b'"18,3456"' in lines[2]

    with pytest.raises(IngestError) as caught:
        read_all(b"".join(lines), source="gcp.jsonl")
    assert str(caught.value).startswith("gcp.jsonl, line 3, column 'cost'")


@pytest.mark.parametrize("path", [GCP_CSV, GCP_JSONL])
def test_the_invoice_month_is_no_invoice_id_and_no_subcategory_is_invented(path):
    table = read_all(path.read_bytes(), source=path.name)

    assert set(table["invoice_id"].to_pylist()) == {""}
    assert set(table["service_subcategory"].to_pylist()) == {""}
