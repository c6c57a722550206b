from collections import defaultdict
from datetime import date, datetime, time, timedelta

import plotly.graph_objects as go

UNALLOCATED = "Unallocated"
PERIOD_MS = {"day": 24 * 3600 * 1000, "week": 7 * 24 * 3600 * 1000, "month": 30 * 24 * 3600 * 1000}
TICK_FORMAT = {"day": "%-d %b", "week": "%-d %b", "month": "%b %Y"}


def stacked_spend_figure(
    rows: list[dict], *, currency: str, start: date, end: date, granularity: str = "day", group_label: str = "Team"
) -> go.Figure:
    """Stacked effective cost per period and group; spend no rule allocated is its own series.

    `rows` are {period, group, effective_cost} in one currency.
    """
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows:
        periods, amounts = series[row["group"] or UNALLOCATED]
        periods.append(row["period"])
        # Plotly draws floats; the exact Decimal stays in storage, totals and downloads.
        amounts.append(float(row["effective_cost"]))
    figure = go.Figure()
    for name in sorted(series, key=lambda name: (name == UNALLOCATED, name)):
        periods, amounts = series[name]
        figure.add_bar(
            x=periods,
            y=amounts,
            name=name,
            # Bars start at their period's first day and span 80% of it; without an explicit
            # width a lone period's bar is drawn a millisecond wide on a date axis.
            width=0.8 * PERIOD_MS[granularity],
            offset=0.1 * PERIOD_MS[granularity] if granularity != "day" else None,
            hovertemplate=f"%{{x|{TICK_FORMAT[granularity]} %Y}}<br>{name}: %{{y:,.2f}} {currency}<extra></extra>",
        )
    axis_end = end + timedelta(days={"day": 1, "week": 7, "month": 31}[granularity])
    figure.update_layout(
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
    return figure


def _noon_before(day: date) -> datetime:
    return datetime.combine(day, time.min) - timedelta(hours=12)
