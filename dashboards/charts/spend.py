from collections import defaultdict

import plotly.graph_objects as go

UNALLOCATED = "Unallocated"


def spend_by_team_figure(rows: list[dict], *, currency: str) -> go.Figure:
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
            hovertemplate=f"%{{x|%a %d %b %Y}}<br>{team}: %{{y:,.2f}} {currency}<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": {"text": f"Effective cost ({currency})"}, "tickformat": ",.0f"},
        xaxis={"title": {"text": "Day"}},
        template="plotly_white",
    )
    return figure
