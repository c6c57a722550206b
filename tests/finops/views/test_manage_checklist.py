"""The checklist page: what each team says about the five steps, for the team and each of its
workloads; an item is created on its first save and updated after that."""

import pytest
from django.urls import reverse

from finops.models import ChecklistItem, ChecklistStep
from tests.factories import ChecklistItemFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect

pytestmark = pytest.mark.django_db


def _team_step(team, step=ChecklistStep.AUDIT_TCO) -> str:
    return reverse("manage:checklist-team-step", args=[team.pk, step])


def _workload_step(workload, step=ChecklistStep.BENCHMARK_MODELS) -> str:
    return reverse("manage:checklist-workload-step", args=[workload.team_id, workload.pk, step])


def _data(prefix: str, **values) -> dict:
    fields = {"status": "in_progress", "owner": "", "notes": "", "evidence_url": "", **values}
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def test_anonymous_visitors_are_sent_to_log_in(client, org):
    assert_login_redirect(client.get(reverse("manage:checklist")))
    prefix = f"check-{org.search.pk}-team-audit_tco"
    assert_login_redirect(client.post(_team_step(org.search), _data(prefix)))
    assert not ChecklistItem.objects.exists()


def test_a_member_sees_the_five_steps_for_their_team_and_its_workloads(client, org):
    ChecklistItemFactory(team=org.search, step=ChecklistStep.AUDIT_TCO, notes="Tagged every bucket")
    ChecklistItemFactory(team=org.vision, step=ChecklistStep.AUDIT_TCO, notes="Vision secret")
    client.force_login(org.member)

    response = client.get(reverse("manage:checklist"))

    assert_has_csrf_token(response)
    page = response.content.decode()
    assert "Search" in page and "Reranker" in page and "The team as a whole" in page
    assert "Vision" not in page and "Detector" not in page and "Vision secret" not in page
    assert "Tagged every bucket" in page
    for step in ChecklistStep:
        assert page.count(step.label) == 2  # the team, and its one workload
    # One form per (subject, step), each with its own CSRF token.
    assert page.count('name="csrfmiddlewaretoken"') == 2 * 5 + 1  # + the log-out form
    assert f'action="{_workload_step(org.reranker)}"' in page


def test_a_leader_sees_every_team_and_can_show_one(client, org):
    client.force_login(org.leader)

    everyone = client.get(reverse("manage:checklist")).content.decode()
    vision_only = client.get(reverse("manage:checklist"), {"team": org.vision.pk}).content.decode()

    assert "Reranker" in everyone and "Detector" in everyone
    assert "Detector" in vision_only and "Reranker" not in vision_only


def test_a_member_cannot_show_another_team(client, org):
    client.force_login(org.member)

    assert client.get(reverse("manage:checklist"), {"team": org.vision.pk}).status_code == 404


def test_saving_a_step_creates_its_item_then_updates_the_same_row(client, org):
    client.force_login(org.member)
    prefix = f"check-{org.search.pk}-team-audit_tco"

    first = client.post(_team_step(org.search), _data(prefix, owner=org.member.pk, notes="Started"))
    second = client.post(
        _team_step(org.search),
        _data(
            prefix,
            status="done",
            owner=org.member.pk,
            notes="All spend classified",
            evidence_url="https://wiki.example.com/tco-audit",
        ),
    )

    assert first.status_code == second.status_code == 302
    assert second["Location"] == f"{reverse('manage:checklist')}#{prefix}"
    item = ChecklistItem.objects.get()
    assert (item.team, item.workload, item.step, item.status, item.owner, item.notes, item.evidence_url) == (
        org.search,
        None,
        ChecklistStep.AUDIT_TCO,
        "done",
        org.member,
        "All spend classified",
        "https://wiki.example.com/tco-audit",
    )


def test_a_workload_step_is_its_own_item(client, org):
    ChecklistItemFactory(team=org.search, step=ChecklistStep.BENCHMARK_MODELS, status="done")
    client.force_login(org.member)
    prefix = f"check-{org.search.pk}-{org.reranker.pk}-benchmark_models"

    client.post(_workload_step(org.reranker), {**_data(prefix), "shown_team": str(org.search.pk)})
    response = client.post(
        _workload_step(org.reranker), {**_data(prefix, status="done"), "shown_team": str(org.search.pk)}
    )

    assert response["Location"] == f"{reverse('manage:checklist')}?team={org.search.pk}#{prefix}"
    assert ChecklistItem.objects.count() == 2
    item = ChecklistItem.objects.get(workload=org.reranker)
    assert (item.team, item.step, item.status) == (org.search, ChecklistStep.BENCHMARK_MODELS, "done")


def test_another_teams_checklist_is_a_404(client, org):
    client.force_login(org.member)
    vision_prefix = f"check-{org.vision.pk}-team-audit_tco"

    assert client.post(_team_step(org.vision), _data(vision_prefix)).status_code == 404
    assert client.post(_workload_step(org.detector), _data("x")).status_code == 404
    # A visible team's id with another team's workload is no subject either.
    wrong_pair = reverse("manage:checklist-workload-step", args=[org.search.pk, org.detector.pk, "audit_tco"])
    assert client.post(wrong_pair, _data("x")).status_code == 404
    assert client.post(_team_step(org.search, "skip_the_audit"), _data("x")).status_code == 404
    assert not ChecklistItem.objects.exists()


def test_saving_needs_a_post(client, org):
    client.force_login(org.member)

    assert client.get(_team_step(org.search)).status_code == 405


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"evidence_url": "not a url"}, "evidence_url", "Enter a valid URL."),
        ({"evidence_url": "javascript:alert(1)"}, "evidence_url", "Enter a valid URL."),
        (
            {"status": "sort_of"},
            "status",
            "Select a valid choice. sort_of is not one of the available choices.",
        ),
    ],
)
def test_an_invalid_step_is_shown_again_with_the_error_beside_its_field(client, org, values, field, message):
    existing = ChecklistItemFactory(team=org.search, step=ChecklistStep.AUDIT_TCO, notes="Keep me")
    client.force_login(org.member)
    prefix = f"check-{org.search.pk}-team-audit_tco"

    response = client.post(_team_step(org.search), _data(prefix, notes="Changed", **values))

    assert response.status_code == 200
    form = next(
        row["form"]
        for _team, subjects in response.context["sections"]
        for _w, rows in subjects
        for row in rows
        if row["form"].prefix == prefix
    )
    assert form.errors[field] == [message]
    assert f'<p class="error" role="alert">{message}</p>' in response.content.decode()
    assert_has_csrf_token(response)
    existing.refresh_from_db()
    assert existing.notes == "Keep me" and ChecklistItem.objects.count() == 1


def test_an_owner_who_cannot_see_the_team_is_refused(client, org):
    client.force_login(org.member)
    prefix = f"check-{org.search.pk}-team-audit_tco"

    response = client.post(_team_step(org.search), _data(prefix, owner=org.outsider.pk))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ChecklistItem.objects.exists()


def test_leaders_and_staff_may_own_any_teams_step(client, org):
    client.force_login(org.member)
    prefix = f"check-{org.search.pk}-team-audit_tco"

    client.post(_team_step(org.search), _data(prefix, owner=org.staff.pk))

    assert ChecklistItem.objects.get().owner == org.staff
