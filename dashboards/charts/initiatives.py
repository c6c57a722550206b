from dashboards.charts import Figure, figure, jsonable, trace
from finops.models import Initiative

STATUS_ORDER = [status for status, _ in Initiative.Status.choices]


def cumulative_savings_figure(rows: list[dict], *, currency: str) -> Figure:
    """Expected vs realized cumulative saving; `rows` from savings_timeline for one currency."""
    days = [jsonable(row["day"]) for row in rows]
    expected = trace(
        "scatter",
        x=days, y=[jsonable(row["expected"]) for row in rows], name="Expected", mode="lines", line={"dash": "dash"},
        hovertemplate=f"%{{x|%d %b %Y}}<br>Expected: %{{y:,.2f}} {currency}<extra></extra>",
    )
    realized = trace(
        "scatter",
        x=days, y=[jsonable(row["realized"]) for row in rows], name="Realized (measured)", mode="lines",
        hovertemplate=f"%{{x|%d %b %Y}}<br>Realized: %{{y:,.2f}} {currency}<extra></extra>",
    )
    return figure(
        [expected, realized],
        showlegend=True,
        margin={"l": 70, "r": 20, "t": 30, "b": 40},
        yaxis={"title": {"text": f"Cumulative saving ({currency})"}, "tickformat": ",.0f"},
        xaxis={"title": {"text": "Day"}, "type": "date", "tickformat": "%-d %b"},
        legend={"orientation": "h", "y": -0.2},
    )


def roi_figure(rows: list[dict], *, currency: str) -> Figure:
    """Realized saving to date against implementation cost per initiative (one currency)."""
    titles = [row["title"] for row in rows]
    cost = trace(
        "bar",
        y=titles, x=[jsonable(row["implementation_cost"]) for row in rows], name="Implementation cost",
        orientation="h", hovertemplate=f"%{{y}}<br>Cost: %{{x:,.2f}} {currency}<extra></extra>",
    )
    saving = trace(
        "bar",
        y=titles, x=[jsonable(row["realized_saving"]) for row in rows], name="Realized saving to date",
        orientation="h", customdata=[[row["roi_label"], row["payback_label"]] for row in rows],
        hovertemplate=f"%{{y}}<br>Saved: %{{x:,.2f}} {currency}<br>ROI: %{{customdata[0]}}"
                      "<br>Payback: %{customdata[1]}<extra></extra>",
    )
    return figure(
        [cost, saving],
        barmode="group",
        showlegend=True,
        height=max(260, 80 + 50 * len(rows)),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        xaxis={"title": {"text": currency}, "tickformat": ",.0f"},
        yaxis={"automargin": True, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.2},
    )


def pipeline_figure(rows: list[dict], *, currency: str) -> Figure:
    """Expected monthly saving and number of initiatives per status."""
    by_status = {row["status"]: row for row in rows}
    statuses = [s for s in STATUS_ORDER if s in by_status]
    saving = trace(
        "bar",
        x=[str(Initiative.Status(s).label) for s in statuses],
        y=[jsonable(by_status[s]["expected_monthly_saving"]) for s in statuses],
        customdata=[by_status[s]["count"] for s in statuses], name="Expected monthly saving",
        hovertemplate=f"%{{x}}: %{{customdata}} initiative(s)<br>%{{y:,.2f}} {currency} a month<extra></extra>",
    )
    return figure(
        [saving],
        showlegend=False,
        margin={"l": 70, "r": 20, "t": 30, "b": 40},
        yaxis={"title": {"text": f"Expected monthly saving ({currency})"}, "tickformat": ",.0f"},
        xaxis={"title": {"text": "Status"}},
    )
