from collections import defaultdict

import plotly.graph_objects as go


def unit_cost_figure(rows: list[dict], *, metric: str, currency: str, title: str) -> go.Figure:
    """One line per workload of a unit cost (`cost_per_1k_requests` or `cost_per_1m_tokens`)
    over days; days without a figure (no volume) are gaps, not zeros."""
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows:
        days, values = series[row["workload"]]
        days.append(row["day"])
        values.append(None if row[metric] is None else float(row[metric]))
    figure = go.Figure()
    for workload in sorted(series):
        days, values = series[workload]
        if all(value is None for value in values):
            continue
        figure.add_scatter(
            x=days, y=values, name=workload, mode="lines+markers", connectgaps=False,
            hovertemplate=f"%{{x|%d %b %Y}}<br>{workload}: %{{y:,.4f}} {currency}<extra></extra>",
        )
    figure.update_layout(
        showlegend=True,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        yaxis={"title": {"text": f"{title} ({currency})"}, "rangemode": "tozero"},
        xaxis={"title": {"text": "Day"}, "type": "date", "tickformat": "%-d %b"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
