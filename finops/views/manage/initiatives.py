"""Optimization initiatives: a team records its own (another team's is a 404). Their realized
savings are measured from the data on the initiatives dashboard, never typed in here."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from finops.forms.initiatives import InitiativeForm
from finops.models import Initiative
from finops.selectors.access import workloads_for_user
from finops.selectors.initiatives import initiatives_for_user
from finops.views.manage.common import confirm_delete, edit_page


def _get_initiative_for_user(request, pk: int) -> Initiative:
    return get_object_or_404(initiatives_for_user(request.user), pk=pk)


@login_required
def initiative_list(request):
    initiatives = (
        initiatives_for_user(request.user).prefetch_related("workloads__team").order_by("-created_at", "-id")
    )
    # A leader may link another team's workload; a member is shown only their teams'.
    visible = set(workloads_for_user(request.user).values_list("pk", flat=True))
    rows = [
        (initiative, [w for w in initiative.workloads.all() if w.pk in visible]) for initiative in initiatives
    ]
    return render(request, "manage/initiatives.html", {"rows": rows})


@login_required
def initiative_create(request):
    form = InitiativeForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_bound and form.is_valid():
        initiative = form.save()
        messages.success(request, f"Added the initiative “{initiative.title}”.")
        return redirect("manage:initiatives")
    return edit_page(
        request,
        form,
        title="New initiative",
        back=reverse("manage:initiatives"),
        intro="Set the go-live date when the change ships: the saving is measured from that day on.",
    )


@login_required
def initiative_edit(request, pk: int):
    initiative = _get_initiative_for_user(request, pk)
    title = f"Initiative “{initiative.title}”"
    form = InitiativeForm(
        request.POST if request.method == "POST" else None, instance=initiative, user=request.user
    )
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, f"Saved the initiative “{initiative.title}”.")
        return redirect("manage:initiatives")
    return edit_page(
        request,
        form,
        title=title,
        back=reverse("manage:initiatives"),
        delete_url=reverse("manage:initiative-delete", args=[initiative.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def initiative_delete(request, pk: int):
    initiative = _get_initiative_for_user(request, pk)
    return confirm_delete(request, initiative, what="initiative", back=reverse("manage:initiatives"))
