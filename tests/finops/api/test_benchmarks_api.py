"""/api/v1/benchmarks/ (a team's runs, scoped by workload: another team's is a 404) and
/api/v1/managed-api-prices/ (global: everyone reads, leaders change, compared workloads
scoped)."""

from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from finops.models import Benchmark, ManagedApiPrice, TeamMembership
from tests.factories import BenchmarkFactory, ManagedApiPriceFactory, MembershipFactory, TeamFactory, WorkloadFactory
from tests.finops.api.clients import as_user, ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    data = {}
    for team in (search, vision):
        workload = WorkloadFactory(team=team)
        data[team.name] = {
            "team": team,
            "workload": workload,
            "benchmark": BenchmarkFactory(workload=workload),
            "member": MembershipFactory(team=team).user,
        }
    price = ManagedApiPriceFactory(model_name="gpt-4o-mini")
    price.compared_workloads.set([data["Search"]["workload"], data["Vision"]["workload"]])
    data["price"] = price
    data["leader"] = MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user
    return data


def a_run(workload, /, **changes) -> dict:
    run = {
        "workload": workload.pk, "instance_type": "g6.xlarge", "gpu_model": "NVIDIA L4", "gpu_count": 1,
        "throughput": "2500", "throughput_unit": "tokens_per_second", "p95_latency_ms": "180.5",
        "hourly_price": "0.8048", "measured_on": "2026-10-02",
    }
    run.update(changes)
    return run


@pytest.mark.parametrize("url", ["/api/v1/benchmarks/", "/api/v1/managed-api-prices/"])
def test_anonymous_clients_are_refused(org, url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


# --- benchmarks ---


def test_a_member_lists_and_reads_only_their_teams_benchmarks(org):
    client = as_user(org["Search"]["member"])
    mine, theirs = org["Search"]["benchmark"], org["Vision"]["benchmark"]

    assert ids(client.get("/api/v1/benchmarks/")) == {mine.pk}
    row = client.get(f"/api/v1/benchmarks/{mine.pk}/").json()
    assert (row["workload"], row["team"], row["hourly_price"]) == (mine.workload_id, org["Search"]["team"].pk, "1.0060000000")
    assert client.get(f"/api/v1/benchmarks/{theirs.pk}/").status_code == 404


def test_a_leader_sees_every_teams_benchmarks(org):
    listing = as_user(org["leader"]).get("/api/v1/benchmarks/")

    assert ids(listing) == {org["Search"]["benchmark"].pk, org["Vision"]["benchmark"].pk}


def test_cost_per_unit_is_the_hourly_price_per_1k_requests_or_per_1m_tokens(org):
    client = as_user(org["leader"])
    per_request = org["Search"]["benchmark"]  # 1.006 an hour at 50 requests/s
    per_token = BenchmarkFactory(
        workload=per_request.workload, throughput=Decimal("2500"), hourly_price=Decimal("4.00"),
        throughput_unit=Benchmark.ThroughputUnit.TOKENS_PER_SECOND,
    )

    requests_row = client.get(f"/api/v1/benchmarks/{per_request.pk}/").json()
    tokens_row = client.get(f"/api/v1/benchmarks/{per_token.pk}/").json()

    # 1.006 / (50 x 3600) x 1,000 and 4.00 / (2,500 x 3600) x 1,000,000
    assert (requests_row["cost_per_unit"], requests_row["cost_unit"]) == ("0.0055888889", "1k requests")
    assert (tokens_row["cost_per_unit"], tokens_row["cost_unit"]) == ("0.4444444444", "1M tokens")


@pytest.mark.parametrize(
    ("hourly_price", "throughput", "expected"),
    [
        # A price SQLite also stores exactly over the smallest throughput: 31 digits.
        ("99999999999999", "0.0001", "277777777777775000000.0000000000"),
        ("0", "50", "0.0000000000"),
    ],
)
def test_cost_per_unit_at_the_edges_of_the_columns(org, hourly_price, throughput, expected):
    run = BenchmarkFactory(workload=org["Search"]["workload"], hourly_price=Decimal(hourly_price), throughput=Decimal(throughput),
                           throughput_unit=Benchmark.ThroughputUnit.TOKENS_PER_SECOND)

    assert as_user(org["leader"]).get(f"/api/v1/benchmarks/{run.pk}/").json()["cost_per_unit"] == expected


def test_a_member_records_changes_and_deletes_a_run_of_their_own_workload(org):
    client = as_user(org["Search"]["member"])
    workload = org["Search"]["workload"]

    created = client.post("/api/v1/benchmarks/", a_run(workload))
    assert created.status_code == 201
    run = Benchmark.objects.get(pk=created.json()["id"])
    assert (run.workload, run.throughput, run.hourly_price, run.currency) == (workload, Decimal("2500"), Decimal("0.8048"), "USD")
    assert created.json()["cost_per_unit"] == "0.0894222222"

    changed = client.patch(f"/api/v1/benchmarks/{run.pk}/", {"p95_latency_ms": "95"})
    assert changed.status_code == 200
    run.refresh_from_db()
    assert run.p95_latency_ms == Decimal("95")

    assert client.delete(f"/api/v1/benchmarks/{run.pk}/").status_code == 204
    assert not Benchmark.objects.filter(pk=run.pk).exists()


def test_a_member_cannot_touch_another_teams_runs(org):
    client = as_user(org["Search"]["member"])
    theirs = org["Vision"]["benchmark"]

    created = client.post("/api/v1/benchmarks/", a_run(org["Vision"]["workload"]))
    moved = client.patch(f"/api/v1/benchmarks/{org['Search']['benchmark'].pk}/", {"workload": org["Vision"]["workload"].pk})

    assert created.status_code == 400 and "workload" in created.json()
    assert moved.status_code == 400 and "workload" in moved.json()
    assert client.patch(f"/api/v1/benchmarks/{theirs.pk}/", {"notes": "x"}).status_code == 404
    assert client.delete(f"/api/v1/benchmarks/{theirs.pk}/").status_code == 404
    assert Benchmark.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"throughput": "0"}, "throughput"),
        ({"throughput": "-5"}, "throughput"),
        ({"hourly_price": "-0.01"}, "hourly_price"),
        ({"p95_latency_ms": "-1"}, "p95_latency_ms"),
        ({"throughput_unit": "images_per_second"}, "throughput_unit"),
        ({"gpu_count": 40_000}, "gpu_count"),
        ({"measured_on": "last week"}, "measured_on"),
        ({"instance_type": ""}, "instance_type"),
        ({"workload": 999_999}, "workload"),
    ],
)
def test_bad_runs_get_a_400_naming_the_field(org, changes, field):
    response = as_user(org["leader"]).post("/api/v1/benchmarks/", a_run(org["Search"]["workload"], **changes))

    assert response.status_code == 400
    assert field in response.json()


def test_the_same_run_twice_is_a_400_not_a_twin(org):
    client = as_user(org["Search"]["member"])
    run = a_run(org["Search"]["workload"])
    del run["gpu_count"]  # the default, 1, is part of what makes a run unique

    first = client.post("/api/v1/benchmarks/", run)
    again = client.post("/api/v1/benchmarks/", run)

    assert first.status_code == 201
    assert again.status_code == 400 and "non_field_errors" in again.json()
    assert Benchmark.objects.filter(instance_type="g6.xlarge").count() == 1


def test_benchmarks_filter_by_workload_instance_type_and_team(org):
    client = as_user(org["leader"])
    search, vision = org["Search"], org["Vision"]
    other_instance = BenchmarkFactory(workload=search["workload"], instance_type="p4d.24xlarge")

    assert ids(client.get(f"/api/v1/benchmarks/?workload={search['workload'].pk}")) == {search["benchmark"].pk, other_instance.pk}
    assert ids(client.get("/api/v1/benchmarks/?instance_type=p4d.24xlarge")) == {other_instance.pk}
    assert ids(client.get(f"/api/v1/benchmarks/?team={vision['team'].pk}")) == {vision["benchmark"].pk}
    ordered = client.get("/api/v1/benchmarks/?ordering=instance_type").json()["results"]
    assert [row["instance_type"] for row in ordered] == sorted(row["instance_type"] for row in ordered)


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite keeps decimals as 15-digit floats")
def test_cost_per_unit_of_the_largest_price_the_column_holds(org):
    run = BenchmarkFactory(workload=org["Search"]["workload"], hourly_price=Decimal("99999999999999.9999999999"),
                           throughput=Decimal("0.0001"), throughput_unit=Benchmark.ThroughputUnit.TOKENS_PER_SECOND)

    row = as_user(org["leader"]).get(f"/api/v1/benchmarks/{run.pk}/").json()

    assert row["cost_per_unit"] == "277777777777777777777.7775000000"


# --- managed API prices ---


def test_every_member_reads_prices_but_only_their_compared_workloads(org):
    client = as_user(org["Search"]["member"])
    price = org["price"]

    listing = client.get("/api/v1/managed-api-prices/")
    row = client.get(f"/api/v1/managed-api-prices/{price.pk}/").json()

    assert ids(listing) == {price.pk}
    assert listing.json()["results"][0]["compared_workloads"] == [org["Search"]["workload"].pk]
    assert row["compared_workloads"] == [org["Search"]["workload"].pk]
    assert (row["input_price_per_1m_tokens"], row["price_per_1k_requests"]) == ("0.1500000000", None)


def test_a_leader_sees_every_compared_workload(org):
    row = as_user(org["leader"]).get(f"/api/v1/managed-api-prices/{org['price'].pk}/").json()

    assert set(row["compared_workloads"]) == {org["Search"]["workload"].pk, org["Vision"]["workload"].pk}


def test_members_cannot_change_prices(org):
    client = as_user(org["Search"]["member"])
    price = org["price"]

    created = client.post("/api/v1/managed-api-prices/", {"provider_name": "Anthropic", "model_name": "x", "price_per_1k_requests": "1"})

    assert created.status_code == 403
    assert client.patch(f"/api/v1/managed-api-prices/{price.pk}/", {"notes": "x"}).status_code == 403
    assert client.delete(f"/api/v1/managed-api-prices/{price.pk}/").status_code == 403


def test_a_leader_records_changes_and_deletes_a_price(org):
    client = as_user(org["leader"])
    search = org["Search"]["workload"]

    created = client.post("/api/v1/managed-api-prices/", {
        "provider_name": "Google", "model_name": "gemini-2.0-flash", "input_price_per_1m_tokens": "0.10",
        "output_price_per_1m_tokens": "0.40", "compared_workloads": [search.pk],
    }, format="json")
    assert created.status_code == 201
    price = ManagedApiPrice.objects.get(pk=created.json()["id"])
    assert (price.input_price_per_1m_tokens, list(price.compared_workloads.all())) == (Decimal("0.10"), [search])

    changed = client.patch(f"/api/v1/managed-api-prices/{price.pk}/", {"compared_workloads": []}, format="json")
    assert changed.status_code == 200
    assert not price.compared_workloads.exists()

    assert client.delete(f"/api/v1/managed-api-prices/{price.pk}/").status_code == 204
    assert not ManagedApiPrice.objects.filter(pk=price.pk).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider_name": "Google", "model_name": "no price"}, "non_field_errors"),
        ({"provider_name": "Google", "model_name": "only output", "output_price_per_1m_tokens": "1"}, "non_field_errors"),
        ({"provider_name": "Google", "model_name": "negative", "price_per_1k_requests": "-1"}, "price_per_1k_requests"),
        ({"provider_name": "OpenAI", "model_name": "gpt-4o-mini", "price_per_1k_requests": "1"}, "non_field_errors"),
        ({"provider_name": "Google", "model_name": "x", "price_per_1k_requests": "1", "compared_workloads": [999_999]}, "compared_workloads"),
        ({"provider_name": "Google", "model_name": "x", "price_per_1k_requests": "1", "currency": "dollars"}, "currency"),
    ],
)
def test_bad_prices_get_a_400_naming_the_field(org, payload, field):
    response = as_user(org["leader"]).post("/api/v1/managed-api-prices/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert ManagedApiPrice.objects.count() == 1


def test_clearing_the_only_price_is_a_400(org):
    price = org["price"]  # priced per token only

    response = as_user(org["leader"]).patch(f"/api/v1/managed-api-prices/{price.pk}/", {"input_price_per_1m_tokens": None}, format="json")

    assert response.status_code == 400
    price.refresh_from_db()
    assert price.input_price_per_1m_tokens == Decimal("0.15")


def test_prices_filter_by_compared_workload(org):
    client = as_user(org["Vision"]["member"])
    ManagedApiPriceFactory(provider_name="Anthropic")

    assert ids(client.get(f"/api/v1/managed-api-prices/?workload={org['Vision']['workload'].pk}")) == {org["price"].pk}
    assert client.get(f"/api/v1/managed-api-prices/?workload={org['Search']['workload'].pk}").status_code == 400
