"""One page per workload and per team, gathering the other pages' figures for one subject.
Another team's workload or team is a 404, like every other object."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from dashboards.charts import figure_payload
from dashboards.charts.spend import stacked_spend_figure
from dashboards.charts.tco import tco_treemap_figure, tco_waterfall_figure
from dashboards.charts.unit_costs import unit_cost_figure
from dashboards.forms import DashboardFilterForm
from dashboards.views.common import invalid_page, page_context
from dashboards.views.initiatives import _row as initiative_row
from dashboards.views.checklist import evidence_link
from dashboards.views.spend import FIGURE_AMOUNTS
from finops.selectors.access import visible_teams, workloads_for_user
from finops.selectors.benchmarks import cheapest_benchmark
from finops.selectors.build_vs_buy import build_vs_buy
from finops.selectors.checklist import checklist_for_team, checklist_for_workload
from finops.selectors.gpu import idle_waste_by_workload, right_sizing_suggestions
from finops.selectors.initiatives import initiative_results, initiatives_in_scope
from finops.selectors.spend import SpendFilter, spend_aggregate, spend_totals_by_currency
from finops.selectors.tco import tco_breakdown, tco_totals, tco_waterfall
from finops.selectors.unit_costs import unit_costs_daily


def _period(request, template):
    form = DashboardFilterForm(request.GET, user=request.user)
    return form, (invalid_page(request, form, template) if not form.is_valid() else None)


def _csv(name: str, **query) -> str:
    return reverse(f"dashboards:{name}") + "?" + urlencode(query)


def _figures(charts):
    return [dict(chart, figure=figure_payload(chart["figure"])) for chart in charts]


def _initiatives(user, spend_filter, **scope):
    initiatives = list(initiatives_in_scope(user=user, **scope))
    results = initiative_results(user=user, initiatives=initiatives, as_of=spend_filter.end)
    return [initiative_row(results[i.pk]) for i in initiatives]


def _checklist(entries):
    return [{"entry": e, "link": evidence_link(e.evidence.subject) if e.evidence else ""} for e in entries]


@login_required
def workload_page(request, pk: int):
    workload = get_object_or_404(workloads_for_user(request.user), pk=pk)
    form, invalid = _period(request, "dashboards/workload.html")
    if invalid:
        return invalid
    data, user = form.cleaned_data, request.user
    spend_filter = SpendFilter(start=data["start"], end=data["end"], team=workload.team, workload=workload)
    spend = spend_aggregate(user=user, spend_filter=spend_filter, group_by="service", granularity="day", amounts=FIGURE_AMOUNTS)
    idle_waste = idle_waste_by_workload(user=user, spend_filter=spend_filter)
    breakdown = tco_breakdown(user=user, spend_filter=spend_filter, idle_waste=idle_waste)
    waterfalls = tco_waterfall(user=user, spend_filter=spend_filter, breakdown=breakdown)
    unit_rows = unit_costs_daily(user=user, spend_filter=spend_filter)
    charts = []
    for currency in sorted({row["billing_currency"] for row in spend}):
        charts.append({"title": "Daily spend by service", "currency": currency, "figure_id": f"spend-{currency.lower()}-figure",
                       "csv": _csv("spend-csv", start=data["start"], end=data["end"], workload=workload.pk, group_by="service"),
                       "figure": stacked_spend_figure([r for r in spend if r["billing_currency"] == currency], currency=currency,
                                                      start=data["start"], end=data["end"], granularity="day", group_label="Service")})
    for currency, bars in waterfalls.items():
        charts.append({"title": "From the GPU line to the full TCO", "currency": currency,
                       "figure_id": f"waterfall-{currency.lower()}-figure", "figure": tco_waterfall_figure(bars, currency=currency),
                       "csv": _csv("hidden-costs-waterfall-csv", start=data["start"], end=data["end"], workload=workload.pk)})
    metric = "cost_per_1m_tokens" if workload.inference_unit == "token" else "cost_per_1k_requests"
    title = "Cost per 1M tokens" if metric == "cost_per_1m_tokens" else "Cost per 1,000 requests"
    for currency in sorted({r["billing_currency"] for r in unit_rows if r[metric] is not None}):
        charts.append({"title": title, "currency": currency, "figure_id": f"unit-{currency.lower()}-figure",
                       "csv": _csv("unit-costs-csv", start=data["start"], end=data["end"], workload=workload.pk),
                       "figure": unit_cost_figure([r for r in unit_rows if r["billing_currency"] == currency],
                                                  metric=metric, currency=currency, title=title)})
    context = page_context(request, form) | {
        "workload": workload,
        "totals": spend_totals_by_currency(user=user, spend_filter=spend_filter),
        "tco_totals": tco_totals(user=user, spend_filter=spend_filter, breakdown=breakdown),
        "charts": _figures(charts),
        "idle_waste": idle_waste,
        "suggestions": right_sizing_suggestions(user=user, spend_filter=spend_filter, idle_waste=idle_waste),
        "benchmark": cheapest_benchmark(workload=workload),
        "build_vs_buy": build_vs_buy(user=user, workload=workload, start=data["start"], end=data["end"]),
        "initiatives": _initiatives(user, spend_filter, workload=workload),
        "checklist": _checklist(checklist_for_workload(user=user, workload=workload, as_of=data["end"])),
    }
    return render(request, "dashboards/workload.html", context)


@login_required
def team_page(request, pk: int):
    team = get_object_or_404(visible_teams(request.user), pk=pk)
    form, invalid = _period(request, "dashboards/team.html")
    if invalid:
        return invalid
    data, user = form.cleaned_data, request.user
    spend_filter = SpendFilter(start=data["start"], end=data["end"], team=team)
    spend = spend_aggregate(user=user, spend_filter=spend_filter, group_by="workload", granularity="day", amounts=FIGURE_AMOUNTS)
    breakdown = tco_breakdown(user=user, spend_filter=spend_filter)
    charts = []
    for currency in sorted({row["billing_currency"] for row in spend}):
        charts.append({"title": "Daily spend by workload", "currency": currency, "figure_id": f"spend-{currency.lower()}-figure",
                       "csv": _csv("spend-csv", start=data["start"], end=data["end"], team=team.pk, group_by="workload"),
                       "figure": stacked_spend_figure([r for r in spend if r["billing_currency"] == currency], currency=currency,
                                                      start=data["start"], end=data["end"], granularity="day", group_label="Workload")})
    for currency in sorted({row["billing_currency"] for row in breakdown}):
        charts.append({"title": "Total cost of ownership by workload and category", "currency": currency,
                       "figure_id": f"treemap-{currency.lower()}-figure",
                       "csv": _csv("hidden-costs-csv", start=data["start"], end=data["end"], team=team.pk),
                       "figure": tco_treemap_figure([r for r in breakdown if r["billing_currency"] == currency], currency=currency)})
    context = page_context(request, form) | {
        "team": team,
        "workloads": team.workloads.order_by("name"),
        "totals": spend_totals_by_currency(user=user, spend_filter=spend_filter),
        "tco_totals": tco_totals(user=user, spend_filter=spend_filter, breakdown=breakdown),
        "charts": _figures(charts),
        "initiatives": _initiatives(user, spend_filter, team=team),
        "checklist": _checklist(checklist_for_team(user=user, team=team, as_of=data["end"])),
    }
    return render(request, "dashboards/team.html", context)
