from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.gpu import gpu_hours_figure, utilization_heatmap_figure
from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.selectors.gpu import (
    gpu_hours_by_workload,
    idle_waste_by_workload,
    right_sizing_suggestions,
    utilization_heatmap_grid,
)
from finops.selectors.instance_suggestions import InstanceSuggestion, instance_suggestions


@filtered("dashboards/gpu.html")
def gpu(request, form):
    spend_filter = form.spend_filter()
    hours = gpu_hours_by_workload(user=request.user, spend_filter=spend_filter)
    # The grid as a float array: plotly checks a list of lists value by value (1.4 s for a month
    # of 60 GPUs); an array it takes as it is, and sends to the page as a typed array, a third
    # smaller. Gaps are NaN, which plotly.js leaves blank.
    heatmap = utilization_heatmap_grid(user=request.user, spend_filter=spend_filter)
    idle_waste = idle_waste_by_workload(user=request.user, spend_filter=spend_filter)
    suggestions = right_sizing_suggestions(user=request.user, spend_filter=spend_filter, idle_waste=idle_waste)
    context = page_context(request, form) | {
        "has_samples": bool(hours),
        "hours_figure": figure_payload(gpu_hours_figure(hours)) if hours else None,
        "heatmap_figure": figure_payload(utilization_heatmap_figure(heatmap)) if heatmap["devices"] else None,
        "idle_waste": idle_waste,
        "suggestions": suggestions,
        "right_sizing": instance_suggestions(user=request.user, spend_filter=spend_filter, suggestions=suggestions),
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


RIGHT_SIZING_HEADER = [
    "workload", "utilization_avg", "utilization_p95", "gpu_hours", "billing_currency", "gpu_cost", "estimated_saving",
    "suggested_instance", "suggested_gpu_count", "suggested_gpu_model", "monthly_gpu_cost", "instance_monthly_cost",
    "monthly_saving", "why",
]


@filtered("dashboards/gpu.html")
def gpu_right_sizing_csv(request, form):
    """The right-sizing table: each under-used workload and the instance to move to."""
    return csv_response(
        filename=f"gpu-right-sizing-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=RIGHT_SIZING_HEADER,
        rows=[_right_sizing_row(row) for row in instance_suggestions(user=request.user, spend_filter=form.spend_filter())],
    )


def _right_sizing_row(row: InstanceSuggestion) -> list:
    sizing, run = row.right_sizing, row.benchmark
    return [
        sizing.workload, round(sizing.utilization_avg, 4), round(sizing.utilization_p95, 4), round(sizing.gpu_hours, 4),
        sizing.billing_currency, sizing.gpu_cost, sizing.estimated_saving,
        run.instance_type if run else "", run.gpu_count if run else "", run.gpu_model if run else "",
        row.monthly_gpu_cost, row.instance_monthly_cost, row.monthly_saving, row.reason,
    ]
