"""What AWS's legacy Cost and Usage Report and CUR 2.0 share: the columns, the charge
categories and the effective-cost rule. The two format modules only differ in where the
product name and the tags live; each builds a dict of text arrays by CUR field and hands it
to `cur_cost_batch`.

Column names match across the two formats once normalised ("lineItem/UnblendedCost" and
"line_item_unblended_cost" both normalise to "lineitemunblendedcost"), so one table of
spellings serves both, and legacy CUR delivered as Parquet with snake_case names too.

BilledCost is lineItem/UnblendedCost: summed over a bill it is the invoice.

EffectiveCost follows how AWS fills FOCUS EffectiveCost from CUR:

- SavingsPlanCoveredUsage: savingsPlan/SavingsPlanEffectiveCost (the commitment share used).
- DiscountedUsage: reservation/EffectiveCost (amortised upfront plus recurring RI fee).
- SavingsPlanNegation: 0 (it only cancels the on-demand cost of covered usage).
- SavingsPlanUpfrontFee, and a Fee row of a reservation (reservation/ReservationARN set): 0
  (the payment is amortised into the covered usage above).
- SavingsPlanRecurringFee: savingsPlan/TotalCommitmentToDate - savingsPlan/UsedCommitment
  (only the unused commitment; the used part is already in covered usage).
- RIFee: reservation/UnusedAmortizedUpfrontFeeForBillingPeriod + reservation/UnusedRecurringFee
  (a blank part counts as 0).
- Everything else (Usage, Tax, Credit, Refund, discounts, other fees): lineItem/UnblendedCost.

A row whose rule needs values the file does not carry falls back to UnblendedCost, so a
report without commitment columns is read as billed.
"""

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from ingest.readers.convert import convert_distinct, decimal_text, locate_columns, parse_decimals, to_cost_batch
from ingest.readers.tabular import TextBatch, normalize_header

PROVIDER_NAME = "AWS"

# CUR field -> accepted spellings, legacy first (CUR 2.0 names normalise to the same).
FIELDS: dict[str, tuple[str, ...]] = {
    "payer_account": ("bill/PayerAccountId",),
    "invoice_id": ("bill/InvoiceId",),
    "usage_account": ("lineItem/UsageAccountId",),
    "line_item_type": ("lineItem/LineItemType",),
    "usage_start": ("lineItem/UsageStartDate",),
    "usage_end": ("lineItem/UsageEndDate",),
    "time_interval": ("identity/TimeInterval",),
    "billing_period_start": ("bill/BillingPeriodStartDate",),
    "billing_period_end": ("bill/BillingPeriodEndDate",),
    "product_code": ("lineItem/ProductCode",),
    "product_name": ("product/ProductName",),
    "product_family": ("product/productFamily",),
    "region": ("product/regionCode", "product/region"),
    "resource_id": ("lineItem/ResourceId",),
    "sku": ("product/sku",),
    "usage_type": ("lineItem/UsageType",),
    "description": ("lineItem/LineItemDescription",),
    "usage_amount": ("lineItem/UsageAmount",),
    "pricing_unit": ("pricing/unit",),
    "unblended_cost": ("lineItem/UnblendedCost",),
    "net_unblended_cost": ("lineItem/NetUnblendedCost",),
    "public_on_demand_cost": ("pricing/publicOnDemandCost",),
    "savings_plan_effective_cost": ("savingsPlan/SavingsPlanEffectiveCost",),
    "savings_plan_total_commitment": ("savingsPlan/TotalCommitmentToDate",),
    "savings_plan_used_commitment": ("savingsPlan/UsedCommitment",),
    "reservation_effective_cost": ("reservation/EffectiveCost",),
    "reservation_unused_upfront": ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",),
    "reservation_unused_recurring": ("reservation/UnusedRecurringFee",),
    "reservation_arn": ("reservation/ReservationARN",),
    "currency": ("lineItem/CurrencyCode",),
}
REQUIRED = (
    "payer_account",
    "line_item_type",
    "usage_start",
    "billing_period_start",
    "billing_period_end",
    "unblended_cost",
    "currency",
)
# Columns only CUR 2.0 has: its map columns (legacy CUR spreads them over many columns).
CUR2_MAP_COLUMNS = frozenset({"product", "resource_tags", "cost_category", "discount"})

# lineItem/LineItemType -> FOCUS ChargeCategory. Unknown future types land in Adjustment,
# FOCUS's category for whatever is not usage, purchase, tax or credit.
CHARGE_CATEGORIES = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "BundledDiscount": "Credit",
    "Discount": "Credit",
    "EdpDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
    "RiVolumeDiscount": "Credit",
    "DistributorDiscount": "Credit",
    "SavingsPlanNegation": "Credit",
}
# A refund corrects charges of an earlier period.
CORRECTION_TYPES = pa.array(["Refund"])

# lineItem/ProductCode -> FOCUS ServiceCategory, for the services an inference stack bills.
SERVICE_CATEGORIES = {
    "AmazonEC2": "Compute",
    "ComputeSavingsPlans": "Compute",
    "AWSLambda": "Compute",
    "AmazonECS": "Compute",
    "AmazonEKS": "Compute",
    "AWSBatch": "Compute",
    "AmazonS3": "Storage",
    "AmazonEFS": "Storage",
    "AmazonFSx": "Storage",
    "AmazonS3GlacierDeepArchive": "Storage",
    "AWSBackup": "Storage",
    "AWSDataTransfer": "Networking",
    "AmazonVPC": "Networking",
    "AmazonCloudFront": "Networking",
    "AWSELB": "Networking",
    "AmazonRoute53": "Networking",
    "AmazonApiGateway": "Networking",
    "AmazonBedrock": "AI and Machine Learning",
    "AmazonSageMaker": "AI and Machine Learning",
    "AmazonComprehend": "AI and Machine Learning",
    "AmazonRekognition": "AI and Machine Learning",
    "AmazonTextract": "AI and Machine Learning",
    "transcribe": "AI and Machine Learning",
    "AmazonPolly": "AI and Machine Learning",
    "translate": "AI and Machine Learning",
    "AmazonKendra": "AI and Machine Learning",
    "AmazonRDS": "Databases",
    "AmazonDynamoDB": "Databases",
    "AmazonElastiCache": "Databases",
    "AmazonRedshift": "Databases",
    "AmazonDocDB": "Databases",
    "AmazonAthena": "Analytics",
    "AWSGlue": "Analytics",
    "ElasticMapReduce": "Analytics",
    "AmazonKinesis": "Analytics",
    "AmazonES": "Analytics",
    "AmazonMSK": "Analytics",
}
# product/productFamily -> ServiceCategory, for product codes the table above lacks.
PRODUCT_FAMILY_CATEGORIES = {
    "Compute Instance": "Compute",
    "Storage": "Storage",
    "Data Transfer": "Networking",
}
CATEGORY_SOURCES = (("product_code", SERVICE_CATEGORIES), ("product_family", PRODUCT_FAMILY_CATEGORIES))

MONEY_FIELDS = (
    "unblended_cost",
    "net_unblended_cost",
    "public_on_demand_cost",
    "savings_plan_effective_cost",
    "savings_plan_total_commitment",
    "savings_plan_used_commitment",
    "reservation_effective_cost",
    "reservation_unused_upfront",
    "reservation_unused_recurring",
)
WORK = pa.decimal256(40, 18)  # room to add two amounts without rounding
ZERO = pa.scalar(Decimal(0), WORK)
NULL_TEXT = pa.scalar(None, pa.string())
CORRECTION = pa.scalar("Correction")


def is_cur(header: list[str]) -> bool:
    names = {normalize_header(h) for h in header}
    return {"lineitemunblendedcost", "lineitemusagestartdate", "billpayeraccountid"} <= names


def has_cur2_map_columns(header: list[str]) -> bool:
    return any(name.lstrip("\ufeff").strip().lower() in CUR2_MAP_COLUMNS for name in header)


def cur_columns(header: list[str], *, source: str) -> dict[str, str]:
    """CUR field -> the source header carrying it, for the fields the file has."""
    return locate_columns(header, FIELDS, REQUIRED, source=source, what="CUR")


def cur_values(batch: TextBatch, columns: dict[str, str]) -> dict[str, pa.Array | None]:
    return {field: batch.column(name) for field, name in columns.items()}


def cur_cost_batch(
    values: dict[str, pa.Array | None], *, batch: TextBatch, source: str, origin: dict[str, str]
) -> pa.RecordBatch:
    """One COST_SCHEMA batch from CUR text arrays keyed by CUR field (see FIELDS), plus
    "product_name" and "tags" (a JSON object per row) filled in by the format module.
    `origin` maps CUR fields to source headers, for error messages."""

    def header(field: str) -> str:
        return origin.get(field, FIELDS.get(field, (field,))[0])

    amounts = {
        field: parse_decimals(values[field], batch=batch, source=source, header=header(field)).cast(WORK)
        for field in MONEY_FIELDS
        if values.get(field) is not None
    }
    line_item_type = pc.utf8_trim_whitespace(values["line_item_type"])
    category = convert_distinct(
        line_item_type,
        lambda kind: CHARGE_CATEGORIES.get(kind, "Adjustment") if kind else None,
        batch=batch,
        source=source,
        header=header("line_item_type"),
    )
    unblended = amounts["unblended_cost"]
    contracted = unblended
    if "net_unblended_cost" in amounts:  # after negotiated (EDP) discounts, where the file has it
        contracted = pc.coalesce(amounts["net_unblended_cost"], unblended)
    usage_amount, pricing_unit = _text(values.get("usage_amount")), _text(values.get("pricing_unit"))
    is_usage = pc.equal(category, "Usage")
    is_priced = pc.is_in(category, pa.array(["Usage", "Purchase"]))
    interval = _interval(values.get("time_interval"))
    effective = _effective_cost(line_item_type, amounts, values.get("reservation_arn"))
    service_categories = [
        convert_distinct(values[field], table.get, batch=batch, source=source, header=header(field))
        for field, table in CATEGORY_SOURCES
        if values.get(field) is not None
    ]

    canonical = {
        "charge_period_start": _first_text(values.get("usage_start"), interval["start"]),
        "charge_period_end": _first_text(values.get("usage_end"), interval["end"]),
        "billing_period_start": values["billing_period_start"],
        "billing_period_end": values["billing_period_end"],
        "provider_name": pa.repeat(pa.scalar(PROVIDER_NAME), batch.num_rows),
        "billing_account_id": values["payer_account"],
        # Blank in the reports of a month AWS has not invoiced yet.
        "invoice_id": values.get("invoice_id"),
        "sub_account_id": values.get("usage_account"),
        "service_name": _first_text(values.get("product_name"), values.get("product_code")),
        "service_category": _first_text(*service_categories),
        "region_id": values.get("region"),
        "resource_id": values.get("resource_id"),
        "sku_id": values.get("sku"),
        "charge_category": category,
        "charge_class": pc.if_else(pc.is_in(line_item_type, CORRECTION_TYPES), CORRECTION, NULL_TEXT),
        "charge_description": values.get("description"),
        "consumed_quantity": _where(is_usage, usage_amount),
        "consumed_unit": _where(is_usage, pricing_unit),
        "pricing_quantity": _where(is_priced, usage_amount),
        "pricing_unit": _where(is_priced, pricing_unit),
        "list_cost": _decimal_text(amounts.get("public_on_demand_cost")),
        "contracted_cost": decimal_text(contracted),
        "billed_cost": decimal_text(unblended),
        "effective_cost": decimal_text(effective),
        "billing_currency": values["currency"],
        "tags": values.get("tags"),
    }
    canonical_origin = {
        "charge_period_start": origin.get("usage_start", origin.get("time_interval")),
        "charge_period_end": origin.get("usage_end", origin.get("time_interval")),
        "billing_period_start": origin["billing_period_start"],
        "billing_period_end": origin["billing_period_end"],
        "billing_account_id": origin["payer_account"],
        "invoice_id": origin.get("invoice_id"),
        "sub_account_id": origin.get("usage_account"),
        "service_name": origin.get("product_name", origin.get("product_code")),
        "region_id": origin.get("region"),
        "resource_id": origin.get("resource_id"),
        "sku_id": origin.get("sku"),
        "charge_category": origin["line_item_type"],
        "charge_description": origin.get("description"),
        "consumed_quantity": origin.get("usage_amount"),
        "consumed_unit": origin.get("pricing_unit"),
        "pricing_unit": origin.get("pricing_unit"),
        "pricing_quantity": origin.get("usage_amount"),
        "list_cost": origin.get("public_on_demand_cost"),
        "contracted_cost": origin["unblended_cost"],
        "billed_cost": origin["unblended_cost"],
        "effective_cost": origin["unblended_cost"],
        "billing_currency": origin["currency"],
        "tags": origin.get("tags"),
    }
    return to_cost_batch(
        canonical, batch=batch, source=source, origin={k: v for k, v in canonical_origin.items() if v}
    )


def _effective_cost(
    line_item_type: pa.Array, amounts: dict[str, pa.Array], reservation_arn: pa.Array | None
) -> pa.Array:
    """EffectiveCost per the rule in the module docstring."""
    unblended = amounts["unblended_cost"]
    zero = pa.repeat(ZERO, len(unblended))
    unused_commitment = None
    if "savings_plan_total_commitment" in amounts and "savings_plan_used_commitment" in amounts:
        unused_commitment = pc.subtract(
            amounts["savings_plan_total_commitment"], amounts["savings_plan_used_commitment"]
        ).cast(WORK)
    unused_reservation = _sum_of_present(
        amounts.get("reservation_unused_upfront"), amounts.get("reservation_unused_recurring")
    )
    has_reservation = pa.repeat(pa.scalar(False), len(unblended))
    if reservation_arn is not None:
        has_reservation = pc.not_equal(pc.utf8_trim_whitespace(reservation_arn), "")
    reservation_fee = pc.and_(pc.equal(line_item_type, "Fee"), has_reservation)

    rules: list[tuple[pa.Array, pa.Array | None]] = [
        (pc.equal(line_item_type, "SavingsPlanCoveredUsage"), amounts.get("savings_plan_effective_cost")),
        (pc.equal(line_item_type, "DiscountedUsage"), amounts.get("reservation_effective_cost")),
        (pc.is_in(line_item_type, pa.array(["SavingsPlanNegation", "SavingsPlanUpfrontFee"])), zero),
        (reservation_fee, zero),
        (pc.equal(line_item_type, "SavingsPlanRecurringFee"), unused_commitment),
        (pc.equal(line_item_type, "RIFee"), unused_reservation),
    ]
    effective = unblended
    for applies, amount in rules:
        if amount is not None:
            # A row missing the values its rule needs keeps its unblended cost.
            effective = pc.if_else(pc.fill_null(applies, False), pc.coalesce(amount, unblended), effective)
    return effective


def _sum_of_present(*amounts: pa.Array | None) -> pa.Array | None:
    """The sum of the columns the file has, a missing value counting as 0; None if it has none."""
    present = [pc.fill_null(a, ZERO) for a in amounts if a is not None]
    if not present:
        return None
    total = present[0]
    for amount in present[1:]:
        total = pc.add(total, amount).cast(WORK)
    return total


def _interval(text: pa.Array | None) -> dict[str, pa.Array | None]:
    """identity/TimeInterval ("start/end") covers rows whose usage dates are blank."""
    if text is None:
        return {"start": None, "end": None}
    parts = pc.extract_regex(pc.fill_null(text, ""), r"^(?P<start>[^/]+)/(?P<end>[^/]+)$")
    # Rows that do not match come back null from extract_regex's struct.
    return {"start": pc.struct_field(parts, "start"), "end": pc.struct_field(parts, "end")}


def _text(values: pa.Array | None) -> pa.Array | None:
    """Blank as null, so later fallbacks and masks treat "" and a missing value alike."""
    if values is None:
        return None
    values = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(values, ""), NULL_TEXT, values)


def _first_text(*candidates: pa.Array | None) -> pa.Array | None:
    present = [_text(c) for c in candidates if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else pc.coalesce(*present)


def _where(mask: pa.Array, values: pa.Array | None) -> pa.Array | None:
    return None if values is None else pc.if_else(pc.fill_null(mask, False), values, NULL_TEXT)


def _decimal_text(values: pa.Array | None) -> pa.Array | None:
    return None if values is None else decimal_text(values)
