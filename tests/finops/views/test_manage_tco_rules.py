"""The TCO rules page: leaders and staff only; every change queues a reclassification."""

from decimal import Decimal

import pytest
from django.urls import reverse

from finops.models import TcoCategory, TcoRule
from finops.tco_defaults import TCO_RULE_DEFAULTS
from tests.factories import TcoRuleFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect, field_errors

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Inter-region transfer",
    "priority": "5",
    "service_name": "*",
    "charge_description": "*data transfer*",
    "category": TcoCategory.DATA_EGRESS,
    "managed_premium_percent": "0",
    "enabled": "on",
}


@pytest.fixture
def rule():
    return TcoRuleFactory(
        name="Licences", priority=7, service_name="*marketplace*", category=TcoCategory.LICENSING
    )


def _urls(rule) -> list[tuple[str, str]]:
    return [
        ("get", reverse("manage:tco-rules")),
        ("get", reverse("manage:tco-rule-create")),
        ("get", reverse("manage:tco-rule-edit", args=[rule.pk])),
        ("get", reverse("manage:tco-rule-delete", args=[rule.pk])),
        ("post", reverse("manage:tco-rule-delete", args=[rule.pk])),
        ("post", reverse("manage:tco-rules-restore")),
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, rule):
    for method, url in _urls(rule):
        assert_login_redirect(getattr(client, method)(url))


def test_members_get_a_403_and_change_nothing(client, org, rule, reclassifications):
    client.force_login(org.member)

    for method, url in _urls(rule):
        assert getattr(client, method)(url).status_code == 403, url
    assert client.post(reverse("manage:tco-rule-create"), VALID).status_code == 403
    assert (
        client.post(reverse("manage:tco-rule-edit", args=[rule.pk]), {**VALID, "name": "Hacked"}).status_code
        == 403
    )

    assert TcoRule.objects.filter(pk=rule.pk, name="Licences").exists()
    assert not TcoRule.objects.filter(name__in=["Inter-region transfer", "Hacked"]).exists()
    assert reclassifications == []


@pytest.mark.parametrize("who", ["leader", "staff"])
def test_leaders_and_staff_see_the_rules_by_priority(client, org, who):
    TcoRule.objects.all().delete()
    TcoRuleFactory(name="Late", priority=200, service_name="*", category=TcoCategory.OTHER)
    TcoRuleFactory(
        name="SageMaker hosting",
        priority=3,
        service_name="Amazon SageMaker",
        tag_key="team",
        tag_value="ml-*",
        category=TcoCategory.COMPUTE,
        is_gpu=True,
        managed_premium_percent=Decimal("28.55"),
        enabled=False,
    )
    client.force_login(getattr(org, who))

    response = client.get(reverse("manage:tco-rules"))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("SageMaker hosting") < page.index("Late")
    assert "service <code>Amazon SageMaker</code>" in page
    assert "tag key <code>team</code>" in page and "tag value <code>ml-*</code>" in page
    assert "28.55 %" in page and ">GPU<" in page and "disabled" in page
    assert_has_csrf_token(response)  # the restore form


def test_built_in_rules_are_marked(client, org):
    client.force_login(org.leader)

    page = client.get(reverse("manage:tco-rules")).content.decode()

    assert TcoRule.objects.filter(builtin=True).exists()
    assert "built-in" in page


def test_a_leader_adds_a_rule_and_records_are_reclassified_after_commit(
    client, org, reclassifications, django_capture_on_commit_callbacks
):
    client.force_login(org.leader)
    assert_has_csrf_token(client.get(reverse("manage:tco-rule-create")))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("manage:tco-rule-create"), VALID)

    assert response.status_code == 302 and response["Location"] == reverse("manage:tco-rules")
    rule = TcoRule.objects.get(name="Inter-region transfer")
    assert (rule.priority, rule.charge_description, rule.category, rule.builtin) == (
        5,
        "*data transfer*",
        TcoCategory.DATA_EGRESS,
        False,
    )
    assert len(callbacks) == 1 and reclassifications == [((), {})]


def test_a_leader_edits_a_rule(client, org, rule, reclassifications, django_capture_on_commit_callbacks):
    client.force_login(org.leader)
    page = client.get(reverse("manage:tco-rule-edit", args=[rule.pk]))
    assert_has_csrf_token(page)
    assert 'value="*marketplace*"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("manage:tco-rule-edit", args=[rule.pk]),
            {
                **VALID,
                "name": "Marketplace licences",
                "service_name": "*marketplace*",
                "charge_description": "",
                "category": TcoCategory.LICENSING,
                "managed_premium_percent": "12.5",
            },
        )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.managed_premium_percent, rule.charge_description) == (
        "Marketplace licences",
        Decimal("12.50"),
        "",
    )
    assert len(reclassifications) == 1


def test_a_leader_deletes_a_rule_after_confirming(
    client, org, rule, reclassifications, django_capture_on_commit_callbacks
):
    client.force_login(org.leader)
    confirm = client.get(reverse("manage:tco-rule-delete", args=[rule.pk]))
    assert_has_csrf_token(confirm)
    assert TcoRule.objects.filter(pk=rule.pk).exists()  # asking deletes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("manage:tco-rule-delete", args=[rule.pk]))

    assert response.status_code == 302
    assert not TcoRule.objects.filter(pk=rule.pk).exists()
    assert len(reclassifications) == 1


def test_restoring_brings_back_deleted_built_in_rules_only(
    client, org, reclassifications, django_capture_on_commit_callbacks
):
    builtin = TcoRule.objects.filter(builtin=True)
    deleted_name = builtin.first().name
    builtin.filter(name=deleted_name).delete()
    edited = builtin.exclude(name=deleted_name).first()
    TcoRule.objects.filter(pk=edited.pk).update(enabled=False)
    client.force_login(org.staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("manage:tco-rules-restore"))

    assert response.status_code == 302
    assert TcoRule.objects.filter(builtin=True).count() == len(TCO_RULE_DEFAULTS)
    assert TcoRule.objects.filter(builtin=True, name=deleted_name).exists()
    assert TcoRule.objects.get(pk=edited.pk).enabled is False
    assert len(reclassifications) == 1

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("manage:tco-rules-restore"))
    assert TcoRule.objects.filter(builtin=True).count() == len(TCO_RULE_DEFAULTS)
    assert len(reclassifications) == 1  # nothing restored, nothing to reclassify


def test_restoring_needs_a_post(client, org):
    client.force_login(org.leader)

    assert client.get(reverse("manage:tco-rules-restore")).status_code == 405


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"service_name": "", "charge_description": ""}, "provider_name", "Give at least one criterion"),
        ({"service_name": "   ", "charge_description": ""}, "provider_name", "Give at least one criterion"),
        ({"tag_value": "prod"}, "tag_value", "A tag value needs a tag key"),
        ({"managed_premium_percent": "100.01"}, "managed_premium_percent", "less than or equal to 100"),
        ({"managed_premium_percent": "-1"}, "managed_premium_percent", "greater than or equal to 0"),
        ({"managed_premium_percent": "1000"}, "managed_premium_percent", "no more than 3 digits before"),
        ({"is_gpu": "on"}, "is_gpu", "Only compute is GPU instance time"),
        ({"priority": "-1"}, "priority", "greater than or equal to 0"),
        ({"category": "gold_plating"}, "category", "Select a valid choice"),
        ({"name": ""}, "name", "This field is required"),
    ],
)
def test_an_invalid_rule_is_shown_again_with_the_error_on_its_field(
    client, org, rule, reclassifications, django_capture_on_commit_callbacks, change, field, message
):
    client.force_login(org.leader)
    rules_before = set(TcoRule.objects.values_list("pk", "name", "updated_at"))

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(reverse("manage:tco-rule-create"), {**VALID, **change})
        edited = client.post(reverse("manage:tco-rule-edit", args=[rule.pk]), {**VALID, **change})

    for response in (created, edited):
        errors = field_errors(response, field)
        assert any(message in error for error in errors), errors
        assert_has_csrf_token(response)
    assert set(TcoRule.objects.values_list("pk", "name", "updated_at")) == rules_before
    assert reclassifications == []


def test_another_rules_id_that_does_not_exist_is_a_404(client, org):
    client.force_login(org.leader)

    assert client.get(reverse("manage:tco-rule-edit", args=[987654])).status_code == 404
