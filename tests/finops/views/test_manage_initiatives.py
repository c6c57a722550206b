"""The initiatives page: a team records its own initiatives; another team's is a 404."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from finops.models import Initiative
from tests.factories import InitiativeFactory, MembershipFactory, TeamFactory, WorkloadFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect, field_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def initiatives(org):
    return {
        "search": InitiativeFactory(title="Quantize the reranker", team=org.search, workloads=[org.reranker]),
        "vision": InitiativeFactory(title="Batch the detector", team=org.vision, workloads=[org.detector]),
    }


def _valid(org, **change) -> dict:
    return {
        "title": "Right-size the reranker",
        "team": org.search.pk,
        "workloads": [org.reranker.pk],
        "technique": Initiative.Technique.RIGHT_SIZING,
        "status": Initiative.Status.IN_PROGRESS,
        "owner": org.member.pk,
        "started_on": "2026-09-01",
        "effective_on": "",
        "expected_monthly_saving": "1200",
        "implementation_cost": "3000",
        "currency": "USD",
        "baseline_days": "28",
        "notes": "",
        **change,
    }


def test_anonymous_visitors_are_sent_to_log_in(client, initiatives):
    pk = initiatives["search"].pk
    for url in (
        reverse("manage:initiatives"),
        reverse("manage:initiative-create"),
        reverse("manage:initiative-edit", args=[pk]),
        reverse("manage:initiative-delete", args=[pk]),
    ):
        assert_login_redirect(client.get(url))


def test_a_member_sees_only_their_teams_initiatives(client, org, initiatives):
    client.force_login(org.member)

    page = client.get(reverse("manage:initiatives")).content.decode()

    assert "Quantize the reranker" in page and "Batch the detector" not in page


def test_a_member_does_not_see_another_teams_workload_a_leader_linked(client, org, initiatives):
    initiatives["search"].workloads.add(org.detector)
    client.force_login(org.member)

    page = client.get(reverse("manage:initiatives")).content.decode()

    assert "Reranker" in page and "Detector" not in page


def test_a_member_records_an_initiative_of_their_team(client, org):
    client.force_login(org.member)
    form = client.get(reverse("manage:initiative-create"))
    assert_has_csrf_token(form)
    assert list(form.context["form"].fields["team"].queryset) == [org.search]
    assert set(form.context["form"].fields["owner"].queryset) == {org.member, org.leader, org.staff}

    response = client.post(reverse("manage:initiative-create"), _valid(org))

    assert response.status_code == 302 and response["Location"] == reverse("manage:initiatives")
    initiative = Initiative.objects.get(title="Right-size the reranker")
    assert (initiative.team, initiative.owner, initiative.implementation_cost, initiative.started_on) == (
        org.search,
        org.member,
        Decimal("3000"),
        date(2026, 9, 1),
    )
    assert list(initiative.workloads.all()) == [org.reranker]


def test_a_member_marks_their_initiative_done(client, org, initiatives):
    initiative = initiatives["search"]
    client.force_login(org.member)
    assert_has_csrf_token(client.get(reverse("manage:initiative-edit", args=[initiative.pk])))

    response = client.post(
        reverse("manage:initiative-edit", args=[initiative.pk]),
        _valid(org, title=initiative.title, status=Initiative.Status.DONE, effective_on="2026-10-01"),
    )

    assert response.status_code == 302
    initiative.refresh_from_db()
    assert (initiative.status, initiative.effective_on) == (Initiative.Status.DONE, date(2026, 10, 1))


def test_editing_keeps_the_workloads_of_other_teams_a_leader_linked(client, org, initiatives):
    initiative = initiatives["search"]
    initiative.workloads.add(org.detector)
    client.force_login(org.member)

    client.post(reverse("manage:initiative-edit", args=[initiative.pk]), _valid(org, title="Renamed"))

    initiative.refresh_from_db()
    assert initiative.title == "Renamed"
    assert set(initiative.workloads.all()) == {org.reranker, org.detector}


def test_another_teams_initiative_is_a_404(client, org, initiatives):
    other = initiatives["vision"]
    client.force_login(org.member)

    assert client.get(reverse("manage:initiative-edit", args=[other.pk])).status_code == 404
    assert client.post(reverse("manage:initiative-edit", args=[other.pk]), _valid(org)).status_code == 404
    assert client.post(reverse("manage:initiative-delete", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert (other.title, other.team) == ("Batch the detector", org.vision)


def test_a_done_initiative_without_a_go_live_date_is_a_field_error(client, org, initiatives):
    client.force_login(org.member)

    created = client.post(reverse("manage:initiative-create"), _valid(org, status=Initiative.Status.DONE))
    edited = client.post(
        reverse("manage:initiative-edit", args=[initiatives["search"].pk]),
        _valid(org, status=Initiative.Status.DONE),
    )

    for response in (created, edited):
        assert field_errors(response, "effective_on") == ["A done initiative needs the day it went live."]
    assert not Initiative.objects.filter(status=Initiative.Status.DONE).exists()
    assert Initiative.objects.count() == 2


def test_a_member_links_only_workloads_of_the_initiatives_team(client, org):
    platform = TeamFactory(name="Platform")
    gateway = WorkloadFactory(team=platform, name="Gateway")
    MembershipFactory(team=platform, user=org.member)
    client.force_login(org.member)

    response = client.post(
        reverse("manage:initiative-create"), _valid(org, workloads=[org.reranker.pk, gateway.pk])
    )

    assert field_errors(response, "workloads") == ["Pick workloads of Search."]
    assert not Initiative.objects.exists()


def test_a_member_cannot_link_a_workload_they_do_not_see(client, org):
    client.force_login(org.member)

    response = client.post(reverse("manage:initiative-create"), _valid(org, workloads=[org.detector.pk]))

    assert any("Select a valid choice" in error for error in field_errors(response, "workloads"))
    assert not Initiative.objects.exists()


def test_a_leader_links_workloads_of_several_teams(client, org):
    client.force_login(org.leader)

    client.post(
        reverse("manage:initiative-create"), _valid(org, workloads=[org.reranker.pk, org.detector.pk])
    )

    assert set(Initiative.objects.get().workloads.all()) == {org.reranker, org.detector}


def test_an_owner_who_cannot_see_the_team_is_a_field_error(client, org):
    client.force_login(org.leader)  # may pick anyone; only the team check can refuse

    response = client.post(reverse("manage:initiative-create"), _valid(org, owner=org.outsider.pk))

    assert field_errors(response, "owner") == ["otto cannot see Search."]
    assert not Initiative.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"started_on": "2026-10-02", "effective_on": "2026-10-01"},
            "effective_on",
            "The go-live date is before the start date.",
        ),
        ({"baseline_days": "0"}, "baseline_days", "Ensure this value is greater than or equal to 1."),
        (
            {"implementation_cost": "-5"},
            "implementation_cost",
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"workloads": []}, "workloads", "This field is required."),
        ({"currency": "12"}, "currency", "An ISO 4217 code in capitals, such as USD."),
        (
            {"technique": "magic"},
            "technique",
            "Select a valid choice. magic is not one of the available choices.",
        ),
    ],
)
def test_an_invalid_initiative_is_shown_again_with_the_error_on_its_field(
    client, org, change, field, message
):
    client.force_login(org.member)

    response = client.post(reverse("manage:initiative-create"), _valid(org, **change))

    assert message in field_errors(response, field)
    assert_has_csrf_token(response)
    assert not Initiative.objects.exists()


def test_a_member_deletes_their_initiative(client, org, initiatives):
    client.force_login(org.member)

    response = client.post(reverse("manage:initiative-delete", args=[initiatives["search"].pk]))

    assert response.status_code == 302
    assert list(Initiative.objects.all()) == [initiatives["vision"]]
