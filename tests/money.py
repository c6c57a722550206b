from decimal import Decimal

from django.db import connection

CENT = Decimal("0.01")


def assert_same_money(stored: Decimal, expected: Decimal) -> None:
    """Exact on PostgreSQL (numeric). SQLite has no decimal type and sums through doubles,
    so there the promise is to the cent, as README.md says."""
    if connection.vendor == "postgresql":
        assert stored == expected
    else:
        assert stored.quantize(CENT) == expected.quantize(CENT), f"{stored} != {expected}"
