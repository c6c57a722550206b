from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finops.models import DailySpend, TeamMembership
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db


def spend(*, team=None, amount: str, days_ago: int = 1, currency: str = "USD") -> DailySpend:
    workload = WorkloadFactory(team=team) if team else None
    return DailySpend.objects.create(
        day=timezone.localdate() - timedelta(days=days_ago),
        team=team,
        workload=workload,
        provider_name="AWS",
        service_name="Amazon Elastic Compute Cloud",
        service_category="Compute",
        charge_category="Usage",
        billing_currency=currency,
        billed_cost=Decimal(amount),
        effective_cost=Decimal(amount),
        list_cost=Decimal(amount),
        record_count=1,
    )


@pytest.fixture
def two_teams_and_unallocated():
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    spend(team=search, amount="100.25")
    spend(team=vision, amount="2000.50")
    spend(team=None, amount="7.00")
    spend(team=search, amount="999.00", days_ago=45)  # outside the 30-day window
    return search, vision


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_member_sees_only_their_team_spend(client, two_teams_and_unallocated):
    search, _vision = two_teams_and_unallocated
    client.force_login(MembershipFactory(team=search).user)

    response = client.get("/")

    assert response.status_code == 200
    assert response.context["totals"] == {"USD": Decimal("100.25")}
    names = {trace["name"] for chart in response.context["charts"] for trace in chart["figure"]["data"]}
    assert names == {"Search"}
    assert b"Vision" not in response.content


def test_a_leader_sees_every_team_and_unallocated_spend(client, two_teams_and_unallocated):
    search, _vision = two_teams_and_unallocated
    client.force_login(MembershipFactory(team=search, role=TeamMembership.Role.LEADER).user)

    response = client.get("/")

    assert response.context["totals"] == {"USD": Decimal("2107.75")}
    names = [trace["name"] for trace in response.context["charts"][0]["figure"]["data"]]
    assert names == ["Search", "Vision", "Unallocated"]


def test_currencies_are_never_added_together(client):
    team = TeamFactory()
    spend(team=team, amount="10", currency="USD")
    spend(team=team, amount="20", currency="EUR")
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/")

    assert response.context["totals"] == {"EUR": Decimal(20), "USD": Decimal(10)}
    assert [chart["currency"] for chart in response.context["charts"]] == ["EUR", "USD"]


def test_without_data_it_says_how_to_load_some(client):
    client.force_login(UserFactory())

    response = client.get("/")

    assert b"No spend for these filters" in response.content
    assert b"ingest_billing" in response.content


def test_the_page_loads_plotly_locally_and_embeds_figures_as_json(client, two_teams_and_unallocated):
    client.force_login(UserFactory(is_staff=True))

    content = client.get("/").content.decode()

    assert '<script src="/static/vendor/plotly/plotly.min.js"></script>' in content
    assert 'type="application/json"' in content
    assert "cdn" not in content.lower()


def test_plotly_js_is_served_by_the_app(client):
    response = client.get("/static/vendor/plotly/plotly.min.js")

    assert response.status_code == 200
    assert b"plotly.js" in b"".join(response.streaming_content)[:2000]
