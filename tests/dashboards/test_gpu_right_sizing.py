"""The GPU page's right-sizing table and its CSV: the named smaller instance and its monthly
saving (figures as in tests/finops/test_instance_suggestions.py)."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finops.models import Benchmark, InferenceVolume
from tests.factories import BenchmarkFactory, MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db
DAY_QUERY = "start=2026-10-01&end=2026-10-01"


@pytest.fixture
def g5(gpus):
    idle = gpus["idle"]
    idle.p95_latency_target_ms = Decimal("200")
    idle.save()
    InferenceVolume.objects.create(workload=idle, day=date(2026, 10, 1), requests=864_000)
    return BenchmarkFactory(
        workload=idle, instance_type="g5.xlarge", gpu_model="NVIDIA A10G", throughput=Decimal("12"),
        throughput_unit=Benchmark.ThroughputUnit.REQUESTS_PER_SECOND, p95_latency_ms=Decimal("150"),
        hourly_price=Decimal("1.00"),
    )


def _csv(client) -> list[dict]:
    response = client.get(f"/gpu/right-sizing.csv?{DAY_QUERY}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_table_names_the_instance_and_its_monthly_saving(client, gpus, g5):
    client.force_login(gpus["leader"])

    response = client.get(f"/gpu/?{DAY_QUERY}")

    content = response.content.decode()
    assert "<strong>g5.xlarge (1 × NVIDIA A10G)</strong>" in content
    assert "2,880.00 USD" in content
    assert "/gpu/right-sizing.csv?" in content


def test_the_table_says_why_there_is_none(client, gpus, g5):
    g5.p95_latency_ms = Decimal("250")
    g5.save()
    client.force_login(gpus["leader"])

    content = client.get(f"/gpu/?{DAY_QUERY}").content.decode()

    assert "None of the 1 benchmarked instances meets the p95 latency target of 200.000 ms." in content
    assert "<strong>g5.xlarge" not in content


def test_the_csv_has_the_instance_and_the_saving(client, gpus, g5):
    client.force_login(gpus["leader"])

    [row] = _csv(client)

    assert row["workload"] == "idle"
    assert (row["suggested_instance"], row["suggested_gpu_count"], row["suggested_gpu_model"]) == (
        "g5.xlarge", "1", "NVIDIA A10G"
    )
    assert (row["monthly_gpu_cost"], row["instance_monthly_cost"], row["monthly_saving"]) == ("3600.00", "720.00", "2880.00")
    assert row["estimated_saving"] == "93.33"


def test_a_team_member_gets_the_csv_and_an_outsider_an_empty_one(client, gpus, g5):
    client.force_login(MembershipFactory(team=gpus["team"]).user)
    assert [row["suggested_instance"] for row in _csv(client)] == ["g5.xlarge"]

    client.force_login(MembershipFactory(team=TeamFactory()).user)
    assert _csv(client) == []
    assert b"g5.xlarge" not in client.get(f"/gpu/?{DAY_QUERY}").content


def test_anonymous_visitors_are_sent_to_login(client):
    assert client.get("/gpu/right-sizing.csv").status_code == 302
