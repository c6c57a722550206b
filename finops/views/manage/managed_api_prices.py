"""Managed model API list prices: global configuration that everyone signed in reads and
leaders and staff change."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from finops.forms.managed_api_prices import ManagedApiPriceForm
from finops.models import ManagedApiPrice
from finops.selectors.access import user_sees_all_teams, workloads_for_user
from finops.views.manage.common import confirm_delete, edit_page, leader_required


def _get_price(pk: int) -> ManagedApiPrice:
    return get_object_or_404(ManagedApiPrice, pk=pk)


@login_required
def managed_api_price_list(request):
    prices = ManagedApiPrice.objects.prefetch_related("compared_workloads__team").order_by(
        "provider_name", "model_name", "id"
    )
    # A leader may compare a price with any team's workload; a member sees only their teams'.
    visible = set(workloads_for_user(request.user).values_list("pk", flat=True))
    rows = [(price, [w for w in price.compared_workloads.all() if w.pk in visible]) for price in prices]
    return render(
        request,
        "manage/managed_api_prices.html",
        {"rows": rows, "can_edit": user_sees_all_teams(request.user)},
    )


@leader_required
def managed_api_price_create(request):
    form = ManagedApiPriceForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_bound and form.is_valid():
        price = form.save()
        messages.success(request, f"Added the price of {price}.")
        return redirect("manage:managed-api-prices")
    return edit_page(
        request,
        form,
        title="New managed API price",
        back=reverse("manage:managed-api-prices"),
        intro="A managed model API's list price, to compare self-hosted unit costs with.",
    )


@leader_required
def managed_api_price_edit(request, pk: int):
    price = _get_price(pk)
    title = f"Managed API price: {price}"
    form = ManagedApiPriceForm(
        request.POST if request.method == "POST" else None, instance=price, user=request.user
    )
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, f"Saved the price of {price}.")
        return redirect("manage:managed-api-prices")
    return edit_page(
        request,
        form,
        title=title,
        back=reverse("manage:managed-api-prices"),
        delete_url=reverse("manage:managed-api-price-delete", args=[price.pk]),
    )


@leader_required
@require_http_methods(["GET", "POST"])
def managed_api_price_delete(request, pk: int):
    return confirm_delete(
        request, _get_price(pk), what="managed API price", back=reverse("manage:managed-api-prices")
    )
