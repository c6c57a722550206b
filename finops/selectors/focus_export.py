"""Cost records as a FOCUS 1.2 cost-and-usage CSV. The one column mapping used by the
`export_focus` command and `GET /api/v1/export/focus.csv`.

Rows are read with `iterator(chunk_size=...)` and written line by line, so memory stays
bounded however many records there are. Values follow FOCUS: timestamps in ISO 8601 UTC
with a `Z`, decimals as plain strings at stored precision, `Tags` as a JSON object, empty
text as null (an empty cell). Columns we do not store are derived only where FOCUS defines
them from columns we have; everything else we cannot know is null, never guessed.

Cells are written as they are: unlike the dashboards' CSV downloads there is no formula
escaping, because a FOCUS file is read by tools, and a leading "'" would corrupt a
negative cost ("-1.5") or an identifier.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from finops.models import CostRecord

FOCUS_VERSION = "1.2"
CHUNK_SIZE = 2000

# FOCUS 1.2 ChargeFrequency from ChargeCategory. Usage is metered by definition; purchases,
# taxes, credits and adjustments are charged once when they occur (a recurring purchase would
# be "Recurring", but we cannot tell it apart, so we do not claim it).
CHARGE_FREQUENCY = {
    "Usage": "Usage-Based",
    "Purchase": "One-Time",
    "Tax": "One-Time",
    "Credit": "One-Time",
    "Adjustment": "One-Time",
}

# The model fields each row needs, read with values_list (no model instances).
FIELDS = (
    "billed_cost", "billing_account_id", "billing_currency", "billing_period_end", "billing_period_start",
    "charge_category", "charge_class", "charge_description", "charge_period_end", "charge_period_start",
    "consumed_quantity", "consumed_unit", "contracted_cost", "effective_cost", "invoice_id", "list_cost",
    "pricing_quantity", "pricing_unit", "provider_name", "region_id", "resource_id", "resource_name",
    "resource_type", "service_category", "service_name", "service_subcategory", "sku_id", "sub_account_id",
    "tags",
)


@dataclass(frozen=True)
class FocusColumn:
    name: str  # the FOCUS column name
    value: Callable[[dict], object]  # row (model field -> value) -> cell


def _field(name: str) -> Callable[[dict], object]:
    return lambda row: row[name]


def _provider(row: dict) -> str:
    # We load one provider's bill per delivery: the provider is who issues the invoice and
    # publishes the services in it. Marketplace resellers are not told apart yet.
    return row["provider_name"]


def _charge_frequency(row: dict) -> str | None:
    return CHARGE_FREQUENCY.get(row["charge_category"])


# FOCUS 1.2 service categories; each has an "Other (<category>)" subcategory.
SERVICE_CATEGORIES = frozenset({
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Identity", "Integration", "Internet of Things", "Management and Governance", "Media", "Migration", "Mobile",
    "Multicloud", "Networking", "Other", "Security", "Storage", "Web",
})


def _service_subcategory(row: dict) -> str | None:
    # FOCUS 1.2 requires a subcategory, and only FOCUS 1.1+ bills state one: rows from CUR,
    # Azure, GCP or OCI exports say "Other (<category>)", the spec's value for a service it does
    # not place more precisely, rather than a guess at which specific subcategory it is.
    if row["service_subcategory"]:
        return row["service_subcategory"]
    if row["service_category"] in SERVICE_CATEGORIES:
        return f"Other ({row['service_category']})"
    return None


def _null(row: dict) -> None:
    return None


COLUMNS = (
    FocusColumn("BilledCost", _field("billed_cost")),
    FocusColumn("BillingAccountId", _field("billing_account_id")),
    # Not stored at ingest; FOCUS allows null where the name is not known.
    FocusColumn("BillingAccountName", _null),
    FocusColumn("BillingCurrency", _field("billing_currency")),
    FocusColumn("BillingPeriodEnd", _field("billing_period_end")),
    FocusColumn("BillingPeriodStart", _field("billing_period_start")),
    FocusColumn("ChargeCategory", _field("charge_category")),
    FocusColumn("ChargeClass", _field("charge_class")),
    FocusColumn("ChargeDescription", _field("charge_description")),
    FocusColumn("ChargeFrequency", _charge_frequency),
    FocusColumn("ChargePeriodEnd", _field("charge_period_end")),
    FocusColumn("ChargePeriodStart", _field("charge_period_start")),
    FocusColumn("ConsumedQuantity", _field("consumed_quantity")),
    FocusColumn("ConsumedUnit", _field("consumed_unit")),
    FocusColumn("ContractedCost", _field("contracted_cost")),
    FocusColumn("EffectiveCost", _field("effective_cost")),
    # Null while the source named no invoice (not yet issued, or a source without invoice ids).
    FocusColumn("InvoiceId", _field("invoice_id")),
    FocusColumn("InvoiceIssuerName", _provider),
    FocusColumn("ListCost", _field("list_cost")),
    FocusColumn("PricingQuantity", _field("pricing_quantity")),
    FocusColumn("PricingUnit", _field("pricing_unit")),
    FocusColumn("ProviderName", _field("provider_name")),
    FocusColumn("PublisherName", _provider),
    FocusColumn("RegionId", _field("region_id")),
    FocusColumn("ResourceId", _field("resource_id")),
    FocusColumn("ResourceName", _field("resource_name")),
    FocusColumn("ResourceType", _field("resource_type")),
    FocusColumn("ServiceCategory", _field("service_category")),
    FocusColumn("ServiceName", _field("service_name")),
    # As the source stated it. Sources without it (CUR, cost details, BigQuery, FOCUS 1.0) leave
    # it null, which FOCUS does not allow: not derived from ServiceCategory, which cannot tell it.
    FocusColumn("ServiceSubcategory", _service_subcategory),
    FocusColumn("SkuId", _field("sku_id")),
    FocusColumn("SubAccountId", _field("sub_account_id")),
    FocusColumn("Tags", _field("tags")),
)
HEADER = tuple(column.name for column in COLUMNS)


def focus_cell(value) -> str:
    """One value as FOCUS writes it in CSV; None and "" are null (an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
        return value.strftime(pattern)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return str(value)


def focus_records(*, records: QuerySet[CostRecord], start: date | None = None, end: date | None = None) -> QuerySet:
    """`records` (already scoped to who asks) whose charge period starts on the days
    `start`..`end` inclusive, in the reporting time zone, as the dashboards count days."""
    zone = timezone.get_default_timezone()
    # A bound at the calendar's edge excludes nothing (and its UTC instant may not exist).
    start = None if start is not None and start <= date.min + timedelta(days=1) else start
    end = None if end is not None and end >= date.max - timedelta(days=1) else end
    if start is not None:
        records = records.filter(charge_period_start__gte=datetime.combine(start, time.min, tzinfo=zone))
    if end is not None:
        records = records.filter(charge_period_start__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))
    return records.order_by("charge_period_start", "id").values(*FIELDS)


def focus_rows(*, records: QuerySet[CostRecord], start: date | None = None, end: date | None = None) -> Iterator[list[str]]:
    """The header, then one row of cells per record, read in chunks."""
    yield list(HEADER)
    for row in focus_records(records=records, start=start, end=end).iterator(chunk_size=CHUNK_SIZE):
        yield [focus_cell(column.value(row)) for column in COLUMNS]


class _Line:
    """A file-like sink for csv.writer that hands back the line it was given."""

    def write(self, line: str) -> str:
        return line


def focus_csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """CSV text, one line at a time (RFC 4180 quoting, CRLF line ends)."""
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow(row)
