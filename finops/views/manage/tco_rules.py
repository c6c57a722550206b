"""TCO classification rules: global configuration, so leaders and staff only. Every change
queues the reclassification of the cost records once it is committed."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from finops.forms.tco_rules import CRITERION_LABELS, TcoRuleForm
from finops.models import TcoRule
from finops.services.tco import tco_rules_restore_defaults
from finops.tasks import reclassify_cost_records
from finops.views.manage.common import confirm_delete, edit_page, leader_required

RECLASSIFYING = "Cost records are being classified again; the hidden-cost figures follow in a few minutes."


def _reclassify_after_commit() -> None:
    # Queued, not run here: one rule can move any of millions of records. A broker that is
    # down is logged, not raised: the rule is saved either way.
    transaction.on_commit(lambda: reclassify_cost_records.delay(), robust=True)


def _get_rule(pk: int) -> TcoRule:
    return get_object_or_404(TcoRule, pk=pk)


def _criteria(rule: TcoRule) -> list[tuple[str, str]]:
    shown = [
        (CRITERION_LABELS[name], getattr(rule, name)) for name in TcoRule.CRITERIA if getattr(rule, name)
    ]
    if rule.tag_value:
        shown.append(("tag value", rule.tag_value))
    return shown


@leader_required
def tco_rule_list(request):
    rules = TcoRule.objects.order_by("priority", "id")
    return render(request, "manage/tco_rules.html", {"rules": [(rule, _criteria(rule)) for rule in rules]})


@leader_required
def tco_rule_create(request):
    form = TcoRuleForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        rule = form.save()
        _reclassify_after_commit()
        messages.success(request, f"Added the rule “{rule.name}”. {RECLASSIFYING}")
        return redirect("manage:tco-rules")
    return edit_page(request, form, title="New TCO rule", back=reverse("manage:tco-rules"))


@leader_required
def tco_rule_edit(request, pk: int):
    rule = _get_rule(pk)
    title = f"TCO rule “{rule.name}”"
    form = TcoRuleForm(request.POST if request.method == "POST" else None, instance=rule)
    if form.is_bound and form.is_valid():
        form.save()
        _reclassify_after_commit()
        messages.success(request, f"Saved the rule “{rule.name}”. {RECLASSIFYING}")
        return redirect("manage:tco-rules")
    return edit_page(
        request,
        form,
        title=title,
        back=reverse("manage:tco-rules"),
        delete_url=reverse("manage:tco-rule-delete", args=[rule.pk]),
        intro="A built-in rule: disable it rather than delete it, or restore it from the rules page."
        if rule.builtin
        else "",
    )


@leader_required
@require_http_methods(["GET", "POST"])
def tco_rule_delete(request, pk: int):
    return confirm_delete(
        request,
        _get_rule(pk),
        what="TCO rule",
        back=reverse("manage:tco-rules"),
        on_delete=_reclassify_after_commit,
    )


@leader_required
@require_POST
def tco_rules_restore(request):
    restored = tco_rules_restore_defaults()
    if restored:
        _reclassify_after_commit()
        messages.success(request, f"Restored {restored} built-in rule(s). {RECLASSIFYING}")
    else:
        messages.success(request, "Every built-in rule is already there; edited ones were left as they are.")
    return redirect("manage:tco-rules")
