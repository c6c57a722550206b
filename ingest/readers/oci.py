"""Oracle Cloud Infrastructure cost reports (CSV or CSV.gz, one file per few hours):
`lineItem/...`, `product/...`, `usage/...`, `cost/...` columns and one `tags/<key>` column per
tag (defined tags as `tags/<namespace>.<key>`).

cost/myCost is both BilledCost and EffectiveCost: OCI prices usage at the customer's rate
and reports no amortised commitments per line. Rows flagged lineItem/isCorrection correct
an earlier line (ChargeClass "Correction"). Cost reports carry no billing period column, so
the period is the UTC calendar month of the usage start, and no invoice column, so InvoiceId
stays blank. Tags are packed into one JSON object keyed by what follows "tags/", skipping empty
values.
"""

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ingest.readers.convert import calendar_month_bounds, convert_distinct, decimal_text, locate_columns, parse_decimals, parse_timestamps, tags_from_columns, to_cost_batch
from ingest.readers.tabular import TextBatch, iter_text_batches, normalize_header

FORMAT = "oci"
LABEL = "Oracle Cloud Infrastructure cost report"
PROVIDER_NAME = "Oracle"

FIELDS: dict[str, tuple[str, ...]] = {
    "tenant": ("lineItem/tenantId",),
    "usage_start": ("lineItem/intervalUsageStart",),
    "usage_end": ("lineItem/intervalUsageEnd",),
    "is_correction": ("lineItem/isCorrection",),
    "service": ("product/service",),
    "compartment": ("product/compartmentId",),
    "region": ("product/region",),
    "resource_id": ("product/resourceId",),
    "sku": ("cost/productSku",),
    "description": ("product/Description",),
    "quantity": ("usage/billedQuantity",),
    "unit": ("cost/skuUnitDescription",),
    "cost": ("cost/myCost",),
    "currency": ("cost/currencyCode",),
}
REQUIRED = ("tenant", "usage_start", "usage_end", "cost", "currency")
TAG_PREFIX = "tags/"
NULL_TEXT = pa.scalar(None, pa.string())

# product/service (upper case, spaces as underscores) -> FOCUS ServiceCategory.
SERVICE_CATEGORIES = {
    "COMPUTE": "Compute",
    "FUNCTIONS": "Compute",
    "CONTAINER_ENGINE": "Compute",
    "BLOCK_STORAGE": "Storage",
    "OBJECT_STORAGE": "Storage",
    "OBJECTSTORE": "Storage",
    "FILE_STORAGE": "Storage",
    "NETWORK": "Networking",
    "NETWORKING": "Networking",
    "LOAD_BALANCER": "Networking",
    "FASTCONNECT": "Networking",
    "GENERATIVE_AI": "AI and Machine Learning",
    "DATA_SCIENCE": "AI and Machine Learning",
    "AI_LANGUAGE": "AI and Machine Learning",
    "AI_VISION": "AI and Machine Learning",
    "AI_SPEECH": "AI and Machine Learning",
    "DATABASE": "Databases",
    "AUTONOMOUS_DATABASE": "Databases",
    "MYSQL": "Databases",
    "NOSQL": "Databases",
    "DATA_FLOW": "Analytics",
    "ANALYTICS": "Analytics",
    "STREAMING": "Analytics",
}


def detect(header: list[str]) -> bool:
    names = {normalize_header(h) for h in header}
    return {"lineitemreferenceno", "lineitemintervalusagestart", "costmycost"} <= names


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    origin = locate_columns(header, FIELDS, REQUIRED, source=source, what="cost report")
    tag_keys = {name: name[len(TAG_PREFIX):] for name in header if name.startswith(TAG_PREFIX)}
    tag_keys = {name: key for name, key in tag_keys.items() if key}
    for batch in iter_text_batches(stream, source=source, header=header):
        values = {field: batch.column(name) for field, name in origin.items()}
        values["tags"] = tags_from_columns(batch, tag_keys)
        yield _cost_batch(values, batch=batch, source=source, origin=origin)


def _cost_batch(values: dict, *, batch: TextBatch, source: str, origin: dict[str, str]) -> pa.RecordBatch:
    def located(field: str) -> dict:
        return {"batch": batch, "source": source, "header": origin[field]}

    usage_start = parse_timestamps(values["usage_start"], **located("usage_start"))
    period_start, period_end = calendar_month_bounds(usage_start)
    cost = decimal_text(parse_decimals(values["cost"], **located("cost")))
    quantity = values.get("quantity")
    if quantity is not None:
        quantity = decimal_text(parse_decimals(quantity, **located("quantity")))
    charge_class = None
    if values.get("is_correction") is not None:
        flagged = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(values["is_correction"])), "true")
        charge_class = pc.if_else(pc.fill_null(flagged, False), pa.scalar("Correction"), NULL_TEXT)
    service = values.get("service")

    canonical = {
        "charge_period_start": values["usage_start"],
        "charge_period_end": values["usage_end"],
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "provider_name": pa.repeat(pa.scalar(PROVIDER_NAME), batch.num_rows),
        "billing_account_id": values["tenant"],
        "sub_account_id": values.get("compartment"),
        "service_name": service,
        "service_category": _service_categories(service, located),
        "region_id": values.get("region"),
        "resource_id": values.get("resource_id"),
        "sku_id": values.get("sku"),
        # Cost reports list metered usage only; corrections are usage too, with ChargeClass set.
        "charge_category": pa.repeat(pa.scalar("Usage"), batch.num_rows),
        "charge_class": charge_class,
        "charge_description": values.get("description"),
        "consumed_quantity": quantity,
        "consumed_unit": values.get("unit"),
        "pricing_quantity": quantity,
        "pricing_unit": values.get("unit"),
        "billed_cost": cost,
        "effective_cost": cost,
        "billing_currency": values["currency"],
        "tags": values["tags"],
    }
    canonical_origin = {
        "charge_period_start": origin["usage_start"],
        "charge_period_end": origin["usage_end"],
        "billing_period_start": origin["usage_start"],
        "billing_period_end": origin["usage_start"],
        "billing_account_id": origin["tenant"],
        "sub_account_id": origin.get("compartment", ""),
        "service_name": origin.get("service", ""),
        "region_id": origin.get("region", ""),
        "resource_id": origin.get("resource_id", ""),
        "sku_id": origin.get("sku", ""),
        "charge_description": origin.get("description", ""),
        "consumed_quantity": origin.get("quantity", ""),
        "consumed_unit": origin.get("unit", ""),
        "pricing_unit": origin.get("unit", ""),
        "pricing_quantity": origin.get("quantity", ""),
        "billed_cost": origin["cost"],
        "effective_cost": origin["cost"],
        "billing_currency": origin["currency"],
    }
    return to_cost_batch(
        canonical, batch=batch, source=source, origin={k: v for k, v in canonical_origin.items() if v}
    )


def _service_categories(service: pa.Array | None, located) -> pa.Array | None:
    if service is None:
        return None
    # "Block Storage" and "BLOCK_STORAGE" name one service.
    return convert_distinct(
        service, lambda name: SERVICE_CATEGORIES.get(name.strip().upper().replace(" ", "_")), **located("service")
    )
