import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.errors import IngestError
from ingest.readers import azure, billing_reader
from ingest.readers.tabular import read_header
from ingest.schema import COST_SCHEMA

FIXTURES = Path(__file__).parents[2] / "fixtures" / "azure"
EA_ACTUAL = FIXTURES / "azure-ea-actual-2024-05.csv"
MCA_AMORTIZED = FIXTURES / "azure-mca-amortized-2024-05.csv"
CENT = Decimal("0.01")
UTC = timezone.utc


def read_all(data: bytes, source: str = "azure.csv") -> pa.Table:
    stream = io.BytesIO(data)
    header = read_header(stream, source=source)
    reader = billing_reader("auto", header, source=source)
    assert reader is azure
    return pa.Table.from_batches(list(reader.read(stream, source=source, header=header)), schema=COST_SCHEMA)


def fixture_rows(path: Path) -> list[dict[str, str]]:
    # EA exports start with a byte-order mark; utf-8-sig keeps it out of the first name.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_totals(path: Path, cost: str, charge_type: str, pricing_model: str) -> tuple[Decimal, Decimal]:
    """(billed, effective): every row's cost is effective; rows that only exist as amortization
    (unused commitment, commitment-covered usage) bill nothing."""
    billed = effective = Decimal(0)
    for row in fixture_rows(path):
        value = Decimal(row[cost])
        effective += value
        amortization_only = row[charge_type] in ("UnusedReservation", "UnusedSavingsPlan") or (
            row[charge_type] == "Usage" and row[pricing_model] in ("Reservation", "SavingsPlan")
        )
        billed += 0 if amortization_only else value
    return billed, effective


def test_it_reads_an_ea_actual_export_to_the_cent():
    table = read_all(EA_ACTUAL.read_bytes())
    billed, effective = expected_totals(EA_ACTUAL, "CostInBillingCurrency", "ChargeType", "PricingModel")

    assert table.num_rows == len(fixture_rows(EA_ACTUAL))
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert set(table["provider_name"].to_pylist()) == {"Microsoft"}
    assert set(table["billing_account_id"].to_pylist()) == {"8611537"}
    assert set(table["billing_currency"].to_pylist()) == {"USD"}


def test_it_reads_an_mca_amortized_export_with_camel_case_names():
    table = read_all(MCA_AMORTIZED.read_bytes())
    billed, effective = expected_totals(MCA_AMORTIZED, "costInBillingCurrency", "chargeType", "pricingModel")

    assert table.num_rows == len(fixture_rows(MCA_AMORTIZED))
    assert sum(table["billed_cost"].to_pylist()).quantize(CENT) == billed.quantize(CENT)
    assert sum(table["effective_cost"].to_pylist()).quantize(CENT) == effective.quantize(CENT)
    assert billed != effective  # amortized reservation and savings plan usage bills nothing
    assert set(table["billing_currency"].to_pylist()) == {"EUR"}
    assert table["sub_account_id"].to_pylist()[0] == "d0c1b2a3-9e8f-4a7b-8c6d-5e4f3a2b1c0d"


def test_month_first_dates_become_utc_days_and_an_exclusive_billing_period_end():
    row = read_all(EA_ACTUAL.read_bytes()).to_pylist()[1]  # Date 05/02/2024

    assert row["charge_period_start"] == datetime(2024, 5, 2, tzinfo=UTC)
    assert row["charge_period_end"] == datetime(2024, 5, 3, tzinfo=UTC)
    assert row["billing_period_start"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert row["billing_period_end"] == datetime(2024, 6, 1, tzinfo=UTC)  # BillingPeriodEndDate 05/31/2024


def test_it_maps_charge_types_to_charge_categories():
    ea = read_all(EA_ACTUAL.read_bytes())
    ea_types = [row["ChargeType"] for row in fixture_rows(EA_ACTUAL)]
    mca = read_all(MCA_AMORTIZED.read_bytes())
    mca_types = [row["chargeType"] for row in fixture_rows(MCA_AMORTIZED)]
    categories = {
        **dict(zip(ea_types, ea["charge_category"].to_pylist())),
        **dict(zip(mca_types, mca["charge_category"].to_pylist())),
    }

    assert categories == {
        "Usage": "Usage",
        "Purchase": "Purchase",
        "Refund": "Credit",
        "UnusedReservation": "Usage",
        "UnusedSavingsPlan": "Usage",
    }
    assert ea["charge_class"].to_pylist()[ea_types.index("Refund")] == "Correction"
    assert ea["charge_class"].to_pylist()[ea_types.index("Purchase")] == ""


def test_tags_with_and_without_outer_braces_become_one_object():
    ea_tags = [json.loads(value) for value in read_all(EA_ACTUAL.read_bytes())["tags"].to_pylist()]
    mca_tags = [json.loads(value) for value in read_all(MCA_AMORTIZED.read_bytes())["tags"].to_pylist()]

    assert ea_tags[0] == {"team": "ml-platform", "workload": "support-chatbot", "env": "prod"}
    assert ea_tags[10] == {"team": "ml-platform", "workload": "reranker"}  # "owner": "" left out
    assert ea_tags[6] == {}
    assert mca_tags[0] == {"team": "genai", "workload": "eu-assistant", "env": "prod"}


def test_azure_openai_token_meters_keep_quantity_and_say_tokens():
    ea = read_all(EA_ACTUAL.read_bytes()).to_pylist()
    mca = read_all(MCA_AMORTIZED.read_bytes()).to_pylist()

    assert (ea[2]["consumed_quantity"], ea[2]["consumed_unit"]) == (Decimal("5214.372"), "1K Tokens")
    assert (mca[0]["consumed_quantity"], mca[0]["consumed_unit"]) == (Decimal("88420.5"), "1K Tokens")
    assert ea[2]["service_category"] == "AI and Machine Learning"
    assert mca[0]["service_category"] == "AI and Machine Learning"
    assert ea[0]["consumed_unit"] == "1 Hour"


def test_list_and_contracted_cost_come_from_prices_times_quantity():
    row = read_all(MCA_AMORTIZED.read_bytes()).to_pylist()[2]  # H100 hours under a reservation

    assert row["list_cost"] == Decimal("7.3528") * 24
    assert row["billed_cost"] == 0
    assert row["effective_cost"] == Decimal("122.6592")


def test_older_ea_column_names_are_understood():
    renamed = EA_ACTUAL.read_bytes()
    older_names = {b"SubscriptionId": b"SubscriptionGuid", b"ResourceId": b"InstanceId", b"BillingCurrencyCode": b"BillingCurrency"}
    for new, old in older_names.items():
        renamed = renamed.replace(b"," + new + b",", b"," + old + b",", 1)
    assert b",SubscriptionGuid," in renamed and b",InstanceId," in renamed

    table = read_all(renamed)
    assert table["sub_account_id"].to_pylist()[0] == "3f2c8a10-55d1-4b7e-9c61-0d2a7e9b4c18"
    assert table["resource_id"].to_pylist()[0].endswith("/virtualMachines/chatbot-gpu-01")
    assert set(table["billing_currency"].to_pylist()) == {"USD"}


def test_a_bad_date_names_file_line_and_column(tmp_path):
    rows = fixture_rows(EA_ACTUAL)
    rows[5]["Date"] = "31/05/2024"  # day-first: not what EA writes
    path = tmp_path / "broken-ea.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(caught.value).startswith(f"{path}, line 7, column 'Date'")


def test_broken_tags_name_file_line_and_column(tmp_path):
    rows = fixture_rows(MCA_AMORTIZED)
    rows[7]["tags"] = '{"team": genai}'
    path = tmp_path / "broken-mca.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(IngestError) as caught:
        read_all(path.read_bytes(), source=str(path))
    assert str(caught.value).startswith(f"{path}, line 9, column 'tags'")


def test_an_mca_export_keeps_its_invoice_ids_and_blank_for_the_open_month():
    rows = fixture_rows(MCA_AMORTIZED)
    assert {row["invoiceId"] for row in rows} == {""}  # the fixture's month was not invoiced yet
    for row in rows[:-1]:
        row["invoiceId"] = "G045781234"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

    table = read_all(out.getvalue().encode())

    assert table["invoice_id"].to_pylist() == ["G045781234"] * (len(rows) - 1) + [""]
    assert set(table["service_subcategory"].to_pylist()) == {""}  # cost details do not state one


def test_an_ea_export_has_no_invoice_id_column_and_leaves_it_blank():
    table = read_all(EA_ACTUAL.read_bytes())

    assert "InvoiceId" not in fixture_rows(EA_ACTUAL)[0]
    assert set(table["invoice_id"].to_pylist()) == {""}
