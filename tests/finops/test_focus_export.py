"""FOCUS 1.2 export: the column mapping, the command and GET /api/v1/export/focus.csv."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from finops.models import CostRecord, IngestRun, TeamMembership
from finops.selectors.focus_export import HEADER, focus_cell
from ingest.services.billing import billing_uri_ingest
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/export/focus.csv"
AWS_FOCUS = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"


def record(workload, *, day: int = 1, billed: str = "10.5000000000", **fields) -> CostRecord:
    start = datetime(2026, 10, day, tzinfo=UTC)
    values = {
        "ingest_run": IngestRun.objects.get_or_create(source="test", status=IngestRun.Status.SUCCEEDED)[0],
        "workload": workload, "charge_period_start": start, "charge_period_end": start.replace(hour=1),
        "billing_period_start": datetime(2026, 10, 1, tzinfo=UTC), "billing_period_end": datetime(2026, 11, 1, tzinfo=UTC),
        "provider_name": "AWS", "billing_account_id": "111122223333", "service_name": "Amazon EC2",
        "service_category": "Compute", "charge_category": "Usage", "billed_cost": Decimal(billed),
        "effective_cost": Decimal(billed), "billing_currency": "USD",
    }
    values.update(fields)
    return CostRecord.objects.create(**values)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def body(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    mine, theirs = WorkloadFactory(team=search), WorkloadFactory(team=vision)
    return {
        "mine": record(mine, resource_id="i-search"),
        "theirs": record(theirs, resource_id="i-vision"),
        "unallocated": record(None, resource_id="i-shared"),
        "member": MembershipFactory(team=search).user,
        "leader": MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user,
    }


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_it_writes_focus_columns_and_types(tmp_path):
    record(
        WorkloadFactory(), billed="0.0000000001", list_cost=Decimal("-1.2500000000"), contracted_cost=None,
        consumed_quantity=Decimal("24"), consumed_unit="Hours", charge_class="", tags={"team": "search", "ü": "1"},
        charge_period_start=datetime(2026, 10, 1, 0, 0, 0, 500, tzinfo=UTC),
    )
    out = tmp_path / "focus.csv"
    call_command("export_focus", "--out", str(out))
    [row] = rows(out.read_text(encoding="utf-8"))
    assert tuple(row) == HEADER
    assert row["BilledCost"] == "0.0000000001"  # plain decimal, never 1E-10
    assert row["ListCost"] == "-1.2500000000"  # no spreadsheet escaping in a data file
    assert row["ContractedCost"] == ""  # unknown stays null, never invented
    assert row["ConsumedQuantity"] == "24.0000000000"  # stored precision
    assert row["ChargeClass"] == ""
    assert row["ChargePeriodStart"] == "2026-10-01T00:00:00.000500Z"
    assert row["ChargePeriodEnd"] == "2026-10-01T01:00:00Z"
    assert row["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    assert json.loads(row["Tags"]) == {"team": "search", "ü": "1"}
    assert row["ChargeFrequency"] == "Usage-Based"
    assert row["InvoiceIssuerName"] == row["PublisherName"] == row["ProviderName"] == "AWS"
    assert row["BillingAccountName"] == ""


@pytest.mark.parametrize(("category", "frequency"), [("Usage", "Usage-Based"), ("Purchase", "One-Time"), ("Tax", "One-Time")])
def test_it_derives_charge_frequency_from_charge_category(category, frequency):
    record(None, charge_category=category)
    out = io.StringIO()
    call_command("export_focus", "--out", "-", stdout=out)
    assert [row["ChargeFrequency"] for row in rows(out.getvalue())] == [frequency]


def test_empty_tags_are_null():
    assert focus_cell({}) == ""
    assert focus_cell(None) == ""
    assert focus_cell("") == ""


def test_the_command_picks_days_inclusively(tmp_path, settings):
    settings.TIME_ZONE = "UTC"
    for day in (1, 2, 3, 4):
        record(None, day=day, resource_id=f"day-{day}")
    out = tmp_path / "focus.csv"
    call_command("export_focus", "--out", str(out), "--start", "2026-10-02", "--end", "2026-10-03")
    assert [row["ResourceId"] for row in rows(out.read_text())] == ["day-2", "day-3"]


def test_the_command_refuses_an_end_before_the_start(tmp_path):
    with pytest.raises(CommandError):
        call_command("export_focus", "--out", str(tmp_path / "x.csv"), "--start", "2026-10-02", "--end", "2026-10-01")
    assert not (tmp_path / "x.csv").exists()


def test_the_command_exports_every_team_and_unallocated(org, tmp_path):
    out = tmp_path / "focus.csv"
    call_command("export_focus", "--out", str(out))
    assert {row["ResourceId"] for row in rows(out.read_text())} == {"i-search", "i-vision", "i-shared"}


def test_a_member_exports_only_their_team(org):
    response = as_user(org["member"]).get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert [row["ResourceId"] for row in rows(body(response))] == ["i-search"]


def test_a_leader_exports_every_team_and_unallocated(org):
    response = as_user(org["leader"]).get(URL)
    assert {row["ResourceId"] for row in rows(body(response))} == {"i-search", "i-vision", "i-shared"}


def test_an_outsider_gets_only_the_header(org):
    response = as_user(UserFactory()).get(URL)
    assert response.status_code == 200
    assert body(response).splitlines() == [",".join(HEADER)]


def test_anonymous_gets_401(org):
    response = APIClient().get(URL, HTTP_ACCEPT="text/csv")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_it_filters_by_day(org, settings):
    settings.TIME_ZONE = "UTC"
    record(org["mine"].workload, day=5, resource_id="later")
    response = as_user(org["member"]).get(URL, {"start": "2026-10-02", "end": "2026-10-05"})
    assert [row["ResourceId"] for row in rows(body(response))] == ["later"]


@pytest.mark.parametrize("query", [{"start": "yesterday"}, {"start": "2026-10-02", "end": "2026-10-01"}])
def test_bad_days_get_400(org, query):
    response = as_user(org["member"]).get(URL, query, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_the_schema_documents_it():
    schema = as_user(UserFactory()).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/export/focus.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"start", "end"}


@pytest.mark.parametrize("query", [{"start": "0001-01-01"}, {"end": "9999-12-31"}])
def test_days_at_the_calendars_edge_exclude_nothing(org, query, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    response = as_user(org["member"]).get(URL, query)
    assert [row["ResourceId"] for row in rows(body(response))] == ["i-search"]


def test_it_writes_the_stored_invoice_id_and_service_subcategory_and_null_when_blank():
    record(None, resource_id="invoiced", invoice_id="2614589032", service_subcategory="Virtual Machines")
    record(None, day=2, resource_id="not-yet-invoiced")
    record(None, day=3, resource_id="uncategorized", service_category="")
    out = io.StringIO()
    call_command("export_focus", "--out", "-", stdout=out)
    invoiced, open_month, uncategorized = rows(out.getvalue())
    assert (invoiced["InvoiceId"], invoiced["ServiceSubcategory"]) == ("2614589032", "Virtual Machines")
    # FOCUS 1.2 requires a subcategory: a source that states none gets its category's "Other".
    assert (open_month["InvoiceId"], open_month["ServiceSubcategory"]) == ("", "Other (Compute)")
    assert uncategorized["ServiceSubcategory"] == ""


def test_what_a_focus_bill_says_of_invoices_and_subcategories_comes_back_out(tmp_path):
    bill = tmp_path / "bill" / "aws-focus.csv"
    bill.parent.mkdir()
    bill.write_bytes(AWS_FOCUS.read_bytes())
    billing_uri_ingest(uri=str(bill))
    leader = MembershipFactory(role=TeamMembership.Role.LEADER).user

    exported = rows(body(as_user(leader).get(URL)))

    with AWS_FOCUS.open(encoding="utf-8-sig", newline="") as handle:
        billed = list(csv.DictReader(handle))
    assert len(exported) == len(billed)
    assert sorted((row["InvoiceId"], row["ServiceSubcategory"]) for row in exported) == sorted(
        (row["InvoiceId"], row["ServiceSubcategory"]) for row in billed
    )
