"""The signed unsubscribe link in every alert e-mail: no login, one user, one rule."""

from datetime import timedelta

import pytest
from django.urls import reverse

from finops.models import Alert, AlertRule
from finops.services.alert_detection import alert_rules_ensure_defaults, spikes_detect
from finops.services.alerts import unsubscribe_token
from tests.finops.alerts.builders import SPIKE_DAY, history

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(team_setup) -> AlertRule:
    alert_rules_ensure_defaults()
    return AlertRule.objects.get(team=team_setup["team"], is_default=True)


def link(rule, user) -> str:
    return reverse("alerts:unsubscribe", args=[unsubscribe_token(rule_id=rule.pk, user_id=user.pk)])


def test_following_the_link_asks_before_unsubscribing(client, rule, team_setup):
    response = client.get(link(rule, team_setup["member"]))

    assert response.status_code == 200
    assert b"Unsubscribe?" in response.content
    assert not rule.unsubscribed.exists()


def test_confirming_unsubscribes_that_user_from_that_rule_only(client, rule, team_setup):
    other = AlertRule.objects.create(name="Budget", team=team_setup["team"], method="daily_budget",
                                     threshold=1000, currency="USD")

    response = client.post(link(rule, team_setup["member"]))

    assert response.status_code == 200
    assert b"Unsubscribed" in response.content
    assert list(rule.unsubscribed.all()) == [team_setup["member"]]
    assert not other.unsubscribed.exists()


def test_one_click_unsubscribe_from_a_mail_client_needs_no_csrf_token(rule, team_setup):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        link(rule, team_setup["member"]), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    assert rule.unsubscribed.filter(pk=team_setup["member"].pk).exists()


def test_a_forged_link_does_nothing(client, rule, team_setup):
    forged = link(rule, team_setup["member"])[:-3] + "abc"

    response = client.post(forged)

    assert response.status_code == 404
    assert not rule.unsubscribed.exists()


def test_an_unsubscribed_user_is_not_mailed_again(client, rule, team_setup, django_capture_on_commit_callbacks):
    history(team=team_setup["team"], workload=team_setup["workload"], spikes={SPIKE_DAY: 1.8})
    client.post(link(rule, team_setup["member"]))

    with django_capture_on_commit_callbacks(execute=True):
        spikes_detect(start=SPIKE_DAY, end=SPIKE_DAY, today=SPIKE_DAY + timedelta(days=1))

    assert Alert.objects.get().notification_note == "not mailed: the rule has no recipients"
