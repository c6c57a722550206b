"""The alerts page: spikes and rules the user may see, and the actions on them. Every view
scopes through one helper per object, so another team's alert or rule is a 404."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from finops.models import Alert, AlertRule
from finops.selectors.alerts import alert_rules_for_user, alerts_for_user
from finops.services.alerts import (
    alert_acknowledge,
    alert_resolve,
    alert_rule_mute,
    alert_rule_subscribe,
    alert_rule_unmute,
    alert_rule_unsubscribe,
    unsubscribe_token_read,
)

PAGE_ALERTS = 200
FILTERS = {"active": "Open and acknowledged", **dict(Alert.State.choices), "all": "All"}


class MuteForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=365, initial=7)


@login_required
def alert_list(request):
    state = request.GET.get("state", "active")
    if state not in FILTERS:
        state = "active"
    alerts = alerts_for_user(request.user)
    if state == "active":
        alerts = alerts.exclude(state=Alert.State.RESOLVED)
    elif state != "all":
        alerts = alerts.filter(state=state)
    rules = alert_rules_for_user(request.user).prefetch_related("unsubscribed")
    context = {
        "alerts": alerts[:PAGE_ALERTS],
        "rules": [(rule, request.user not in rule.unsubscribed.all()) for rule in rules],
        "state": state,
        "filters": FILTERS,
        "now": timezone.now(),
        "mute_form": MuteForm(),
    }
    return render(request, "alerts/list.html", context)


def _get_alert_for_user(request, pk: int) -> Alert:
    return get_object_or_404(alerts_for_user(request.user), pk=pk)


def _get_rule_for_user(request, pk: int) -> AlertRule:
    return get_object_or_404(alert_rules_for_user(request.user), pk=pk)


def _back_to(alert: Alert):
    return redirect(reverse("alerts:list") + f"#alert-{alert.pk}")


@login_required
@require_POST
def acknowledge(request, pk: int):
    alert = alert_acknowledge(alert=_get_alert_for_user(request, pk), user=request.user)
    messages.success(request, f"Acknowledged the spike in {alert.scope_label} on {alert.day:%Y-%m-%d}.")
    return _back_to(alert)


@login_required
@require_POST
def resolve(request, pk: int):
    alert = alert_resolve(alert=_get_alert_for_user(request, pk), user=request.user)
    messages.success(request, f"Resolved the spike in {alert.scope_label} on {alert.day:%Y-%m-%d}.")
    return _back_to(alert)


@login_required
@require_POST
def mute(request, pk: int):
    rule = _get_rule_for_user(request, pk)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Mute for 1 to 365 days.")
        return redirect("alerts:list")
    alert_rule_mute(rule=rule, until=timezone.now() + timedelta(days=form.cleaned_data["days"]))
    messages.success(request, f"Muted “{rule.name}” for {form.cleaned_data['days']} days: alerts are recorded, nobody is mailed.")
    return redirect("alerts:list")


@login_required
@require_POST
def unmute(request, pk: int):
    rule = alert_rule_unmute(rule=_get_rule_for_user(request, pk))
    messages.success(request, f"“{rule.name}” mails again.")
    return redirect("alerts:list")


@login_required
@require_POST
def subscription(request, pk: int):
    rule = _get_rule_for_user(request, pk)
    if request.POST.get("subscribe") == "yes":
        alert_rule_subscribe(rule=rule, user=request.user)
        messages.success(request, f"You will be mailed about “{rule.name}”.")
    else:
        alert_rule_unsubscribe(rule=rule, user=request.user)
        messages.success(request, f"You will no longer be mailed about “{rule.name}”.")
    return redirect("alerts:list")


@csrf_exempt  # the signed token is the credential; mail clients POST here for one-click unsubscribe
def unsubscribe(request, token: str):
    """The link in every alert e-mail. GET asks (link scanners must not unsubscribe anyone),
    POST does it, without a login."""
    found = unsubscribe_token_read(token)
    if found is None:
        return render(request, "alerts/unsubscribe.html", {"invalid": True}, status=404)
    rule, user = found
    done = request.method == "POST"
    if done:
        alert_rule_unsubscribe(rule=rule, user=user)
    return render(request, "alerts/unsubscribe.html", {"rule": rule, "subscriber": user, "done": done})
