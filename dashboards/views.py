from functools import wraps
from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.gpu import gpu_hours_figure, utilization_heatmap_figure
from dashboards.charts.spend import UNALLOCATED, stacked_spend_figure
from dashboards.charts.unit_costs import unit_cost_figure
from dashboards.csv_export import csv_response
from dashboards.forms import PRESETS, DashboardFilterForm, SpendViewForm
from finops.selectors.gpu import (
    gpu_hours_by_workload,
    idle_waste_by_workload,
    right_sizing_suggestions,
    utilization_heatmap,
)
from finops.selectors.spend import spend_aggregate, spend_dimensions, spend_totals_by_currency
from finops.selectors.unit_costs import unit_costs_daily

def filtered(template: str, form_class=DashboardFilterForm):
    """Sign-in required, the filter bar parsed from the query string, and a 400 page that
    says what is wrong when it does not parse; the view gets the valid form."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request):
            form = form_class(request.GET, user=request.user)
            if not form.is_valid():
                return _invalid(request, form, template)
            return view(request, form)

        return wrapper

    return decorate


GROUP_LABELS = {"team": "Team", "workload": "Workload", "service": "Service", "provider": "Provider",
                "service_category": "Service category", "charge_category": "Charge category"}


@filtered("dashboards/overview.html")
def overview(request, form):
    spend_filter = form.spend_filter()
    rows = spend_aggregate(user=request.user, spend_filter=spend_filter, group_by="team", granularity="day")
    context = _page_context(request, form) | {
        "totals": spend_totals_by_currency(user=request.user, spend_filter=spend_filter),
        "charts": _charts(rows, form=form, group_by="team", granularity="day", name="spend-by-team"),
    }
    return render(request, "dashboards/overview.html", context)


@filtered("dashboards/spend.html", SpendViewForm)
def spend(request, form):
    group_by, granularity = form.cleaned_data["group_by"], form.cleaned_data["granularity"]
    rows = spend_aggregate(user=request.user, spend_filter=form.spend_filter(), group_by=group_by, granularity=granularity)
    context = _page_context(request, form) | {
        "charts": _charts(rows, form=form, group_by=group_by, granularity=granularity, name="spend-trend"),
        "chart_title": f"Spend by {GROUP_LABELS[group_by].lower()}, per {granularity}",
    }
    return render(request, "dashboards/spend.html", context)


@filtered("dashboards/spend.html", SpendViewForm)
def spend_csv(request, form):
    """Exactly the numbers the spend figure shows, at full precision."""
    group_by, granularity = form.cleaned_data["group_by"], form.cleaned_data["granularity"]
    rows = spend_aggregate(user=request.user, spend_filter=form.spend_filter(), group_by=group_by, granularity=granularity)
    return csv_response(
        filename=f"spend-by-{group_by}-{granularity}-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=[granularity, group_by, "billing_currency", "effective_cost", "billed_cost"],
        rows=[[row["period"], row["group"] or UNALLOCATED, row["billing_currency"], row["effective_cost"],
               row["billed_cost"]] for row in rows],
    )


@filtered("dashboards/gpu.html")
def gpu(request, form):
    spend_filter = form.spend_filter()
    hours = gpu_hours_by_workload(user=request.user, spend_filter=spend_filter)
    heatmap = utilization_heatmap(user=request.user, spend_filter=spend_filter)
    context = _page_context(request, form) | {
        "has_samples": bool(hours),
        "hours_figure": figure_payload(gpu_hours_figure(hours)) if hours else None,
        "heatmap_figure": figure_payload(utilization_heatmap_figure(heatmap)) if heatmap["devices"] else None,
        "idle_waste": idle_waste_by_workload(user=request.user, spend_filter=spend_filter),
        "suggestions": right_sizing_suggestions(user=request.user, spend_filter=spend_filter),
    }
    return render(request, "dashboards/gpu.html", context)


@filtered("dashboards/gpu.html")
def gpu_csv(request, form):
    """The numbers of the bought-vs-busy figure and the idle waste table."""
    spend_filter = form.spend_filter()
    waste = {row["workload_id"]: row for row in idle_waste_by_workload(user=request.user, spend_filter=spend_filter)}
    rows = []
    for row in gpu_hours_by_workload(user=request.user, spend_filter=spend_filter):
        cost = waste.get(row["workload_id"], {})
        rows.append([row["workload__name"] or "Unassigned", row["model_name"], round(row["bought"], 4),
                     round(row["busy"], 4), cost.get("billing_currency", ""), cost.get("gpu_cost", ""), cost.get("idle_waste", "")])
    return csv_response(
        filename=f"gpu-efficiency-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=["workload", "gpu_model", "gpu_hours_bought", "gpu_hours_busy", "billing_currency", "gpu_cost", "idle_waste"],
        rows=rows,
    )


UNIT_METRICS = {"cost_per_1k_requests": "Cost per 1,000 requests", "cost_per_1m_tokens": "Cost per 1M tokens"}


@filtered("dashboards/unit_costs.html")
def unit_costs(request, form):
    rows = unit_costs_daily(user=request.user, spend_filter=form.spend_filter())
    charts = []
    for metric, title in UNIT_METRICS.items():
        for currency in sorted({row["billing_currency"] for row in rows if row[metric] is not None}):
            in_currency = [row for row in rows if row["billing_currency"] == currency]
            charts.append({
                "title": title,
                "currency": currency,
                "figure_id": f"{metric}-{currency.lower()}-figure",
                "figure": figure_payload(unit_cost_figure(in_currency, metric=metric, currency=currency, title=title)),
            })
    context = _page_context(request, form) | {"unit_charts": charts, "has_spend": bool(rows)}
    return render(request, "dashboards/unit_costs.html", context)


@filtered("dashboards/unit_costs.html")
def unit_costs_csv(request, form):
    rows = unit_costs_daily(user=request.user, spend_filter=form.spend_filter())
    columns = ["day", "workload", "billing_currency", "effective_cost", "requests", "tokens",
               "cost_per_1k_requests", "cost_per_1m_tokens"]
    return csv_response(
        filename=f"unit-costs-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=columns,
        rows=[[row[column] for column in columns] for row in rows],
    )


def _charts(rows: list[dict], *, form, group_by: str, granularity: str, name: str) -> list[dict]:
    """One figure per currency: amounts in different currencies never share an axis."""
    by_currency = groupby(sorted(rows, key=lambda row: row["billing_currency"]), key=lambda row: row["billing_currency"])
    return [
        {
            "currency": currency,
            "figure_id": f"{name}-{currency.lower()}-figure",
            "figure": figure_payload(
                stacked_spend_figure(
                    list(group), currency=currency, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
                    granularity=granularity, group_label=GROUP_LABELS[group_by],
                )
            ),
        }
        for currency, group in by_currency
    ]


def _page_context(request, form) -> dict:
    return {
        "form": form,
        "presets": PRESETS,
        "dimensions": spend_dimensions(user=request.user),
        "query": request.GET.urlencode(),
        "start": form.cleaned_data["start"],
        "end": form.cleaned_data["end"],
    }


def _invalid(request, form, template: str):
    context = {"form": form, "presets": PRESETS, "dimensions": spend_dimensions(user=request.user), "charts": []}
    return render(request, template, context, status=400)
