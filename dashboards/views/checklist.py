import calendar
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse

from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.models import ChecklistStep
from finops.selectors.access import visible_teams, workloads_for_user
from finops.selectors.checklist import checklists


def evidence_link(subject: tuple[str, object]) -> str:
    kind, value = subject
    if kind == "month":
        end = value.replace(day=calendar.monthrange(value.year, value.month)[1])
        return reverse("dashboards:hidden-costs") + "?" + urlencode({"start": value, "end": end})
    if kind == "initiative":
        return reverse("dashboards:initiatives") + f"#initiative-{value}"
    if kind == "benchmark":
        return reverse("manage:benchmarks")
    return reverse("dashboards:unit-costs") + "?" + urlencode({"workload": value})


def _subjects(request, form):
    """(team, team entries, [(workload, entries)]) for every team the filters select."""
    data = form.cleaned_data
    teams = visible_teams(request.user).order_by("name")
    workloads = workloads_for_user(request.user).select_related("team").order_by("name")
    if data.get("workload"):
        teams, workloads = teams.filter(pk=data["workload"].team_id), workloads.filter(pk=data["workload"].pk)
    elif data.get("team"):
        teams, workloads = teams.filter(pk=data["team"].pk), workloads.filter(team=data["team"])
    teams, workloads = list(teams), list(workloads)
    entries = checklists(user=request.user, teams=teams, workloads=workloads, as_of=data["end"])
    by_team = {}
    for workload in workloads:
        by_team.setdefault(workload.team_id, []).append((workload, _linked(entries[("workload", workload.pk)])))
    return [(team, _linked(entries[("team", team.pk)]), by_team.get(team.pk, [])) for team in teams]


def _linked(entries):
    return [
        {"entry": entry, "link": evidence_link(entry.evidence.subject) if entry.evidence else ""}
        for entry in entries
    ]


@filtered("dashboards/checklist.html")
def checklist(request, form):
    subjects = _subjects(request, form)
    context = page_context(request, form) | {
        "steps": ChecklistStep.choices,
        "subjects": subjects,
        "done": sum(1 for _, entries, _ in subjects for e in entries if e["entry"].status == "done"),
        "total": len(subjects) * len(ChecklistStep.choices),
    }
    return render(request, "dashboards/checklist.html", context)


@filtered("dashboards/checklist.html")
def checklist_csv(request, form):
    rows = []
    for team, team_entries, workloads in _subjects(request, form):
        for subject, entries in [("", team_entries), *[(w.name, e) for w, e in workloads]]:
            for linked in entries:
                entry = linked["entry"]
                rows.append([
                    team.name, subject, entry.step, entry.status, entry.proven,
                    entry.evidence.summary if entry.evidence else "",
                    entry.item.owner.get_username() if entry.item and entry.item.owner else "",
                    entry.item.notes if entry.item else "",
                ])
    return csv_response(
        filename=f"checklist-{form.cleaned_data['end']}.csv",
        header=["team", "workload", "step", "status", "proven_by_data", "evidence", "owner", "notes"],
        rows=rows,
    )
