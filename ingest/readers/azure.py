"""Azure Cost Management cost details exports: Enterprise Agreement (PascalCase columns,
MM/DD/YYYY dates) and Microsoft Customer Agreement (camelCase), actual or amortized.
Spellings are matched through normalize_header, so `CostInBillingCurrency` and
`costInBillingCurrency` are one column, and older names (SubscriptionGuid, InstanceId) count.

Cost rule, per row, right for both datasets (Microsoft documents that the amortized dataset
has no commitment purchases, and that covered usage costs 0 in the actual dataset):

- EffectiveCost is CostInBillingCurrency: amortized files give amortized cost; actual files
  give cost as billed (commitment purchases on the day bought).
- BilledCost is CostInBillingCurrency too, except rows that exist only as amortization:
  UnusedReservation / UnusedSavingsPlan rows and usage priced by a Reservation or SavingsPlan,
  which bill 0 (the commitment was invoiced as its purchase).

Load one of the two datasets per billing period, not both: they describe the same charges.
ListCost is PayGPrice x Quantity and ContractedCost UnitPrice x Quantity when the file has
those prices. ChargeType maps to FOCUS ChargeCategory (unused commitment is Usage; a Refund
is a Credit with ChargeClass "Correction"). The charge period is the row's Date, one day long.

Azure OpenAI and other model meters are named "... Tokens" with a unit of measure such as
"1K"; the consumed unit then becomes "1K Tokens" so cost per token can be computed later.
Tags arrive as a JSON object, or in some EA exports as its members without the braces
(`"env": "prod","team": "x"`); both become one object.
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ingest.readers.convert import calendar_month_bounds, convert_distinct, decimal_text, locate_columns, parse_decimals, parse_timestamps, timestamp_text, to_cost_batch
from ingest.readers.tabular import TextBatch, iter_text_batches, normalize_header

FORMAT = "azure"
LABEL = "Azure cost details (EA or MCA, actual or amortized)"
PROVIDER_NAME = "Microsoft"

FIELDS: dict[str, tuple[str, ...]] = {
    "billing_account": ("BillingAccountId", "BillingProfileId"),
    # MCA and pay-as-you-go files have it (blank until the month is invoiced); EA files do not.
    "invoice_id": ("InvoiceId",),
    "subscription": ("SubscriptionId", "SubscriptionGuid"),
    "date": ("Date", "UsageDate"),
    "billing_period_start": ("BillingPeriodStartDate",),
    "billing_period_end": ("BillingPeriodEndDate",),
    "meter_category": ("MeterCategory",),
    "meter_name": ("MeterName",),
    "meter_id": ("MeterId",),
    "consumed_service": ("ConsumedService",),
    "resource_id": ("ResourceId", "InstanceId"),
    "resource_name": ("ResourceName",),
    "region": ("ResourceLocation",),
    "product_name": ("ProductName",),
    "quantity": ("Quantity",),
    "unit_of_measure": ("UnitOfMeasure",),
    "unit_price": ("UnitPrice",),
    "payg_price": ("PayGPrice",),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost"),
    "currency": ("BillingCurrencyCode", "BillingCurrency", "Currency"),
    "charge_type": ("ChargeType",),
    "pricing_model": ("PricingModel",),
    "tags": ("Tags",),
}
REQUIRED = ("billing_account", "date", "cost", "currency")

# ChargeType -> FOCUS ChargeCategory. Unused commitment is usage of what was bought.
CHARGE_CATEGORIES = {
    "usage": "Usage",
    "unusedreservation": "Usage",
    "unusedsavingsplan": "Usage",
    "purchase": "Purchase",
    "tax": "Tax",
    "refund": "Credit",
    "credit": "Credit",
    "roundingadjustment": "Adjustment",
    "adjustment": "Adjustment",
}
# Lower-cased ChargeType and PricingModel values.
AMORTIZATION_ONLY_CHARGES = pa.array(["unusedreservation", "unusedsavingsplan"])
COMMITMENT_PRICING = pa.array(["reservation", "savingsplan"])

# MeterCategory -> FOCUS ServiceCategory.
SERVICE_CATEGORIES = {
    "Virtual Machines": "Compute",
    "Virtual Machines Licenses": "Compute",
    "Azure App Service": "Compute",
    "Functions": "Compute",
    "Container Instances": "Compute",
    "Azure Container Apps": "Compute",
    "Azure Kubernetes Service": "Compute",
    "Storage": "Storage",
    "Azure NetApp Files": "Storage",
    "Bandwidth": "Networking",
    "Virtual Network": "Networking",
    "Load Balancer": "Networking",
    "Azure Front Door Service": "Networking",
    "Content Delivery Network": "Networking",
    "Network Watcher": "Networking",
    "Azure DNS": "Networking",
    "Cognitive Services": "AI and Machine Learning",
    "Foundry Models": "AI and Machine Learning",
    "Foundry Tools": "AI and Machine Learning",
    "Azure OpenAI": "AI and Machine Learning",
    "Azure Machine Learning": "AI and Machine Learning",
    "Machine Learning Studio": "AI and Machine Learning",
    "SQL Database": "Databases",
    "Azure Cosmos DB": "Databases",
    "Azure Database for PostgreSQL": "Databases",
    "Azure Database for MySQL": "Databases",
    "Redis Cache": "Databases",
    "Azure Synapse Analytics": "Analytics",
    "Azure Databricks": "Analytics",
    "Azure Data Factory v2": "Analytics",
    "Event Hubs": "Analytics",
}

ONE_DAY = pa.scalar(timedelta(days=1), pa.duration("us"))
PRICE_WORK = pa.decimal256(37, 16)  # two of these multiply within decimal256's 76 digits
NULL_TEXT = pa.scalar(None, pa.string())


def detect(header: list[str]) -> bool:
    names = {normalize_header(h) for h in header}
    has_subscription = bool({"subscriptionid", "subscriptionguid"} & names)
    return {"costinbillingcurrency", "date"} <= names and has_subscription


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    origin = locate_columns(header, FIELDS, REQUIRED, source=source, what="cost details")
    for batch in iter_text_batches(stream, source=source, header=header):
        values = {field: batch.column(name) for field, name in origin.items()}
        yield _cost_batch(values, batch=batch, source=source, origin=origin)


def _cost_batch(values: dict, *, batch: TextBatch, source: str, origin: dict[str, str]) -> pa.RecordBatch:
    def located(field: str) -> dict:
        return {"batch": batch, "source": source, "header": origin[field]}

    def distinct(field: str, convert) -> pa.Array | None:
        text = values.get(field)
        return None if text is None else convert_distinct(text, convert, **located(field))

    def money(field: str) -> pa.Array | None:
        text = values.get(field)
        return None if text is None else parse_decimals(text, **located(field))

    day = parse_timestamps(values["date"], **located("date"))
    period_start, period_end = _billing_period(values, day, located)
    cost, quantity = money("cost"), money("quantity")
    charge_type, pricing_model = _lowered(values.get("charge_type")), _lowered(values.get("pricing_model"))
    category, charge_class = pa.repeat(pa.scalar("Usage"), batch.num_rows), None
    if charge_type is not None:
        category = pc.fill_null(distinct("charge_type", _charge_category), "Usage")
        charge_class = pc.if_else(pc.equal(charge_type, "refund"), pa.scalar("Correction"), NULL_TEXT)
    unit = _consumed_unit(values)
    is_usage = pc.equal(category, "Usage")

    canonical = {
        "charge_period_start": timestamp_text(day),
        "charge_period_end": timestamp_text(pc.add(day, ONE_DAY)),
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "provider_name": pa.repeat(pa.scalar(PROVIDER_NAME), batch.num_rows),
        "billing_account_id": values["billing_account"],
        "invoice_id": values.get("invoice_id"),
        "sub_account_id": values.get("subscription"),
        "service_name": _first(values.get("meter_category"), values.get("consumed_service")),
        "service_category": distinct("meter_category", lambda c: SERVICE_CATEGORIES.get(c.strip())),
        "region_id": values.get("region"),
        "resource_id": values.get("resource_id"),
        "resource_name": values.get("resource_name"),
        "sku_id": values.get("meter_id"),
        "charge_category": category,
        "charge_class": charge_class,
        "charge_description": values.get("product_name"),
        "consumed_quantity": _where(is_usage, _decimal_text(quantity)),
        "consumed_unit": _where(is_usage, unit),
        "pricing_quantity": _decimal_text(quantity),
        "pricing_unit": values.get("unit_of_measure"),
        "list_cost": _decimal_text(_times(money("payg_price"), quantity)),
        "contracted_cost": _decimal_text(_times(money("unit_price"), quantity)),
        "billed_cost": decimal_text(_billed_cost(cost, charge_type, pricing_model)),
        "effective_cost": decimal_text(cost),
        "billing_currency": values["currency"],
        "tags": distinct("tags", _tags_object),
    }
    canonical_origin = {
        "charge_period_start": origin["date"],
        "charge_period_end": origin["date"],
        "billing_period_start": origin.get("billing_period_start", origin["date"]),
        "billing_period_end": origin.get("billing_period_end", origin["date"]),
        "billing_account_id": origin["billing_account"],
        "invoice_id": origin.get("invoice_id", ""),
        "sub_account_id": origin.get("subscription", ""),
        "service_name": origin.get("meter_category", origin.get("consumed_service", "")),
        "region_id": origin.get("region", ""),
        "resource_id": origin.get("resource_id", ""),
        "resource_name": origin.get("resource_name", ""),
        "sku_id": origin.get("meter_id", ""),
        "charge_category": origin.get("charge_type", ""),
        "charge_description": origin.get("product_name", ""),
        "consumed_unit": origin.get("unit_of_measure", ""),
        "pricing_unit": origin.get("unit_of_measure", ""),
        "consumed_quantity": origin.get("quantity", ""),
        "pricing_quantity": origin.get("quantity", ""),
        "list_cost": origin.get("payg_price", ""),
        "contracted_cost": origin.get("unit_price", ""),
        "billed_cost": origin["cost"],
        "effective_cost": origin["cost"],
        "billing_currency": origin["currency"],
        "tags": origin.get("tags", ""),
    }
    return to_cost_batch(
        canonical, batch=batch, source=source, origin={k: v for k, v in canonical_origin.items() if v}
    )


def _billing_period(values: dict, day: pa.Array, located) -> tuple[pa.Array, pa.Array]:
    """BillingPeriodStartDate/EndDate when given (the end date is the period's last day, so
    the exclusive end is the day after), else the calendar month of the charge."""
    month_start, month_end = calendar_month_bounds(day)
    start, end = values.get("billing_period_start"), values.get("billing_period_end")
    if start is None or end is None:
        return month_start, month_end
    start = parse_timestamps(start, **located("billing_period_start"))
    last_day = pc.floor_temporal(parse_timestamps(end, **located("billing_period_end")), unit="day")
    return (
        pc.coalesce(timestamp_text(start), month_start),
        pc.coalesce(timestamp_text(pc.add(last_day, ONE_DAY)), month_end),
    )


def _charge_category(charge_type: str) -> str:
    return CHARGE_CATEGORIES.get(normalize_header(charge_type), "Adjustment")


def _billed_cost(cost: pa.Array, charge_type: pa.Array | None, pricing_model: pa.Array | None) -> pa.Array:
    """Cost, except 0 on rows that only exist as amortization (see the module docstring)."""
    if charge_type is None:
        return cost
    amortization_only = pc.is_in(charge_type, AMORTIZATION_ONLY_CHARGES)
    if pricing_model is not None:
        covered_usage = pc.and_(pc.equal(charge_type, "usage"), pc.is_in(pricing_model, COMMITMENT_PRICING))
        amortization_only = pc.or_(amortization_only, pc.fill_null(covered_usage, False))
    zero = pa.scalar(Decimal(0), cost.type)
    return pc.if_else(pc.fill_null(amortization_only, False), zero, cost)


def _consumed_unit(values: dict) -> pa.Array | None:
    unit, meter = values.get("unit_of_measure"), values.get("meter_name")
    if unit is None or meter is None:
        return unit
    unit = pc.fill_null(pc.utf8_trim_whitespace(unit), "")
    token_meter = pc.fill_null(pc.match_substring(meter, "token", ignore_case=True), False)
    says_tokens = pc.match_substring(unit, "token", ignore_case=True)
    needs_noun = pc.and_(token_meter, pc.invert(says_tokens))
    with_noun = pc.utf8_trim_whitespace(pc.binary_join_element_wise(unit, "Tokens", " "))
    return pc.if_else(needs_noun, with_noun, unit)


def _tags_object(text: str) -> str:
    text = text.strip()
    if not text:
        return "{}"
    # Some EA exports drop the outer braces: "env": "prod","team": "x"
    wrapped = text if text.startswith("{") else "{" + text + "}"
    try:
        tags = json.loads(wrapped)
    except (ValueError, RecursionError):
        tags = None
    if not isinstance(tags, dict):
        raise ValueError(f"tags must be a JSON object, got {text[:80]!r}")
    present = {key: value for key, value in tags.items() if value not in (None, "")}
    return json.dumps(present, sort_keys=True, ensure_ascii=False)


def _times(price: pa.Array | None, quantity: pa.Array | None) -> pa.Array | None:
    if price is None or quantity is None:
        return None
    product = pc.multiply(_narrow(price), _narrow(quantity))
    # As wide as decimal256 goes: an absurd product must reach to_cost_batch, which reports
    # it at its row, instead of failing this cast with no location.
    return pc.round(product, ndigits=18, round_mode="half_to_even").cast(pa.decimal256(76, 18))


def _narrow(values: pa.Array) -> pa.Array:
    # 16 decimals keep sub-1e-10 exactness for realistic prices and quantities.
    return pc.round(values, ndigits=16, round_mode="half_to_even").cast(PRICE_WORK)


def _decimal_text(values: pa.Array | None) -> pa.Array | None:
    return None if values is None else decimal_text(values)


def _lowered(values: pa.Array | None) -> pa.Array | None:
    return None if values is None else pc.utf8_lower(pc.utf8_trim_whitespace(values))


def _where(mask: pa.Array, values: pa.Array | None) -> pa.Array | None:
    return None if values is None else pc.if_else(pc.fill_null(mask, False), values, NULL_TEXT)


def _first(*candidates: pa.Array | None) -> pa.Array | None:
    present = [pc.if_else(pc.equal(c, ""), NULL_TEXT, c) for c in candidates if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else pc.coalesce(*present)
