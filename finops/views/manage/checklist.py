"""What each team says about the five checklist steps, for the team as a whole and for each of
its workloads. Anyone who sees a team keeps its checklist; another team's is a 404. An item is
created the first time its step is saved."""

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from finops.forms.checklist import ChecklistItemForm, checklist_owners
from finops.models import ChecklistItem, ChecklistStep, Team, Workload
from finops.selectors.access import visible_teams, workloads_for_user


def _prefix(team: Team, workload: Workload | None, step: str) -> str:
    """Names the form of one (team, workload, step): its field names and its HTML id."""
    return f"check-{team.pk}-{workload.pk if workload else 'team'}-{step}"


def _save_url(team: Team, workload: Workload | None, step: str) -> str:
    if workload is None:
        return reverse("manage:checklist-team-step", args=[team.pk, step])
    return reverse("manage:checklist-workload-step", args=[team.pk, workload.pk, step])


def _get_team_for_user(request, pk: int) -> Team:
    return get_object_or_404(visible_teams(request.user), pk=pk)


def _get_workload_for_user(request, team: Team, pk: int) -> Workload:
    return get_object_or_404(workloads_for_user(request.user), pk=pk, team=team)


@login_required
def checklist(request):
    shown = request.GET.get("team", "")
    selected = _get_team_for_user(request, int(shown)) if shown.isdigit() else None
    return _checklist_page(request, selected=selected)


@login_required
@require_POST
def checklist_item_save(request, team_id: int, step: str, workload_id: int | None = None):
    team = _get_team_for_user(request, team_id)
    workload = _get_workload_for_user(request, team, workload_id) if workload_id is not None else None
    if step not in ChecklistStep.values:
        raise Http404("No such checklist step.")
    item = (
        ChecklistItem.objects.select_related("owner").filter(team=team, workload=workload, step=step).first()
    )
    form = ChecklistItemForm(
        request.POST,
        instance=item or ChecklistItem(team=team, workload=workload, step=step),
        owners=checklist_owners([team])[team.pk],
        prefix=_prefix(team, workload, step),
    )
    if not form.is_valid():
        return _checklist_page(request, selected=team, bound=form)
    form.save()
    messages.success(request, f"Saved “{ChecklistStep(step).label}” for {workload or team}.")
    # Back to the same view of the page: the one team it showed, or every team.
    query = f"?team={team.pk}" if request.POST.get("shown_team") == str(team.pk) else ""
    return redirect(f"{reverse('manage:checklist')}{query}#{_prefix(team, workload, step)}")


def _checklist_page(request, *, selected: Team | None, bound: ChecklistItemForm | None = None):
    all_teams = list(visible_teams(request.user).order_by("name"))
    teams = [selected] if selected is not None else all_teams
    workloads = defaultdict(list)
    for workload in workloads_for_user(request.user).filter(team__in=teams).order_by("name"):
        workloads[workload.team_id].append(workload)
    items = {
        (item.team_id, item.workload_id, item.step): item
        for item in ChecklistItem.objects.filter(team__in=teams).select_related("owner")
    }
    owners = checklist_owners(teams)
    sections = [
        (
            team,
            [
                (workload, _step_rows(team, workload, items=items, owners=owners[team.pk], bound=bound))
                for workload in [None, *workloads[team.pk]]
            ],
        )
        for team in teams
    ]
    context = {"sections": sections, "teams": all_teams, "selected": selected}
    return render(request, "manage/checklist.html", context)


def _step_rows(team: Team, workload: Workload | None, *, items: dict, owners: list, bound) -> list[dict]:
    """The five steps of one subject, each with its form: the one just posted if it is this
    step's (to show its errors), else one filled from the saved item, if any."""
    rows = []
    for step in ChecklistStep:
        prefix = _prefix(team, workload, step.value)
        item = items.get((team.pk, workload.pk if workload else None, step.value))
        if bound is not None and bound.prefix == prefix:
            form = bound
        else:
            subject = item or ChecklistItem(team=team, workload=workload, step=step.value)
            form = ChecklistItemForm(instance=subject, owners=owners, prefix=prefix)
        action = _save_url(team, workload, step.value)
        rows.append({"step": step, "item": item, "form": form, "action": action})
    return rows
