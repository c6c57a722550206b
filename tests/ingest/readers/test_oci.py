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
from ingest.readers import billing_reader, oci
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

OCI = Path(__file__).parents[2] / "fixtures" / "oci" / "oci-cost-2024-05-01-0001.csv"
CENT = Decimal("0.01")
UTC = timezone.utc


def read_all(data: bytes, source: str = "oci.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    assert reader is oci
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def fixture_rows() -> list[dict[str, str]]:
    with OCI.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if any(row.values())]


def test_it_reads_a_cost_report_to_the_cent_ignoring_trailing_blank_lines():
    table = read_all(OCI.read_bytes())
    rows = fixture_rows()
    expected = sum((Decimal(row["cost/myCost"]) for row in rows), Decimal(0))

    assert table.num_rows == len(rows) == 12
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == expected.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()) == expected
    assert set(table["provider_name"].to_pylist()) == {"Oracle"}
    assert table["billing_account_id"].to_pylist()[0].startswith("ocid1.tenancy.oc1..")


def test_the_billing_period_is_the_utc_month_of_the_usage_start():
    table = read_all(OCI.read_bytes()).to_pylist()

    assert table[0]["charge_period_start"] == datetime(2024, 5, 1, tzinfo=UTC)  # written 2024-05-01T00:00Z
    assert table[0]["charge_period_end"] == datetime(2024, 5, 1, 1, tzinfo=UTC)
    assert (table[0]["billing_period_start"], table[0]["billing_period_end"]) == (
        datetime(2024, 5, 1, tzinfo=UTC),
        datetime(2024, 6, 1, tzinfo=UTC),
    )
    assert (table[11]["billing_period_start"], table[11]["billing_period_end"]) == (
        datetime(2024, 4, 1, tzinfo=UTC),
        datetime(2024, 5, 1, tzinfo=UTC),
    )


def test_corrections_are_usage_with_the_correction_class():
    table = read_all(OCI.read_bytes())
    corrections = [row["lineItem/isCorrection"] == "true" for row in fixture_rows()]

    assert set(table["charge_category"].to_pylist()) == {"Usage"}
    assert [c == "Correction" for c in table["charge_class"].to_pylist()] == corrections
    assert table["billed_cost"].to_pylist()[corrections.index(True)] == Decimal(-8)


def test_tag_columns_are_packed_into_one_object():
    tags = [json.loads(value) for value in read_all(OCI.read_bytes())["tags"].to_pylist()]

    assert tags[0] == {
        "Oracle-Tags.CreatedBy": "ocid1.user.oc1..aaaaaaaaterraform",
        "Oracle-Tags.CreatedOn": "2024-04-18T09:12:44.512Z",
        "ml.team": "ml-platform",
        "ml.workload": "support-chatbot",
        "cost-center": "CC-4410",
    }
    assert tags[3]["ml.team"] == "search"
    assert "cost-center" not in tags[3]
    assert tags[8] == {}


def test_generative_ai_keeps_quantity_unit_and_category():
    row = read_all(OCI.read_bytes()).to_pylist()[5]

    assert row["service_name"] == "GENERATIVE_AI"
    assert row["service_category"] == "AI and Machine Learning"
    assert (row["consumed_quantity"], row["consumed_unit"]) == (Decimal("31.442"), "10,000 Transactions")
    assert row["sku_id"] == "B108077"


def test_it_reads_a_gzipped_report():
    assert read_all(gzip.compress(OCI.read_bytes()), source="oci.csv.gz").num_rows == 12


def test_a_bad_cost_names_file_line_and_column(tmp_path):
    rows = fixture_rows()
    rows[2]["cost/myCost"] = "0,00171371"
    path = tmp_path / "broken-oci.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(caught.value) == f"{path}, line 4, column 'cost/myCost': '0,00171371' is not a valid number"


def test_a_cost_report_names_no_invoice_and_no_subcategory():
    table = read_all(OCI.read_bytes())

    assert set(table["invoice_id"].to_pylist()) == {""}
    assert set(table["service_subcategory"].to_pylist()) == {""}
