"""The managed API prices page: everyone signed in reads it; leaders and staff change it."""

from decimal import Decimal

import pytest
from django.urls import reverse

from finops.models import ManagedApiPrice
from tests.factories import ManagedApiPriceFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect, field_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def price(org):
    price = ManagedApiPriceFactory(provider_name="OpenAI", model_name="gpt-4o-mini")
    price.compared_workloads.set([org.reranker, org.detector])
    return price


def _valid(org, **change) -> dict:
    return {
        "provider_name": "Anthropic",
        "model_name": "claude-haiku",
        "input_price_per_1m_tokens": "0.80",
        "output_price_per_1m_tokens": "4.00",
        "price_per_1k_requests": "",
        "currency": "USD",
        "compared_workloads": [org.reranker.pk],
        "notes": "",
        **change,
    }


def test_anonymous_visitors_are_sent_to_log_in(client, price):
    for url in (
        reverse("manage:managed-api-prices"),
        reverse("manage:managed-api-price-create"),
        reverse("manage:managed-api-price-edit", args=[price.pk]),
        reverse("manage:managed-api-price-delete", args=[price.pk]),
    ):
        assert_login_redirect(client.get(url))


def test_a_member_reads_the_prices_with_only_their_workloads(client, org, price):
    client.force_login(org.member)

    response = client.get(reverse("manage:managed-api-prices"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "gpt-4o-mini" in page and "0.1500 USD" in page
    assert "Search · Reranker" in page and "Detector" not in page
    assert reverse("manage:managed-api-price-edit", args=[price.pk]) not in page


def test_a_member_cannot_change_prices(client, org, price):
    client.force_login(org.member)

    assert client.get(reverse("manage:managed-api-price-create")).status_code == 403
    assert client.post(reverse("manage:managed-api-price-create"), _valid(org)).status_code == 403
    assert (
        client.post(reverse("manage:managed-api-price-edit", args=[price.pk]), _valid(org)).status_code == 403
    )
    assert client.post(reverse("manage:managed-api-price-delete", args=[price.pk])).status_code == 403

    assert list(ManagedApiPrice.objects.values_list("model_name", flat=True)) == ["gpt-4o-mini"]


def test_a_leader_adds_a_price_compared_with_workloads_of_any_team(client, org):
    client.force_login(org.leader)
    assert_has_csrf_token(client.get(reverse("manage:managed-api-price-create")))

    response = client.post(
        reverse("manage:managed-api-price-create"),
        _valid(org, compared_workloads=[org.reranker.pk, org.detector.pk]),
    )

    assert response.status_code == 302 and response["Location"] == reverse("manage:managed-api-prices")
    price = ManagedApiPrice.objects.get(model_name="claude-haiku")
    assert (
        price.input_price_per_1m_tokens,
        price.output_price_per_1m_tokens,
        price.price_per_1k_requests,
    ) == (
        Decimal("0.80"),
        Decimal("4.00"),
        None,
    )
    assert set(price.compared_workloads.all()) == {org.reranker, org.detector}


def test_a_price_per_request_alone_is_enough(client, org):
    client.force_login(org.staff)

    client.post(
        reverse("manage:managed-api-price-create"),
        _valid(org, input_price_per_1m_tokens="", output_price_per_1m_tokens="", price_per_1k_requests="2.5"),
    )

    assert ManagedApiPrice.objects.get(model_name="claude-haiku").price_per_1k_requests == Decimal("2.5")


def test_a_leader_edits_and_deletes_a_price(client, org, price):
    client.force_login(org.leader)
    assert_has_csrf_token(client.get(reverse("manage:managed-api-price-edit", args=[price.pk])))

    client.post(
        reverse("manage:managed-api-price-edit", args=[price.pk]),
        _valid(org, provider_name="OpenAI", model_name="gpt-4o-mini", input_price_per_1m_tokens="0.12"),
    )
    price.refresh_from_db()
    assert price.input_price_per_1m_tokens == Decimal("0.12")
    assert list(price.compared_workloads.all()) == [org.reranker]

    response = client.post(reverse("manage:managed-api-price-delete", args=[price.pk]))
    assert response.status_code == 302
    assert not ManagedApiPrice.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"input_price_per_1m_tokens": "", "price_per_1k_requests": ""},
            "input_price_per_1m_tokens",
            "Give a price per 1M input tokens or a price per 1k requests.",
        ),
        (
            {"input_price_per_1m_tokens": "", "price_per_1k_requests": "", "output_price_per_1m_tokens": "3"},
            "input_price_per_1m_tokens",
            "Give a price per 1M input tokens or a price per 1k requests.",
        ),
        (
            {"provider_name": "OpenAI", "model_name": "gpt-4o-mini"},
            "model_name",
            "OpenAI gpt-4o-mini already has a price; edit that one instead.",
        ),
        (
            {"price_per_1k_requests": "-1"},
            "price_per_1k_requests",
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"currency": "EURO"}, "currency", "Ensure this value has at most 3 characters (it has 4)."),
        (
            {"compared_workloads": [987654]},
            "compared_workloads",
            "Select a valid choice. 987654 is not one of the available choices.",
        ),
    ],
)
def test_an_invalid_price_is_shown_again_with_the_error_on_its_field(
    client, org, price, change, field, message
):
    client.force_login(org.leader)

    response = client.post(reverse("manage:managed-api-price-create"), _valid(org, **change))

    assert message in field_errors(response, field)
    assert list(ManagedApiPrice.objects.values_list("model_name", flat=True)) == ["gpt-4o-mini"]
