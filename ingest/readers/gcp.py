"""Google Cloud Billing export to BigQuery (standard or detailed usage cost), exported from
BigQuery as CSV (nested fields flattened: `service.description`, or `service_description`;
`labels` and `credits` as JSON arrays) or as newline-delimited JSON (nested as exported).

BilledCost is `cost`. EffectiveCost is `cost` plus the sum of `credits[].amount` (credits are
negative: sustained-use and committed-use discounts, free tier, promotions), so it is what the
row costs after every credit. The billing period is `invoice.month` (YYYYMM); rows without
one fall in the calendar month of their usage start. The export names no invoice (`invoice.month`
is the month invoiced, not an invoice id), so InvoiceId stays blank. `labels` ([{key, value}])
become the tags object; empty label values are left out.

Model APIs (Vertex AI) may report tokens or characters with the generic usage.unit "count";
when the SKU description names tokens or characters, the unit says so ("count" -> "tokens",
"1000 count" -> "1000 tokens"), so cost per token can be computed later.
"""

import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import quoted
from ingest.readers.convert import calendar_month_bounds, convert_distinct, decimal_text, locate_columns, parse_decimals, parse_timestamps, to_cost_batch
from ingest.readers.tabular import TextBatch, iter_text_batches, normalize_header

FORMAT = "gcp"
LABEL = "Google Cloud billing export (BigQuery CSV or JSON lines)"
PROVIDER_NAME = "Google Cloud"

# Source field -> accepted spellings; CSV flattening and JSON nesting normalise alike.
FIELDS: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("billing_account_id",),
    "service": ("service.description",),
    "sku_id": ("sku.id",),
    "sku_description": ("sku.description",),
    "usage_start": ("usage_start_time",),
    "usage_end": ("usage_end_time",),
    "project": ("project.id",),
    "region": ("location.region",),
    "location": ("location.location",),
    "resource_global_name": ("resource.global_name",),
    "resource_name": ("resource.name",),
    "labels": ("labels",),
    "cost": ("cost",),
    "cost_at_list": ("cost_at_list",),
    "currency": ("currency",),
    "usage_amount": ("usage.amount",),
    "usage_unit": ("usage.unit",),
    "pricing_amount": ("usage.amount_in_pricing_units",),
    "pricing_unit": ("usage.pricing_unit",),
    "credits": ("credits",),
    "invoice_month": ("invoice.month",),
    "cost_type": ("cost_type",),
}
REQUIRED = ("billing_account_id", "usage_start", "usage_end", "cost", "currency")

# cost_type -> FOCUS ChargeCategory; exports before cost_type existed carry usage only.
CHARGE_CATEGORIES = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}

# service.description -> FOCUS ServiceCategory.
SERVICE_CATEGORIES = {
    "Compute Engine": "Compute",
    "Cloud Run": "Compute",
    "Cloud Run Functions": "Compute",
    "Cloud Functions": "Compute",
    "Kubernetes Engine": "Compute",
    "App Engine": "Compute",
    "Cloud Storage": "Storage",
    "Filestore": "Storage",
    "Artifact Registry": "Storage",
    "Networking": "Networking",
    "Cloud Load Balancing": "Networking",
    "Cloud CDN": "Networking",
    "Cloud DNS": "Networking",
    "Network Intelligence Center": "Networking",
    "Vertex AI": "AI and Machine Learning",
    "Gemini API": "AI and Machine Learning",
    "Generative Language API": "AI and Machine Learning",
    "Cloud Vision API": "AI and Machine Learning",
    "Cloud Speech API": "AI and Machine Learning",
    "Cloud Natural Language API": "AI and Machine Learning",
    "Cloud Translation API": "AI and Machine Learning",
    "Document AI": "AI and Machine Learning",
    "Cloud SQL": "Databases",
    "Cloud Spanner": "Databases",
    "Cloud Bigtable": "Databases",
    "Cloud Memorystore for Redis": "Databases",
    "Firestore": "Databases",
    "AlloyDB": "Databases",
    "BigQuery": "Databases",
    "Dataflow": "Analytics",
    "Dataproc": "Analytics",
    "Cloud Pub/Sub": "Analytics",
    "Looker Studio": "Analytics",
}

WORK = pa.decimal256(40, 18)  # room to add credits to a cost without rounding
NULL_TEXT = pa.scalar(None, pa.string())

# What a generic "count" counts, read from the SKU description.
COUNTED_THINGS = (("token", "tokens"), ("character", "characters"))


def detect(header: list[str]) -> bool:
    names = {normalize_header(h) for h in header}
    return {"billingaccountid", "cost", "currency", "usagestarttime", "servicedescription"} <= names


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    origin = locate_columns(header, FIELDS, REQUIRED, source=source, what="billing export")
    for batch in iter_text_batches(stream, source=source, header=header):
        values = {field: batch.column(name) for field, name in origin.items()}
        yield _cost_batch(values, batch=batch, source=source, origin=origin)


def _cost_batch(values: dict, *, batch: TextBatch, source: str, origin: dict[str, str]) -> pa.RecordBatch:
    def located(field: str) -> dict:
        return {"batch": batch, "source": source, "header": origin.get(field, FIELDS[field][0])}

    def distinct(field: str, convert) -> pa.Array | None:
        text = values.get(field)
        return None if text is None else convert_distinct(text, convert, **located(field))

    cost = parse_decimals(_required(values, "cost", batch), **located("cost"))
    effective = cost
    credits = distinct("credits", _credits_total)
    if credits is not None:
        credit_total = parse_decimals(credits, **located("credits")).cast(WORK)
        effective = pc.add(cost.cast(WORK), pc.fill_null(credit_total, pa.scalar(Decimal(0), WORK)))
    category, charge_class = pa.repeat(pa.scalar("Usage"), batch.num_rows), None
    if values.get("cost_type") is not None:
        cost_type = pc.utf8_lower(pc.utf8_trim_whitespace(values["cost_type"]))
        category = pc.fill_null(distinct("cost_type", _charge_category), "Usage")
        charge_class = pc.if_else(pc.equal(cost_type, "adjustment"), pa.scalar("Correction"), NULL_TEXT)
    is_usage = pc.equal(category, "Usage")
    consumed_unit, pricing_unit = _units(values)
    period_start, period_end = _billing_period(values, batch, located)

    canonical = {
        "charge_period_start": values["usage_start"],
        "charge_period_end": values["usage_end"],
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "provider_name": pa.repeat(pa.scalar(PROVIDER_NAME), batch.num_rows),
        "billing_account_id": values["billing_account_id"],
        "sub_account_id": values.get("project"),
        "service_name": values.get("service"),
        "service_category": distinct("service", lambda s: SERVICE_CATEGORIES.get(s.strip())),
        # Multi-region locations ("us") have no region.
        "region_id": _first(values.get("region"), values.get("location")),
        "resource_id": _first(values.get("resource_global_name"), values.get("resource_name")),
        "resource_name": values.get("resource_name"),
        "sku_id": values.get("sku_id"),
        "charge_category": category,
        "charge_class": charge_class,
        "charge_description": values.get("sku_description"),
        "consumed_quantity": _where(is_usage, _money_text(values, "usage_amount", located)),
        "consumed_unit": _where(is_usage, consumed_unit),
        "pricing_quantity": _money_text(values, "pricing_amount", located),
        "pricing_unit": pricing_unit,
        "list_cost": _money_text(values, "cost_at_list", located),
        "billed_cost": decimal_text(cost),
        "effective_cost": decimal_text(effective),
        "billing_currency": values["currency"],
        "tags": distinct("labels", _labels_object),
    }
    canonical_origin = {
        "charge_period_start": origin["usage_start"],
        "charge_period_end": origin["usage_end"],
        "billing_period_start": origin.get("invoice_month", origin["usage_start"]),
        "billing_period_end": origin.get("invoice_month", origin["usage_start"]),
        "billing_account_id": origin["billing_account_id"],
        "sub_account_id": origin.get("project", ""),
        "service_name": origin.get("service", ""),
        "region_id": origin.get("region", origin.get("location", "")),
        "resource_id": origin.get("resource_global_name", origin.get("resource_name", "")),
        "resource_name": origin.get("resource_name", ""),
        "sku_id": origin.get("sku_id", ""),
        "charge_category": origin.get("cost_type", ""),
        "charge_description": origin.get("sku_description", ""),
        "consumed_quantity": origin.get("usage_amount", ""),
        "consumed_unit": origin.get("usage_unit", ""),
        "pricing_unit": origin.get("pricing_unit", ""),
        "pricing_quantity": origin.get("pricing_amount", ""),
        "list_cost": origin.get("cost_at_list", ""),
        "billed_cost": origin["cost"],
        "effective_cost": origin.get("credits", origin["cost"]),
        "billing_currency": origin["currency"],
        "tags": origin.get("labels", ""),
    }
    return to_cost_batch(
        canonical, batch=batch, source=source, origin={k: v for k, v in canonical_origin.items() if v}
    )


def _billing_period(values: dict, batch: TextBatch, located) -> tuple[pa.Array, pa.Array]:
    """invoice.month when present, else the calendar month of the usage start."""
    usage_start = parse_timestamps(_required(values, "usage_start", batch), **located("usage_start"))
    month_start, month_end = calendar_month_bounds(usage_start)
    month = values.get("invoice_month")
    if month is None:
        return month_start, month_end
    starts = convert_distinct(month, _invoice_month_start, **located("invoice_month"))
    ends = convert_distinct(month, _invoice_month_end, **located("invoice_month"))
    return pc.coalesce(starts, month_start), pc.coalesce(ends, month_end)


def _charge_category(cost_type: str) -> str:
    return CHARGE_CATEGORIES.get(cost_type.strip().lower(), "Adjustment")


def _invoice_month_start(month: str) -> str | None:
    year, number = _invoice_month(month)
    return None if year is None else f"{year:04d}-{number:02d}-01T00:00:00Z"


def _invoice_month_end(month: str) -> str | None:
    year, number = _invoice_month(month)
    if year is None:
        return None
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return f"{year:04d}-{number:02d}-01T00:00:00Z"


def _invoice_month(month: str) -> tuple[int | None, int | None]:
    month = month.strip()
    if not month:
        return None, None
    match = re.fullmatch(r"(\d{4})-?(\d{2})", month)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"invoice month must be YYYYMM, got {quoted(month)}")
    return int(match.group(1)), int(match.group(2))


def _credits_total(text: str) -> str | None:
    """The sum of a row's credit amounts, exactly; None when the row has none."""
    text = text.strip()
    if not text:
        return None
    try:
        credits = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        credits = None
    if not isinstance(credits, list) or not all(isinstance(c, dict) for c in credits):
        raise ValueError(f"credits must be a JSON array of {{name, amount}} objects, got {text[:80]!r}")
    try:
        # The JSON lines path keeps numbers as their literal text; CSV gives real numbers.
        total = sum((Decimal(str(c.get("amount") or 0)) for c in credits), Decimal(0))
    except InvalidOperation as exc:
        raise ValueError(f"a credit amount is not a number in {text[:80]!r}") from exc
    return None if not credits else str(total)


def _labels_object(text: str) -> str:
    text = text.strip()
    if not text:
        return "{}"
    try:
        labels = json.loads(text)
    except (ValueError, RecursionError):
        labels = None
    if isinstance(labels, dict):  # already packed by whoever exported it
        return json.dumps(labels, sort_keys=True, ensure_ascii=False)
    if not isinstance(labels, list) or not all(_is_label(item) for item in labels):
        raise ValueError(f"labels must be a JSON array of {{key, value}} objects, got {text[:80]!r}")
    tags = {item["key"]: item.get("value") for item in labels if item.get("value") not in (None, "")}
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


def _is_label(item: object) -> bool:
    return isinstance(item, dict) and isinstance(item.get("key"), str)


def _units(values: dict) -> tuple[pa.Array | None, pa.Array | None]:
    usage_unit, pricing_unit = values.get("usage_unit"), values.get("pricing_unit")
    sku = values.get("sku_description")
    if sku is None:
        return usage_unit, pricing_unit
    for needle, noun in COUNTED_THINGS:
        counts_it = pc.fill_null(pc.match_substring(sku, needle, ignore_case=True), False)
        usage_unit = _name_the_count(usage_unit, counts_it, r"^count$", noun)
        pricing_unit = _name_the_count(pricing_unit, counts_it, r"\bcount$", noun)  # "1000 count"
    return usage_unit, pricing_unit


def _name_the_count(unit: pa.Array | None, applies: pa.Array, pattern: str, noun: str) -> pa.Array | None:
    return None if unit is None else pc.if_else(applies, pc.replace_substring_regex(unit, pattern, noun), unit)


def _money_text(values: dict, field: str, located) -> pa.Array | None:
    text = values.get(field)
    return None if text is None else decimal_text(parse_decimals(text, **located(field)))


def _required(values: dict, field: str, batch: TextBatch) -> pa.Array:
    text = values.get(field)
    # A JSON lines batch may lack a column entirely; to_cost_batch then reports the gap.
    return text if text is not None else pa.nulls(batch.num_rows, pa.string())


def _where(mask: pa.Array, values: pa.Array | None) -> pa.Array | None:
    return None if values is None else pc.if_else(pc.fill_null(mask, False), values, NULL_TEXT)


def _first(*candidates: pa.Array | None) -> pa.Array | None:
    present = [pc.if_else(pc.equal(c, ""), NULL_TEXT, c) for c in candidates if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else pc.coalesce(*present)
