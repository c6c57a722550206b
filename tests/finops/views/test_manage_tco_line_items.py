"""The cost line items page: a member keeps their own teams' items; another team's is a 404."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from finops.models import TcoCategory, TcoLineItem
from tests.factories import TcoLineItemFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect, field_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(org):
    return {
        "search": TcoLineItemFactory(
            workload=org.reranker, description="Reranker licence", amount=Decimal("300.00")
        ),
        "vision": TcoLineItemFactory(
            workload=org.detector, description="Detector licence", amount=Decimal("900.00")
        ),
    }


def _valid(org, **change) -> dict:
    return {
        "team": org.search.pk,
        "workload": org.reranker.pk,
        "category": TcoCategory.OPERATIONS,
        "description": "On-call for the reranker",
        "amount": "1250.50",
        "currency": "usd",
        "recurrence": TcoLineItem.Recurrence.MONTHLY,
        "start_date": "2026-01-01",
        "end_date": "",
        **change,
    }


def test_anonymous_visitors_are_sent_to_log_in(client, items):
    pk = items["search"].pk
    for url in (
        reverse("manage:tco-line-items"),
        reverse("manage:tco-line-item-create"),
        reverse("manage:tco-line-item-edit", args=[pk]),
        reverse("manage:tco-line-item-delete", args=[pk]),
    ):
        assert_login_redirect(client.get(url))
    assert_login_redirect(client.post(reverse("manage:tco-line-item-delete", args=[pk])))
    assert TcoLineItem.objects.filter(pk=pk).exists()


def test_a_member_sees_only_their_teams_items(client, org, items):
    client.force_login(org.member)

    response = client.get(reverse("manage:tco-line-items"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Reranker licence" in page and "300.00 USD" in page
    assert "Detector licence" not in page


def test_a_leader_sees_every_team(client, org, items):
    client.force_login(org.leader)

    page = client.get(reverse("manage:tco-line-items")).content.decode()

    assert "Reranker licence" in page and "Detector licence" in page


def test_a_member_is_offered_only_their_teams_and_workloads(client, org):
    client.force_login(org.member)

    response = client.get(reverse("manage:tco-line-item-create"))

    assert_has_csrf_token(response)
    form = response.context["form"]
    assert list(form.fields["team"].queryset) == [org.search]
    assert list(form.fields["workload"].queryset) == [org.reranker]


def test_a_member_adds_an_item_to_their_team(client, org):
    client.force_login(org.member)

    response = client.post(reverse("manage:tco-line-item-create"), _valid(org))

    assert response.status_code == 302 and response["Location"] == reverse("manage:tco-line-items")
    item = TcoLineItem.objects.get(description="On-call for the reranker")
    assert (item.team, item.workload, item.amount, item.currency, item.created_by) == (
        org.search,
        org.reranker,
        Decimal("1250.50"),
        "USD",
        org.member,
    )


def test_a_team_wide_item_needs_no_workload(client, org):
    client.force_login(org.member)

    client.post(
        reverse("manage:tco-line-item-create"), _valid(org, workload="", description="MLOps platform")
    )

    assert TcoLineItem.objects.get(description="MLOps platform").workload is None


def test_a_member_edits_their_teams_item(client, org, items):
    item = items["search"]
    client.force_login(org.member)
    assert_has_csrf_token(client.get(reverse("manage:tco-line-item-edit", args=[item.pk])))

    response = client.post(
        reverse("manage:tco-line-item-edit", args=[item.pk]),
        _valid(org, description="Reranker licence (renewed)", amount="320", end_date="2026-12-31"),
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.description, item.amount, item.end_date) == (
        "Reranker licence (renewed)",
        Decimal("320"),
        date(2026, 12, 31),
    )
    assert item.created_by is None  # the factory's item: an edit does not claim it


def test_another_teams_item_is_a_404(client, org, items):
    other = items["vision"]
    client.force_login(org.member)

    assert client.get(reverse("manage:tco-line-item-edit", args=[other.pk])).status_code == 404
    assert client.post(reverse("manage:tco-line-item-edit", args=[other.pk]), _valid(org)).status_code == 404
    assert client.get(reverse("manage:tco-line-item-delete", args=[other.pk])).status_code == 404
    assert client.post(reverse("manage:tco-line-item-delete", args=[other.pk])).status_code == 404

    other.refresh_from_db()
    assert (other.description, other.team) == ("Detector licence", org.vision)


def test_a_member_cannot_file_an_item_under_another_team(client, org):
    client.force_login(org.member)

    response = client.post(
        reverse("manage:tco-line-item-create"), _valid(org, team=org.vision.pk, workload="")
    )

    assert any("Select a valid choice" in error for error in field_errors(response, "team"))
    assert not TcoLineItem.objects.exists()


def test_a_workload_of_another_team_is_a_field_error(client, org):
    client.force_login(org.leader)  # sees both workloads, so only the team check can refuse it

    response = client.post(reverse("manage:tco-line-item-create"), _valid(org, workload=org.detector.pk))

    assert field_errors(response, "workload") == ["Detector belongs to Vision, not Search."]
    assert not TcoLineItem.objects.exists()


def test_a_member_cannot_pick_another_teams_workload(client, org):
    client.force_login(org.member)

    response = client.post(reverse("manage:tco-line-item-create"), _valid(org, workload=org.detector.pk))

    assert any("Select a valid choice" in error for error in field_errors(response, "workload"))
    assert not TcoLineItem.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"end_date": "2025-12-31"}, "end_date", "The end date is before the start date."),
        (
            {"recurrence": "one_off", "end_date": "2026-02-01"},
            "end_date",
            "A one-off cost has no end date; leave it blank.",
        ),
        ({"currency": "US$"}, "currency", "An ISO 4217 code in capitals, such as USD."),
        ({"amount": "1.12345678901"}, "amount", "Ensure that there are no more than 10 decimal places."),
        ({"start_date": ""}, "start_date", "This field is required."),
    ],
)
def test_an_invalid_item_is_shown_again_with_the_error_on_its_field(
    client, org, items, change, field, message
):
    client.force_login(org.member)
    before = list(TcoLineItem.objects.values_list("pk", "description", "amount", "end_date"))

    created = client.post(reverse("manage:tco-line-item-create"), _valid(org, **change))
    edited = client.post(
        reverse("manage:tco-line-item-edit", args=[items["search"].pk]), _valid(org, **change)
    )

    for response in (created, edited):
        assert message in field_errors(response, field)
        assert_has_csrf_token(response)
    assert list(TcoLineItem.objects.values_list("pk", "description", "amount", "end_date")) == before


def test_a_member_deletes_their_teams_item(client, org, items):
    client.force_login(org.member)
    assert_has_csrf_token(client.get(reverse("manage:tco-line-item-delete", args=[items["search"].pk])))

    response = client.post(reverse("manage:tco-line-item-delete", args=[items["search"].pk]))

    assert response.status_code == 302
    assert list(TcoLineItem.objects.all()) == [items["vision"]]
