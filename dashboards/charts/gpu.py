from functools import cache

import plotly.graph_objects as go
from _plotly_utils.utils import to_typed_array_spec

from dashboards.charts import Figure, figure, jsonable, trace

UNASSIGNED = "Unassigned"


def gpu_hours_figure(rows: list[dict]) -> Figure:
    """Bought vs busy GPU-hours per workload and GPU model; `rows` from gpu_hours_by_workload."""
    labels = [f"{row['workload__name'] or UNASSIGNED} · {row['model_name'] or 'unknown GPU'}" for row in rows]
    bought = trace(
        "bar",
        y=labels, x=[jsonable(row["bought"]) for row in rows], name="Bought", orientation="h",
        hovertemplate="%{y}<br>Bought: %{x:,.1f} GPU-hours<extra></extra>",
    )
    busy = trace(
        "bar",
        y=labels, x=[jsonable(row["busy"]) for row in rows], name="Busy", orientation="h",
        hovertemplate="%{y}<br>Busy: %{x:,.1f} GPU-hours<extra></extra>",
    )
    return figure(
        [bought, busy],
        barmode="group",
        showlegend=True,
        height=max(260, 70 + 48 * len(rows)),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        xaxis={"title": {"text": "GPU-hours"}, "tickformat": ",.0f"},
        yaxis={"automargin": True, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.2},
    )


def utilization_heatmap_figure(heatmap: dict) -> Figure:
    """Utilization per device and hour; gaps (no samples) stay blank.

    A numpy grid goes to the page as plotly's typed array (base64 of the floats; NaN gaps are
    blank in plotly.js as null is), a third the size of a list of lists."""
    values = heatmap["values"]
    heat = trace(
        "heatmap",
        x=[jsonable(hour) for hour in heatmap["hours"]],
        y=list(heatmap["devices"]),
        z=to_typed_array_spec(values) if hasattr(values, "dtype") else values,
        zmin=0,
        zmax=100,
        colorscale=_viridis(),
        colorbar={"title": {"text": "Busy %"}},
        hovertemplate="%{y}<br>%{x|%d %b %H:00}<br>%{z:.0f}% busy<extra></extra>",
    )
    return figure(
        [heat],
        height=max(260, 80 + 22 * len(heatmap["devices"])),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        xaxis={"title": {"text": "Hour (UTC)"}, "type": "date"},
        yaxis={"automargin": True, "autorange": "reversed"},  # least used on top
    )


@cache
def _viridis() -> list:
    """plotly.py's Viridis as the figure carries it (plotly.js's built-in one has other stops)."""
    return go.Heatmap(colorscale="Viridis").to_plotly_json()["colorscale"]
