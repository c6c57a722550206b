from datetime import date
from decimal import Decimal

import pytest

from finops.services.rollups import ResourceDaySums

GPU_VM = ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "gpu-0", "AWS", "Amazon EC2", "USD")
OTHER_VM = ("i-0def", "gpu-1", "AWS", "Amazon EC2", "USD")


def test_sums_are_exact_per_day_workload_and_resource():
    sums = ResourceDaySums()
    sums.add((date(2026, 10, 1), 7, *GPU_VM), Decimal("0.1000000001"))
    sums.add((date(2026, 10, 1), 7, *GPU_VM), Decimal("0.2000000002"))
    sums.add((date(2026, 10, 1), None, *GPU_VM), Decimal("-3.5"))
    sums.add((date(2026, 10, 2), 7, *OTHER_VM), Decimal("99999999999999.9999999999"))

    assert len(sums) == 3
    assert sums.workload_ids() == {7, None}
    assert dict(sums.items()) == {
        (date(2026, 10, 1), 7, *GPU_VM): Decimal("0.3000000003"),
        (date(2026, 10, 1), None, *GPU_VM): Decimal("-3.5000000000"),
        (date(2026, 10, 2), 7, *OTHER_VM): Decimal("99999999999999.9999999999"),
    }
    assert sums.pop((date(2026, 10, 1), 7, *GPU_VM)) == Decimal("0.3000000003")
    assert sums.pop((date(2026, 10, 1), 7, *GPU_VM)) is None
    assert sums.pop((date(2026, 10, 1), 8, *OTHER_VM)) is None
    assert len(sums) == 2


def test_an_amount_finer_than_storage_is_refused_rather_than_rounded():
    with pytest.raises(ValueError, match="decimal places"):
        ResourceDaySums().add((date(2026, 10, 1), 1, *GPU_VM), Decimal("0.00000000001"))
