"""Costs that are not on the cloud bill. Team data: a member keeps their teams' items,
leaders and staff every team's; another team's item is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from finops.forms.tco_line_items import TcoLineItemForm
from finops.models import TcoLineItem
from finops.selectors.access import visible_teams
from finops.views.manage.common import confirm_delete, edit_page


def _line_items_for_user(user) -> QuerySet[TcoLineItem]:
    return TcoLineItem.objects.filter(team__in=visible_teams(user)).select_related(
        "team", "workload", "created_by"
    )


def _get_line_item_for_user(request, pk: int) -> TcoLineItem:
    return get_object_or_404(_line_items_for_user(request.user), pk=pk)


@login_required
def tco_line_item_list(request):
    items = _line_items_for_user(request.user).order_by("team__name", "start_date", "id")
    return render(request, "manage/tco_line_items.html", {"items": items})


@login_required
def tco_line_item_create(request):
    form = TcoLineItemForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_bound and form.is_valid():
        form.instance.created_by = request.user
        item = form.save()
        messages.success(request, f"Added “{item.description}” to {item.team}.")
        return redirect("manage:tco-line-items")
    return edit_page(
        request,
        form,
        title="New cost line item",
        back=reverse("manage:tco-line-items"),
        intro="A cost that is not on the cloud bill: a licence, an MLOps tool, engineer time.",
    )


@login_required
def tco_line_item_edit(request, pk: int):
    item = _get_line_item_for_user(request, pk)
    title = f"Cost line item “{item.description}”"
    form = TcoLineItemForm(
        request.POST if request.method == "POST" else None, instance=item, user=request.user
    )
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, f"Saved “{item.description}”.")
        return redirect("manage:tco-line-items")
    return edit_page(
        request,
        form,
        title=title,
        back=reverse("manage:tco-line-items"),
        delete_url=reverse("manage:tco-line-item-delete", args=[item.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def tco_line_item_delete(request, pk: int):
    item = _get_line_item_for_user(request, pk)
    return confirm_delete(request, item, what="cost line item", back=reverse("manage:tco-line-items"))
