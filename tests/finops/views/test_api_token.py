import pytest
from rest_framework.authtoken.models import Token

from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_user_creates_a_token_sees_it_once_and_it_authenticates_the_api(client):
    user = MembershipFactory().user
    client.force_login(user)

    created = client.post("/accounts/api-token/create")
    key = created.context["new_key"]
    again = client.get("/accounts/api-token/")

    assert key and key.encode() in created.content
    assert key.encode() not in again.content and again.context["token"] is not None
    client.logout()
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_replacing_a_token_stops_the_old_one_and_revoking_stops_all(client):
    user = MembershipFactory().user
    client.force_login(user)
    old = client.post("/accounts/api-token/create").context["new_key"]
    new = client.post("/accounts/api-token/create").context["new_key"]

    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    client.post("/accounts/api-token/revoke")
    assert not Token.objects.filter(user=user).exists()
    client.logout()
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 401


def test_token_pages_need_a_login_and_changes_need_a_post(client):
    assert client.get("/accounts/api-token/").status_code == 302
    assert client.post("/accounts/api-token/create").status_code == 302
    client.force_login(MembershipFactory().user)
    assert client.get("/accounts/api-token/create").status_code == 405
    assert not Token.objects.exists()
