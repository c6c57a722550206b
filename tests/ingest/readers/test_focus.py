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
from ingest.readers import billing_reader, focus
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

FIXTURES = Path(__file__).parents[2] / "fixtures" / "focus"
AWS_FOCUS = FIXTURES / "aws-focus-1.2.csv"
GCP_FOCUS_SNAKE = FIXTURES / "gcp-focus-1.0-snake.csv"


def read_all(data: bytes, source: str = "bill.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def independent_sum(path: Path, column: str) -> Decimal:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum((Decimal(row[column]) for row in csv.DictReader(handle) if row[column]), Decimal(0))


def test_it_reads_an_aws_focus_1_2_export_to_the_cent():
    table = read_all(AWS_FOCUS.read_bytes())

    assert table.num_rows == 8
    assert sum(table["billed_cost"].to_pylist()) == independent_sum(AWS_FOCUS, "BilledCost")
    assert sum(table["effective_cost"].to_pylist()) == independent_sum(AWS_FOCUS, "EffectiveCost")
    assert table["billed_cost"].to_pylist()[2] == Decimal("0.0026666667")


def test_it_keeps_timestamps_in_utc_and_reads_naive_ones_as_utc():
    table = read_all(AWS_FOCUS.read_bytes())

    starts = table["charge_period_start"].to_pylist()
    assert starts[0] == datetime(2026, 10, 1, 0, tzinfo=timezone.utc)
    assert starts[1] == datetime(2026, 10, 1, 1, tzinfo=timezone.utc)  # written "2026-10-01 01:00:00"


def test_it_turns_literal_null_into_blank_text_and_missing_numbers():
    table = read_all(AWS_FOCUS.read_bytes())

    assert table["charge_class"].to_pylist()[0] == ""
    assert table["consumed_quantity"].to_pylist()[6] is None  # the credit has no quantity


def test_it_keeps_tags_as_json_objects_and_empty_tags_as_an_empty_object():
    table = read_all(AWS_FOCUS.read_bytes())

    tags = [json.loads(value) for value in table["tags"].to_pylist()]
    assert tags[0] == {"team": "conversational-ai", "workload": "llm-gateway"}
    assert tags[6] == {}


def test_it_keeps_token_quantities_of_managed_model_apis():
    table = read_all(AWS_FOCUS.read_bytes())

    assert table["consumed_unit"].to_pylist()[4] == "1K Tokens"
    assert table["consumed_quantity"].to_pylist()[4] == Decimal(450)


def test_it_reads_snake_case_headers_and_month_first_dates():
    table = read_all(GCP_FOCUS_SNAKE.read_bytes())

    assert table.num_rows == 3
    assert table["billing_period_start"].to_pylist()[0] == datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert table["charge_period_end"].to_pylist()[0] == datetime(2026, 10, 1, 1, tzinfo=timezone.utc)
    assert sum(table["effective_cost"].to_pylist()) == independent_sum(GCP_FOCUS_SNAKE, "effective_cost")


def test_it_reads_gzip_compressed_csv():
    plain = read_all(AWS_FOCUS.read_bytes())
    zipped = read_all(gzip.compress(AWS_FOCUS.read_bytes()), source="bill.csv.gz")

    assert zipped.equals(plain)


def test_it_reads_parquet_with_typed_columns():
    text = pacsv.read_csv(io.BytesIO(AWS_FOCUS.read_bytes()))  # lets pyarrow type the columns
    assert pa.types.is_floating(text.schema.field("BilledCost").type)
    buffer = io.BytesIO()
    pq.write_table(text, buffer)

    table = read_all(buffer.getvalue(), source="bill.parquet")

    assert sum(table["billed_cost"].to_pylist()) == independent_sum(AWS_FOCUS, "BilledCost")
    assert table["charge_period_start"].to_pylist()[0] == datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_auto_detection_names_the_format():
    header = read_header(io.BytesIO(AWS_FOCUS.read_bytes()), source="x")
    assert billing_reader("auto", header, source="x") is focus


def replace_cell(data: str, *, line: int, column: str, value: str) -> str:
    rows = list(csv.reader(io.StringIO(data)))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("BilledCost", "12,50", "'12,50' is not a valid number"),
        ("ChargePeriodStart", "yesterday", "'yesterday' is not a valid date/time"),
        ("BillingAccountId", "", "a value is required here"),
        ("Tags", "team=search", "tags must be a JSON object, got 'team=search'"),
    ],
)
def test_bad_values_name_the_file_line_and_column(column, value, message):
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=4, column=column, value=value)

    with pytest.raises(IngestError) as error:
        read_all(data.encode(), source="october.csv")

    assert str(error.value) == f"october.csv, line 4, column {column!r}: {message}"


def test_a_missing_required_column_is_named():
    data = AWS_FOCUS.read_text(encoding="utf-8-sig").replace("EffectiveCost", "Whatever", 1)

    with pytest.raises(IngestError, match="required FOCUS column EffectiveCost is missing"):
        read_all(data.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"a,b,c\n1,2,3\n", "unrecognised billing format; the header starts: a, b, c"),
        (gzip.compress(AWS_FOCUS.read_bytes())[:300], "gzip"),
        ("BilledCost,ChargePeriodStart,BillingAccountId\n".encode("utf-16"), "not UTF-8"),
    ],
)
def test_unreadable_files_get_a_clear_error(data, message):
    with pytest.raises(IngestError, match=message):
        read_all(data)


def test_a_non_utf8_row_is_reported_with_its_line():
    data = AWS_FOCUS.read_bytes().replace(b"Example Corp", "Exämple Corp".encode("latin-1"), 1)

    with pytest.raises(IngestError, match="not UTF-8"):
        read_all(data)


def test_doubles_with_more_decimals_than_stored_are_rounded_half_even():
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=2, column="BilledCost", value="3.3333333333333335e-07")

    table = read_all(data.encode())

    assert table["billed_cost"].to_pylist()[0] == Decimal("0.0000003333")


def test_a_number_too_big_to_store_is_an_error_not_a_wrapped_value():
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=2, column="BilledCost", value="1e30")

    with pytest.raises(IngestError, match="line 2, column 'BilledCost'"):
        read_all(data.encode())


def test_it_keeps_the_invoice_id_and_service_subcategory_the_export_states():
    table = read_all(AWS_FOCUS.read_bytes())

    assert set(table["invoice_id"].to_pylist()) == {"2614589032"}
    assert table["service_subcategory"].to_pylist() == [
        "Virtual Machines", "Virtual Machines", "Block Storage", "Network Connectivity",
        "Generative AI", "Generative AI", "Virtual Machines", "Virtual Machines",
    ]


def test_a_charge_on_no_invoice_yet_keeps_a_blank_invoice_id():
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=2, column="InvoiceId", value="")

    assert read_all(data.encode())["invoice_id"].to_pylist()[0] == ""


def test_a_focus_1_0_export_has_neither_column_and_leaves_both_blank():
    table = read_all(GCP_FOCUS_SNAKE.read_bytes())

    assert set(table["invoice_id"].to_pylist()) == {""}
    assert set(table["service_subcategory"].to_pylist()) == {""}  # not derived from the category


def test_a_value_of_the_longest_storable_length_in_multibyte_characters_is_kept():
    name = "é" * 200  # 200 characters, 400 bytes: ServiceName stores at most 200 characters
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=2, column="ServiceName", value=name)

    table = read_all(data.encode())

    assert table["service_name"].to_pylist()[0] == name


@pytest.mark.parametrize(
    ("value", "stored"),
    [(" 7.25 ", Decimal("7.25")), ("+1E2", Decimal("100")), (".5", Decimal("0.5")), ("-0.0000000001", Decimal("-1E-10"))],
)
def test_numbers_in_every_spelling_exports_use_are_read_exactly(value, stored):
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=2, column="BilledCost", value=value)

    table = read_all(data.encode())

    assert table["billed_cost"].to_pylist()[0] == stored


@pytest.mark.parametrize("value", ["12345678901234567890", "1.5.2", "0x10", "NaN", "1,5"])
def test_a_number_the_column_cannot_hold_exactly_is_an_error_at_its_cell(value):
    data = replace_cell(AWS_FOCUS.read_text(encoding="utf-8-sig"), line=3, column="BilledCost", value=value)

    with pytest.raises(IngestError, match="line 3, column 'BilledCost'"):
        read_all(data.encode())
