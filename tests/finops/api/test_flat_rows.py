"""The spend and unit-cost endpoints write their rows with FlatRowsSerializer: the same JSON as
DRF's own list serializer, for every kind of value the rows carry."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework import serializers

from finops.api.flat import FlatRowsSerializer
from finops.api.serializers import SpendRowSerializer
from finops.api.volumes import UnitCostSerializer

AMOUNTS = [
    Decimal("0"), Decimal("-0.0000000001"), Decimal("123.4567890123"), Decimal("99999999999999.9999999999"),
    Decimal("1.23456789012345"),  # more places than the field: rounded half-even, as DRF does
    Decimal("5E+3"), Decimal("-7.25"), 12.5, 3,
]


def drf_writes(serializer_class, rows):
    return serializers.ListSerializer(rows, child=serializer_class()).data


@pytest.mark.parametrize("amount", AMOUNTS)
def test_spend_rows_are_written_as_drf_writes_them(amount):
    rows = [
        {"period": date(2026, 10, 1), "group": "Search", "billing_currency": "USD",
         "billed_cost": amount, "effective_cost": amount, "tokens": amount},
        {"period": date(2026, 10, 2), "group": None, "billing_currency": "EUR",
         "billed_cost": Decimal("1"), "effective_cost": amount, "tokens": None},
    ]

    written = SpendRowSerializer(rows, many=True)

    assert isinstance(written, FlatRowsSerializer)
    assert written.data == drf_writes(SpendRowSerializer, rows)
    assert list(written.data[0]) == ["period", "group", "billing_currency", "billed_cost", "effective_cost", "tokens"]


@pytest.mark.parametrize("amount", AMOUNTS)
def test_unit_cost_rows_are_written_as_drf_writes_them(amount):
    rows = [
        {"day": date(2026, 10, 1), "workload": "Ranker", "billing_currency": "USD", "effective_cost": amount,
         "requests": 4000, "tokens": Decimal(0), "cost_per_1k_requests": amount, "cost_per_1m_tokens": None},
    ]

    assert UnitCostSerializer(rows, many=True).data == drf_writes(UnitCostSerializer, rows)


def test_an_amount_too_large_for_the_field_fails_as_in_drf():
    rows = [{"period": date(2026, 10, 1), "group": "x", "billing_currency": "USD",
             "billed_cost": Decimal("1E+20"), "effective_cost": Decimal(0), "tokens": Decimal(0)}]

    with pytest.raises(Exception) as drf_error:
        drf_writes(SpendRowSerializer, rows)
    with pytest.raises(drf_error.type):
        SpendRowSerializer(rows, many=True).data
