from collections import defaultdict
from datetime import date, datetime, time, timedelta

import plotly.graph_objects as go

UNALLOCATED = "Unallocated"
BAR_WIDTH_MS = 0.8 * 24 * 3600 * 1000


def spend_by_team_figure(rows: list[dict], *, currency: str, start: date, end: date) -> go.Figure:
    """Stacked daily effective cost per team; spend no rule allocated is its own series.

    `rows` are {day, team__name, effective_cost} in one currency.
    """
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows:
        days, amounts = series[row["team__name"] or UNALLOCATED]
        days.append(row["day"])
        # Plotly draws floats; the exact Decimal stays in storage, totals and downloads.
        amounts.append(float(row["effective_cost"]))
    figure = go.Figure()
    for team in sorted(series, key=lambda name: (name == UNALLOCATED, name)):
        days, amounts = series[team]
        figure.add_bar(
            x=days,
            y=amounts,
            name=team,
            # Explicit, or a lone day's bar is drawn a millisecond wide on a date axis.
            width=BAR_WIDTH_MS,
            hovertemplate=f"%{{x|%a %d %b %Y}}<br>{team}: %{{y:,.2f}} {currency}<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        showlegend=True,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": {"text": f"Effective cost ({currency})"}, "tickformat": ",.0f"},
        # The whole period stays on the axis, so a gap in the data shows as a gap.
        xaxis={
            "title": {"text": "Day"},
            "type": "date",
            "range": [_noon_before(start).isoformat(), _noon_before(end + timedelta(days=1)).isoformat()],
            "tickformat": "%-d %b",
        },
        template="plotly_white",
    )
    return figure


def _noon_before(day: date) -> datetime:
    return datetime.combine(day, time.min) - timedelta(hours=12)
