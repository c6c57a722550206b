import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import F, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from rest_framework.test import APIClient

from finops.models import DailySpend, TeamMembership
from finops.selectors.spend import SpendFilter, spend_aggregate
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def spend(*, workload=None, amount: str, day: date, service: str = "Amazon EC2", provider: str = "AWS") -> DailySpend:
    return DailySpend.objects.create(
        day=day, team=workload.team if workload else None, workload=workload, provider_name=provider,
        service_name=service, service_category="Compute", charge_category="Usage", billing_currency="USD",
        billed_cost=Decimal(amount), effective_cost=Decimal(amount), list_cost=Decimal(amount), record_count=1,
    )


@pytest.fixture
def org():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    ranker = WorkloadFactory(team=search, name="Ranker")
    embedder = WorkloadFactory(team=search, name="Embedder")
    tagger = WorkloadFactory(team=vision, name="Tagger")
    yesterday = TODAY - timedelta(days=1)
    spend(workload=ranker, amount="100.10", day=yesterday)
    spend(workload=ranker, amount="50.05", day=yesterday - timedelta(days=7), service="Amazon S3")
    spend(workload=embedder, amount="20.00", day=yesterday, provider="Google Cloud", service="Vertex AI")
    spend(workload=tagger, amount="999.99", day=yesterday)
    spend(amount="7.00", day=yesterday)
    return {"search": search, "vision": vision, "ranker": ranker, "embedder": embedder, "tagger": tagger}


def figure_totals(response) -> dict[str, float]:
    totals: dict[str, float] = {}
    for chart in response.context["charts"]:
        for trace in chart["figure"]["data"]:
            totals[trace["name"]] = round(sum(trace["y"]), 2)
    return totals


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_member_sees_their_workloads_grouped(client, org):
    client.force_login(MembershipFactory(team=org["search"]).user)

    response = client.get("/spend/?group_by=workload&granularity=week&preset=30d")

    assert response.status_code == 200
    assert figure_totals(response) == {"Embedder": 20.0, "Ranker": 150.15}


def test_filters_narrow_the_figure_and_live_in_the_url(client, org):
    client.force_login(MembershipFactory(team=org["search"]).user)

    by_provider = client.get("/spend/?group_by=service&provider=Google+Cloud")
    by_workload = client.get(f"/spend/?group_by=service&workload={org['ranker'].pk}")

    assert figure_totals(by_provider) == {"Vertex AI": 20.0}
    assert figure_totals(by_workload) == {"Amazon EC2": 100.1, "Amazon S3": 50.05}


def test_a_leader_sees_unallocated_spend_as_its_own_series(client, org):
    client.force_login(MembershipFactory(team=org["search"], role=TeamMembership.Role.LEADER).user)

    response = client.get("/spend/?group_by=team")

    assert figure_totals(response) == {"Search": 170.15, "Vision": 999.99, "Unallocated": 7.0}


def test_another_teams_workload_or_team_is_not_a_valid_filter(client, org):
    client.force_login(MembershipFactory(team=org["search"]).user)

    for query in (f"workload={org['tagger'].pk}", f"team={org['vision'].pk}"):
        response = client.get(f"/spend/?{query}")
        assert response.status_code == 400
        assert b"Select a valid choice" in response.content
        assert b"999" not in response.content


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-10-05&end=2026-10-01", b"The end date is before the start date."),
        ("start=2026-10-05", b"Give both a start and an end date."),
        ("start=yesterday&end=2026-10-01", b"Enter a valid date."),
        ("start=2020-01-01&end=2026-01-01", b"Choose at most three years."),
        ("group_by=colour", b"Select a valid choice"),
        ("preset=forever", b"Select a valid choice"),
    ],
)
def test_bad_filters_get_a_400_with_the_reason(client, org, query, message):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(f"/spend/?{query}")

    assert response.status_code == 400
    assert message in response.content


def test_the_csv_holds_exactly_the_figures_numbers_at_full_precision(client, org):
    client.force_login(MembershipFactory(team=org["search"]).user)
    query = "group_by=workload&granularity=day&preset=30d"

    page = client.get(f"/spend/?{query}")
    download = client.get(f"/spend/data.csv?{query}")

    assert download["Content-Type"].startswith("text/csv")
    rows = csv_rows(download)
    by_group: dict[str, Decimal] = {}
    for row in rows:
        by_group[row["workload"]] = by_group.get(row["workload"], Decimal(0)) + Decimal(row["effective_cost"])
    assert {name: float(total) for name, total in by_group.items()} == figure_totals(page)
    assert rows[0]["effective_cost"].endswith("0000000")  # Decimal strings, not floats


def test_the_csv_is_scoped_like_the_page(client, org):
    client.force_login(MembershipFactory(team=org["vision"]).user)

    rows = csv_rows(client.get("/spend/data.csv?group_by=team"))

    assert {row["team"] for row in rows} == {"Vision"}


def test_the_csv_defuses_spreadsheet_formulas_in_names(client, org):
    org["ranker"].name = "=HYPERLINK(\"http://evil\")"
    org["ranker"].save()
    client.force_login(MembershipFactory(team=org["search"]).user)

    rows = csv_rows(client.get("/spend/data.csv?group_by=workload"))

    assert "'=HYPERLINK(\"http://evil\")" in {row["workload"] for row in rows}


def test_the_figure_matches_the_api_for_the_same_filters(client, org):
    leader = MembershipFactory(team=org["search"], role=TeamMembership.Role.LEADER).user
    client.force_login(leader)
    start, end = TODAY - timedelta(days=29), TODAY
    api = APIClient()
    api.force_authenticate(leader)

    page = client.get(f"/spend/?group_by=provider&granularity=month&start={start}&end={end}")
    rows = api.get(f"/api/v1/spend/?group_by=provider&granularity=month&start={start}&end={end}").json()

    from_api: dict[str, float] = {}
    for row in rows:
        from_api[row["group"]] = round(from_api.get(row["group"], 0) + float(row["effective_cost"]), 2)
    assert from_api == figure_totals(page)


def test_a_day_link_shows_the_thirty_days_up_to_that_day(client, org):
    client.force_login(UserFactory(is_staff=True))
    day = TODAY - timedelta(days=8)

    response = client.get(f"/?day={day}")

    assert response.context["start"] == day - timedelta(days=29)
    assert response.context["end"] == day
    assert response.context["totals"] == {"USD": Decimal("50.05")}


def test_the_filter_bar_offers_a_service_as_soon_as_the_rollup_has_it(client):
    from datetime import date
    from decimal import Decimal

    from finops.models import DailySpend
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))

    def services() -> list[str]:
        return client.get("/spend/").context["dimensions"]["services"]

    def spend(service: str) -> None:
        DailySpend.objects.create(
            day=date.today(), provider_name="AWS", service_name=service, service_category="Compute",
            charge_category="Usage", billing_currency="USD", billed_cost=Decimal(1), effective_cost=Decimal(1),
            list_cost=Decimal(1), record_count=1,
        )

    spend("Amazon EC2")
    assert services() == ["Amazon EC2"]
    spend("Amazon S3")
    assert services() == ["Amazon EC2", "Amazon S3"]


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_spend_by_team_has_the_rows_of_a_grouping_by_team_name(org, granularity):
    """spend_aggregate groups by team id and reads the names afterwards (a faster plan); with
    unique team names the rows, their order (unallocated included) and their sums are those of a
    grouping by the team's name."""
    leader = MembershipFactory(team=org["search"], role=TeamMembership.Role.LEADER).user
    spend(amount="3.3333333333", day=TODAY - timedelta(days=3), provider="Azure")
    spend(workload=org["tagger"], amount="0.0000000001", day=TODAY - timedelta(days=3))
    period = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[granularity]
    by_name = list(
        DailySpend.objects.annotate(period=period, group=F("team__name"))
        .values("period", "group", "billing_currency")
        .annotate(billed_cost=Sum("billed_cost"), effective_cost=Sum("effective_cost"), tokens=Sum("tokens"))
        .order_by("period", "billing_currency", "group")
    )

    rows = spend_aggregate(user=leader, spend_filter=SpendFilter(start=TODAY - timedelta(days=60), end=TODAY),
                           group_by="team", granularity=granularity)

    assert rows == by_name
    assert {row["group"] for row in rows} == {"Search", "Vision", None}
    effective_only = spend_aggregate(user=leader, spend_filter=SpendFilter(start=TODAY - timedelta(days=60), end=TODAY),
                                     group_by="team", granularity=granularity, amounts=("effective_cost",))
    assert effective_only == [
        {key: row[key] for key in ("period", "group", "billing_currency", "effective_cost")} for row in by_name
    ]


@pytest.mark.parametrize("granularity", ["day", "month"])
def test_workloads_of_the_same_name_in_two_teams_stay_apart(org, granularity):
    leader = MembershipFactory(team=org["search"], role=TeamMembership.Role.LEADER).user
    search_chat = WorkloadFactory(team=org["search"], name="Chat")
    vision_chat = WorkloadFactory(team=org["vision"], name="Chat")
    yesterday = TODAY - timedelta(days=1)
    spend(workload=search_chat, amount="1.50", day=yesterday)
    spend(workload=vision_chat, amount="2.25", day=yesterday)
    window = SpendFilter(start=TODAY - timedelta(days=60), end=TODAY)

    rows = spend_aggregate(user=leader, spend_filter=window, group_by="workload", granularity=granularity)

    chat = {row["group"]: row["effective_cost"] for row in rows if (row["group"] or "").startswith("Chat")}
    assert chat == {"Chat (Search)": Decimal("1.50"), "Chat (Vision)": Decimal("2.25")}
    names = {row["group"] for row in rows}
    assert {"Ranker", "Embedder", "Tagger", None} <= names  # names no other team shares stay as they are
    member = MembershipFactory(team=org["vision"]).user
    member_rows = spend_aggregate(user=member, spend_filter=window, group_by="workload", granularity=granularity)
    assert {row["group"] for row in member_rows} == {"Chat", "Tagger"}
