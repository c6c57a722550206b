import plotly.graph_objects as go

UNASSIGNED = "Unassigned"


def gpu_hours_figure(rows: list[dict]) -> go.Figure:
    """Bought vs busy GPU-hours per workload and GPU model; `rows` from gpu_hours_by_workload."""
    labels = [f"{row['workload__name'] or UNASSIGNED} · {row['model_name'] or 'unknown GPU'}" for row in rows]
    figure = go.Figure()
    figure.add_bar(
        y=labels, x=[row["bought"] for row in rows], name="Bought", orientation="h",
        hovertemplate="%{y}<br>Bought: %{x:,.1f} GPU-hours<extra></extra>",
    )
    figure.add_bar(
        y=labels, x=[row["busy"] for row in rows], name="Busy", orientation="h",
        hovertemplate="%{y}<br>Busy: %{x:,.1f} GPU-hours<extra></extra>",
    )
    figure.update_layout(
        barmode="group",
        showlegend=True,
        height=max(260, 70 + 48 * len(rows)),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        xaxis={"title": {"text": "GPU-hours"}, "tickformat": ",.0f"},
        yaxis={"automargin": True, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def utilization_heatmap_figure(heatmap: dict) -> go.Figure:
    """Utilization per device and hour; gaps (no samples) stay blank."""
    figure = go.Figure(
        go.Heatmap(
            x=heatmap["hours"],
            y=heatmap["devices"],
            z=heatmap["values"],
            zmin=0,
            zmax=100,
            colorscale="Viridis",
            colorbar={"title": {"text": "Busy %"}},
            hovertemplate="%{y}<br>%{x|%d %b %H:00}<br>%{z:.0f}% busy<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(260, 80 + 22 * len(heatmap["devices"])),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        xaxis={"title": {"text": "Hour (UTC)"}, "type": "date"},
        yaxis={"automargin": True, "autorange": "reversed"},  # least used on top
    )
    return figure
