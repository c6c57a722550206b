from collections import defaultdict

from dashboards.charts import Figure, figure, jsonable, trace


def unit_cost_figure(rows: list[dict], *, metric: str, currency: str, title: str) -> Figure:
    """One line per workload of a unit cost (`cost_per_1k_requests` or `cost_per_1m_tokens`)
    over days; days without a figure (no volume) are gaps, not zeros."""
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows:
        days, values = series[row["workload"]]
        days.append(jsonable(row["day"]))
        values.append(None if row[metric] is None else float(row[metric]))
    data = []
    for workload in sorted(series):
        days, values = series[workload]
        if all(value is None for value in values):
            continue
        data.append(trace(
            "scatter",
            x=days, y=values, name=workload, mode="lines+markers", connectgaps=False,
            hovertemplate=f"%{{x|%d %b %Y}}<br>{workload}: %{{y:,.4f}} {currency}<extra></extra>",
        ))
    return figure(
        data,
        showlegend=True,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        yaxis={"title": {"text": f"{title} ({currency})"}, "rangemode": "tozero"},
        xaxis={"title": {"text": "Day"}, "type": "date", "tickformat": "%-d %b"},
        legend={"orientation": "h", "y": -0.2},
    )
