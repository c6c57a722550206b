"""The way to the management pages, the CSRF check on every form they post, and the admin."""

import pytest
from django.test import Client
from django.urls import reverse

from finops.models import Benchmark, ChecklistItem, Initiative, ManagedApiPrice, TcoLineItem, TcoRule
from tests.factories import (
    BenchmarkFactory,
    ChecklistItemFactory,
    InitiativeFactory,
    ManagedApiPriceFactory,
    TcoLineItemFactory,
    TcoRuleFactory,
    UserFactory,
)
from tests.finops.views.pages import assert_login_redirect

pytestmark = pytest.mark.django_db


def test_the_navigation_leads_to_the_manage_pages_and_the_new_dashboards(client, org):
    client.force_login(org.member)

    page = client.get(reverse("manage:initiatives")).content.decode()

    assert f'href="{reverse("manage:index")}" aria-current="page">Manage</a>' in page
    for label in ("Hidden costs", "Initiatives", "Checklist"):
        assert f">{label}</a>" in page
    assert 'href="/hidden-costs/"' in page and 'href="/initiatives/"' in page and 'href="/checklist/"' in page


def test_the_manage_index_offers_tco_rules_to_leaders_only(client, org):
    client.force_login(org.member)
    member_page = client.get(reverse("manage:index")).content.decode()
    client.force_login(org.leader)
    leader_page = client.get(reverse("manage:index")).content.decode()

    assert reverse("manage:tco-rules") not in member_page
    assert reverse("manage:tco-rules") in leader_page
    for name in ("tco-line-items", "benchmarks", "managed-api-prices", "initiatives", "checklist"):
        assert reverse(f"manage:{name}") in member_page


def test_the_manage_index_needs_a_login(client):
    assert_login_redirect(client.get(reverse("manage:index")))


def test_every_form_post_needs_its_csrf_token(org):
    rule = TcoRuleFactory()
    item = TcoLineItemFactory(workload=org.reranker)
    run = BenchmarkFactory(workload=org.reranker)
    price = ManagedApiPriceFactory()
    initiative = InitiativeFactory(team=org.search, workloads=[org.reranker])
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.leader)

    for url in (
        reverse("manage:tco-rule-create"),
        reverse("manage:tco-rule-edit", args=[rule.pk]),
        reverse("manage:tco-rule-delete", args=[rule.pk]),
        reverse("manage:tco-rules-restore"),
        reverse("manage:tco-line-item-create"),
        reverse("manage:tco-line-item-delete", args=[item.pk]),
        reverse("manage:benchmark-create"),
        reverse("manage:benchmarks-import"),
        reverse("manage:benchmark-delete", args=[run.pk]),
        reverse("manage:managed-api-price-create"),
        reverse("manage:managed-api-price-delete", args=[price.pk]),
        reverse("manage:initiative-create"),
        reverse("manage:initiative-delete", args=[initiative.pk]),
        reverse("manage:checklist-team-step", args=[org.search.pk, "audit_tco"]),
    ):
        assert client.post(url, {}).status_code == 403, url

    assert all(
        model.objects.filter(pk=obj.pk).exists()
        for model, obj in (
            (TcoRule, rule),
            (TcoLineItem, item),
            (Benchmark, run),
            (ManagedApiPrice, price),
            (Initiative, initiative),
        )
    )
    assert not ChecklistItem.objects.exists()


@pytest.mark.parametrize(
    ("model_name", "make"),
    [
        ("tcorule", lambda org: TcoRuleFactory()),
        ("tcolineitem", lambda org: TcoLineItemFactory(workload=org.reranker)),
        ("benchmark", lambda org: BenchmarkFactory(workload=org.reranker)),
        ("managedapiprice", lambda org: ManagedApiPriceFactory()),
        ("initiative", lambda org: InitiativeFactory(team=org.search, workloads=[org.reranker])),
        ("checklistitem", lambda org: ChecklistItemFactory(team=org.search)),
    ],
)
def test_staff_manage_the_new_models_in_the_admin(client, org, model_name, make):
    obj = make(org)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    for url in (
        reverse(f"admin:finops_{model_name}_changelist"),
        reverse(f"admin:finops_{model_name}_add"),
        reverse(f"admin:finops_{model_name}_change", args=[obj.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_a_rule_changed_in_the_admin_reclassifies_the_records(
    client, org, reclassifications, django_capture_on_commit_callbacks
):
    rule = TcoRuleFactory(name="Licences", service_name="*marketplace*")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    data = {
        "name": "Licences",
        "priority": "100",
        "service_name": "",
        "category": "licensing",
        "managed_premium_percent": "0",
        "enabled": "on",
    }

    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(reverse("admin:finops_tcorule_change", args=[rule.pk]), data)
    assert refused.status_code == 200 and reclassifications == []  # no criterion: shown again

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            reverse("admin:finops_tcorule_change", args=[rule.pk]), {**data, "sku_id": "LIC-*"}
        )
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.sku_id == "LIC-*" and len(reclassifications) == 1
