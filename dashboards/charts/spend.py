from datetime import date, datetime, time, timedelta

from dashboards.charts import Figure, figure, jsonable, trace

UNALLOCATED = "Unallocated"
PERIOD_MS = {"day": 24 * 3600 * 1000, "week": 7 * 24 * 3600 * 1000, "month": 30 * 24 * 3600 * 1000}
TICK_FORMAT = {"day": "%-d %b", "week": "%-d %b", "month": "%b %Y"}


def stacked_spend_figure(
    rows: list[dict], *, currency: str, start: date, end: date, granularity: str = "day", group_label: str = "Team"
) -> Figure:
    """Stacked effective cost per period and group; spend no rule allocated is its own series.

    `rows` are {period, group, effective_cost} in one currency.
    """
    series: dict[str, tuple[list, list]] = {}
    period_text: dict[date, str] = {}  # a period is shared by every group: written once
    for row in rows:
        name = row["group"] or UNALLOCATED
        if name not in series:
            series[name] = ([], [])
        periods, amounts = series[name]
        period = row["period"]
        if (text := period_text.get(period)) is None:
            text = period_text[period] = jsonable(period)
        periods.append(text)
        # Plotly draws floats; the exact Decimal stays in storage, totals and downloads.
        amounts.append(float(row["effective_cost"]))
    data = []
    for name in sorted(series, key=lambda name: (name == UNALLOCATED, name)):
        periods, amounts = series[name]
        data.append(trace(
            "bar",
            x=periods,
            y=amounts,
            name=name,
            # Bars start at their period's first day and span 80% of it; without an explicit
            # width a lone period's bar is drawn a millisecond wide on a date axis.
            width=0.8 * PERIOD_MS[granularity],
            offset=0.1 * PERIOD_MS[granularity] if granularity != "day" else None,
            hovertemplate=f"%{{x|{TICK_FORMAT[granularity]} %Y}}<br>{name}: %{{y:,.2f}} {currency}<extra></extra>",
        ))
    axis_end = end + timedelta(days={"day": 1, "week": 7, "month": 31}[granularity])
    return figure(
        data,
        barmode="stack",
        showlegend=True,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.18, "title": {"text": group_label}},
        yaxis={"title": {"text": f"Effective cost ({currency})"}, "tickformat": ",.0f"},
        # The whole period stays on the axis, so a gap in the data shows as a gap.
        xaxis={
            "title": {"text": granularity.capitalize()},
            "type": "date",
            "range": [_noon_before(start).isoformat(), _noon_before(axis_end).isoformat()],
            "tickformat": TICK_FORMAT[granularity],
        },
    )


def _noon_before(day: date) -> datetime:
    return datetime.combine(day, time.min) - timedelta(hours=12)
