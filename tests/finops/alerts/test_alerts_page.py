"""The alerts page: a member sees and acts on their teams' alerts and rules only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from finops.models import Alert, AlertRule
from finops.services.alert_detection import alert_rules_ensure_defaults
from tests.finops.alerts.builders import SPIKE_DAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts(team_setup):
    alert_rules_ensure_defaults()
    made = {}
    for key in ("team", "other_team"):
        rule = AlertRule.objects.get(team=team_setup[key], is_default=True)
        made[key] = Alert.objects.create(
            rule=rule, scope_label=rule.scope_label, day=SPIKE_DAY, currency="USD", observed_amount=1900,
            expected_amount=1000, drivers={"services": [{"name": "Amazon Bedrock", "change": "850.00"}], "resources": []},
        )
    return made


def test_a_member_sees_only_their_teams_alerts_and_rules(client, team_setup, alerts):
    client.force_login(team_setup["member"])

    response = client.get(reverse("alerts:list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="alert-{alerts["team"].pk}"' in page
    assert f'id="alert-{alerts["other_team"].pk}"' not in page
    assert "Search: spend spike" in page and "Vision: spend spike" not in page
    assert "Amazon Bedrock +850.00" in page
    assert f'href="{reverse("alerts:list")}" aria-current="page"' in page  # the nav link


def test_a_leader_sees_every_team(client, team_setup, alerts):
    client.force_login(team_setup["leader"])

    page = client.get(reverse("alerts:list")).content.decode()

    assert all(f'id="alert-{alert.pk}"' in page for alert in alerts.values())


def test_acknowledging_then_resolving_records_who(client, team_setup, alerts):
    alert, member = alerts["team"], team_setup["member"]
    client.force_login(member)

    client.post(reverse("alerts:acknowledge", args=[alert.pk]))
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (Alert.State.ACKNOWLEDGED, member)

    response = client.post(reverse("alerts:resolve", args=[alert.pk]))
    alert.refresh_from_db()
    assert response.status_code == 302
    assert (alert.state, alert.resolved_by) == (Alert.State.RESOLVED, member)
    assert f'id="alert-{alert.pk}"' not in client.get(reverse("alerts:list")).content.decode()
    assert f'id="alert-{alert.pk}"' in client.get(reverse("alerts:list") + "?state=resolved").content.decode()


@pytest.mark.parametrize("action", ["alerts:acknowledge", "alerts:resolve"])
def test_another_teams_alert_is_a_404(client, team_setup, alerts, action):
    client.force_login(team_setup["member"])

    response = client.post(reverse(action, args=[alerts["other_team"].pk]))

    assert response.status_code == 404
    alerts["other_team"].refresh_from_db()
    assert alerts["other_team"].state == Alert.State.OPEN


def test_muting_and_unmuting_a_rule(client, team_setup, alerts):
    rule = alerts["team"].rule
    client.force_login(team_setup["member"])

    client.post(reverse("alerts:mute", args=[rule.pk]), {"days": 3})
    rule.refresh_from_db()
    assert rule.muted_until - timezone.now() == pytest.approx(timedelta(days=3), abs=timedelta(minutes=1))

    client.post(reverse("alerts:unmute", args=[rule.pk]))
    rule.refresh_from_db()
    assert rule.muted_until is None
    assert client.post(reverse("alerts:mute", args=[alerts["other_team"].rule.pk])).status_code == 404


def test_unsubscribing_and_subscribing_again_from_the_page(client, team_setup, alerts):
    rule, member = alerts["team"].rule, team_setup["member"]
    client.force_login(member)

    client.post(reverse("alerts:subscription", args=[rule.pk]), {"subscribe": "no"})
    assert rule.unsubscribed.filter(pk=member.pk).exists()

    client.post(reverse("alerts:subscription", args=[rule.pk]), {"subscribe": "yes"})
    assert not rule.unsubscribed.filter(pk=member.pk).exists()


def test_the_page_needs_a_login(client):
    response = client.get(reverse("alerts:list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
