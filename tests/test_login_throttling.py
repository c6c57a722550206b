"""Password guessing is stopped by django-axes: after AXES_FAILURE_LIMIT wrong passwords in a row
for one user name from one address, that pair is locked out for AXES_COOLOFF_MINUTES, on the
site's log-in page and the admin's alike, and the API gets no session from it."""

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
GUESS = "wrong-guess-3e8a1c"  # distinctive: it must never reach a log line or the database
ATTACKER, COLLEAGUE = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return settings


@pytest.fixture
def user():
    return UserFactory(username="ana", password=PASSWORD)


def log_in(client: Client, username: str, password: str, *, address: str = ATTACKER, path: str = "login"):
    return client.post(reverse(path), {"username": username, "password": password}, REMOTE_ADDR=address)


def guess(client: Client, username: str, times: int, **kwargs) -> None:
    for _ in range(times):
        assert log_in(client, username, GUESS, **kwargs).status_code == 200  # the form again, with its error


def lock_out(client: Client, username: str, settings, **kwargs):
    guess(client, username, settings.AXES_FAILURE_LIMIT - 1, **kwargs)
    response = log_in(client, username, GUESS, **kwargs)
    assert response.status_code == 429
    return response


def text_of(response) -> str:
    return " ".join(response.content.decode().split())


def test_the_right_password_is_refused_once_the_limit_is_reached(limits, user):
    client = Client()
    guess(client, "ana", 2)
    response = log_in(client, "ana", GUESS)

    assert response.status_code == 429
    page = text_of(response)
    assert 'data-testid="locked-out"' in page
    assert "Too many failed log-ins for “ana” from your address (3 in a row)." in page
    assert "Logging in is locked for 15 minutes; every further try starts the wait again." in page
    assert 'name="password"' not in page
    assert log_in(client, "ana", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_below_the_limit_the_right_password_still_works(limits, user):
    client = Client()
    guess(client, "ana", 2)

    response = log_in(client, "ana", PASSWORD)

    assert response.status_code == 302 and response["Location"] == reverse("dashboards:overview")


def test_a_successful_log_in_starts_the_count_again(limits, user):
    client = Client()
    guess(client, "ana", 2)
    assert log_in(client, "ana", PASSWORD).status_code == 302
    client.post(reverse("logout"))

    guess(client, "ana", 2)

    assert log_in(client, "ana", PASSWORD).status_code == 302


def test_the_lock_is_for_one_user_name_from_one_address(limits, user):
    UserFactory(username="bob", password=PASSWORD)
    lock_out(Client(), "ana", limits)

    # ana from her own desk, and another user from the guesser's address, still get in
    assert log_in(Client(), "ana", PASSWORD, address=COLLEAGUE).status_code == 302
    assert log_in(Client(), "bob", PASSWORD).status_code == 302


def test_the_lock_opens_after_the_cool_off(limits, user):
    client = Client()
    lock_out(client, "ana", limits)

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))

    assert log_in(client, "ana", PASSWORD).status_code == 302


def test_unknown_user_names_are_locked_like_real_ones(limits):
    """Otherwise the lockout would tell a guesser which user names exist."""
    client = Client()
    guess(client, "nobody", 2)

    assert log_in(client, "nobody", GUESS).status_code == 429


def test_the_admin_log_in_counts_and_obeys_the_same_lock(limits):
    UserFactory(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    guess(Client(), "root", 2)  # two on the site's page...

    locked = log_in(client, "root", GUESS, path="admin:login")  # ...and the third on the admin's

    assert locked.status_code == 429
    assert log_in(client, "root", PASSWORD, path="admin:login").status_code == 429
    assert log_in(client, "root", PASSWORD).status_code == 429


def test_the_api_gets_no_session_from_a_locked_out_log_in(limits, user):
    """The API's session authentication rides on the site's log-in; a token is not a password
    and cannot be guessed this way."""
    client = Client()
    lock_out(client, "ana", limits)
    log_in(client, "ana", PASSWORD)

    assert client.get(reverse("api:team-list")).status_code == 401


def test_guessed_passwords_reach_neither_the_logs_nor_the_database(limits, user, caplog):
    client = Client()
    with caplog.at_level(logging.DEBUG):
        guess(client, "ana", 2)
        log_in(client, "ana", GUESS)

    assert any("AXES" in record.getMessage() for record in caplog.records), "axes logs the attempts"
    assert GUESS not in caplog.text
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 3
    assert GUESS not in attempt.post_data and GUESS not in attempt.get_data
