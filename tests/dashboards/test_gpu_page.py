import csv
import io

import pytest

from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
DAY_QUERY = "start=2026-10-01&end=2026-10-01"


def test_it_shows_hours_idle_waste_and_the_suggestion(client, gpus):
    client.force_login(gpus["leader"])

    response = client.get(f"/gpu/?{DAY_QUERY}")

    assert response.status_code == 200
    content = response.content.decode()
    assert "104.00 USD" in content and "56.00 USD" in content  # idle waste of idle and busy
    assert [s.workload for s in response.context["suggestions"]] == ["idle"]
    names = set(response.context["hours_figure"]["data"][0]["y"])
    assert names == {"busy · NVIDIA A100-SXM4-80GB", "idle · NVIDIA A100-SXM4-80GB"}


def test_a_member_of_the_team_sees_it_and_an_outsider_does_not(client, gpus):
    client.force_login(MembershipFactory(team=gpus["team"]).user)
    assert client.get(f"/gpu/?{DAY_QUERY}").context["has_samples"]

    client.force_login(MembershipFactory(team=TeamFactory()).user)
    response = client.get(f"/gpu/?{DAY_QUERY}")
    assert not response.context["has_samples"]
    assert b"No GPU samples for these filters" in response.content


def test_the_csv_has_the_figures_numbers(client, gpus):
    client.force_login(gpus["leader"])

    rows = list(csv.DictReader(io.StringIO(client.get(f"/gpu/data.csv?{DAY_QUERY}").content.decode())))

    by_workload = {row["workload"]: row for row in rows}
    assert float(by_workload["busy"]["gpu_hours_bought"]) == pytest.approx(36)
    assert by_workload["idle"]["idle_waste"] == "104.00"


def test_the_csv_is_scoped(client, gpus):
    client.force_login(MembershipFactory(team=TeamFactory()).user)

    rows = list(csv.DictReader(io.StringIO(client.get(f"/gpu/data.csv?{DAY_QUERY}").content.decode())))

    assert rows == []


def test_anonymous_visitors_are_sent_to_login(client):
    assert client.get("/gpu/").status_code == 302
    assert client.get("/gpu/data.csv").status_code == 302


def test_staff_without_data_see_how_to_load_samples(client):
    client.force_login(UserFactory(is_staff=True))

    assert b"ingest_gpu" in client.get("/gpu/").content
