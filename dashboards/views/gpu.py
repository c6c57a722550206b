import numpy as np
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
    idle_waste = idle_waste_by_workload(user=request.user, spend_filter=spend_filter)
    context = page_context(request, form) | {
        "has_samples": bool(hours),
        "hours_figure": figure_payload(gpu_hours_figure(hours)) if hours else None,
        "heatmap_figure": figure_payload(utilization_heatmap_figure(_as_array(heatmap))) if heatmap["devices"] else None,
        "idle_waste": idle_waste,
        "suggestions": right_sizing_suggestions(user=request.user, spend_filter=spend_filter, idle_waste=idle_waste),
    }
    return render(request, "dashboards/gpu.html", context)


def _as_array(heatmap: dict) -> dict:
    """The grid as a float array. plotly checks a list of lists value by value (1.4 s for a month
    of 60 GPUs); an array it takes as it is, and sends to the page as a typed array, a third
    smaller. Gaps become NaN, which plotly.js leaves blank as it does null."""
    return heatmap | {"values": np.array(heatmap["values"], dtype=float)}


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
