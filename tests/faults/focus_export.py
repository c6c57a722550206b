"""Synthetic FOCUS 1.2 exports big enough that loading one takes seconds, with the exact
EffectiveCost total known independently of the code under test."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# The real rows of a small AWS FOCUS export serve as templates: each generated row is one of
# its usage rows, moved to another hour of the month, another resource and another amount.
TEMPLATE = Path(__file__).parents[1] / "fixtures" / "focus" / "aws-focus-1.2.csv"
CHUNK_ROWS = 100_000
AMOUNT_SCALE = 10  # amounts are integers counting 1e-10 dollars until written


@dataclass(frozen=True)
class FocusExport:
    path: Path
    rows: int
    effective_total: Decimal
    billing_period_start: datetime


def focus_export_write(path: Path, *, rows: int, month: datetime, seed: int) -> FocusExport:
    """Write `rows` hourly usage rows of the billing month starting at `month` (UTC) for one
    AWS account; amounts vary with `seed`, so two exports of the same size differ."""
    template = _usage_templates()
    hours = int((_next_month(month) - month) / timedelta(hours=1))
    hour_text = pa.array([_iso(month + timedelta(hours=h)) for h in range(hours + 1)])
    rng = np.random.default_rng(seed)
    total_units = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with pacsv.CSVWriter(path, template.schema) as writer:
        for first in range(0, rows, CHUNK_ROWS):
            row = np.arange(first, min(first + CHUNK_ROWS, rows))
            picked = template.take(pa.array(row % template.num_rows))
            hour = pa.array(row // template.num_rows % hours)
            units = rng.integers(1, 50 * 10**AMOUNT_SCALE, len(row), dtype=np.int64)
            total_units += int(units.sum())
            amount = _decimal_text(units)
            columns = {
                "BillingPeriodStart": pa.array([_iso(month)] * len(row)),
                "BillingPeriodEnd": pa.array([_iso(_next_month(month))] * len(row)),
                "ChargePeriodStart": hour_text.take(hour),
                "ChargePeriodEnd": hour_text.take(pc.add(hour, 1)),
                "ResourceId": pc.binary_join_element_wise(
                    picked["ResourceId"], pa.array(row // (template.num_rows * hours)).cast(pa.string()), "-"
                ),
                **{name: amount for name in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")},
            }
            table = [columns.get(name, picked[name]) for name in template.schema.names]
            writer.write_table(pa.table(table, schema=template.schema))
    return FocusExport(
        path=path,
        rows=rows,
        effective_total=Decimal(total_units).scaleb(-AMOUNT_SCALE),
        billing_period_start=month,
    )


def _usage_templates() -> pa.Table:
    table = pacsv.read_csv(
        TEMPLATE,
        convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=False, null_values=[]),
        read_options=pacsv.ReadOptions(encoding="utf-8-sig"),
    )
    table = table.cast(pa.schema([(name, pa.string()) for name in table.schema.names]))
    return table.filter(pc.equal(table["ChargeCategory"], "Usage"))


def _decimal_text(units: np.ndarray) -> pa.Array:
    """Exact plain decimal text of positive integers counting 10**-AMOUNT_SCALE."""
    whole = pa.array(units // 10**AMOUNT_SCALE).cast(pa.string())
    fraction = pa.array(units % 10**AMOUNT_SCALE).cast(pa.string())
    fraction = pc.utf8_lpad(fraction, width=AMOUNT_SCALE, padding="0")
    return pc.binary_join_element_wise(whole, fraction, ".")


def _next_month(month: datetime) -> datetime:
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
