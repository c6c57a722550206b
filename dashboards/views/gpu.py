from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.gpu import gpu_hours_figure, utilization_heatmap_figure
from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.selectors.gpu import (
    gpu_hours_by_workload,
    idle_waste_by_workload,
    right_sizing_suggestions,
    utilization_heatmap,
)


@filtered("dashboards/gpu.html")
def gpu(request, form):
    spend_filter = form.spend_filter()
    hours = gpu_hours_by_workload(user=request.user, spend_filter=spend_filter)
    heatmap = utilization_heatmap(user=request.user, spend_filter=spend_filter)
    context = page_context(request, form) | {
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
