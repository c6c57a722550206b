"""The canonical cost columns every billing reader produces: FOCUS 1.2 in snake_case,
with exact decimals for money and UTC timestamps. The loader writes exactly these."""

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
# Matches CostRecord's numeric(24, 10) / numeric(28, 10).
MONEY = pa.decimal128(24, 10)
QUANTITY = pa.decimal128(28, 10)
TEXT = pa.string()


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool = False

    @property
    def is_text(self) -> bool:
        return self.type == TEXT


COST_COLUMNS = (
    Column("charge_period_start", TIMESTAMP, required=True),
    Column("charge_period_end", TIMESTAMP, required=True),
    Column("billing_period_start", TIMESTAMP, required=True),
    Column("billing_period_end", TIMESTAMP, required=True),
    Column("provider_name", TEXT, required=True),
    Column("billing_account_id", TEXT, required=True),
    # Blank until the provider has issued (or pre-generated) the invoice the charge is on.
    Column("invoice_id", TEXT),
    Column("sub_account_id", TEXT),
    Column("service_name", TEXT),
    Column("service_category", TEXT),
    # Only from sources that state it (FOCUS 1.1+): never derived from the category.
    Column("service_subcategory", TEXT),
    Column("region_id", TEXT),
    Column("resource_id", TEXT),
    Column("resource_name", TEXT),
    Column("resource_type", TEXT),
    Column("sku_id", TEXT),
    Column("charge_category", TEXT, required=True),
    Column("charge_class", TEXT),
    Column("charge_description", TEXT),
    Column("consumed_quantity", QUANTITY),
    Column("consumed_unit", TEXT),
    Column("pricing_quantity", QUANTITY),
    Column("pricing_unit", TEXT),
    Column("list_cost", MONEY),
    Column("contracted_cost", MONEY),
    Column("billed_cost", MONEY, required=True),
    Column("effective_cost", MONEY, required=True),
    Column("billing_currency", TEXT, required=True),
    # A JSON object as text, so every backend's JSON column accepts it unchanged.
    Column("tags", TEXT),
)

COST_SCHEMA = pa.schema([pa.field(c.name, c.type, nullable=not c.required) for c in COST_COLUMNS])
COST_COLUMN_NAMES = tuple(c.name for c in COST_COLUMNS)
