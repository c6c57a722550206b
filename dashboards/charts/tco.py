from collections import defaultdict
from decimal import Decimal

from dashboards.charts import Figure, figure, trace
from finops.selectors.tco import CATEGORY_LABELS

UNALLOCATED = "Unallocated"
TEAM_ONLY = "(team-wide)"


def tco_treemap_figure(rows: list[dict], *, currency: str) -> Figure:
    """Team → workload → TCO category, sized by cost; `rows` from tco_breakdown in one currency.
    Credits (negative amounts) cannot size a tile and are left to the table and the CSV."""
    tiles: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        team = row["team"] or UNALLOCATED
        workload = row["workload"] or (TEAM_ONLY if row["team"] else UNALLOCATED)
        tiles[(team, workload, CATEGORY_LABELS[row["category"]])] += row["amount"]
    ids, labels, parents, values = [], [], [], []
    seen = set()
    for (team, workload, category), amount in sorted(tiles.items()):
        if amount <= 0:
            continue
        for node, label, parent in ((team, team, ""), (f"{team}/{workload}", workload, team)):
            if node not in seen:
                seen.add(node)
                ids.append(node), labels.append(label), parents.append(parent), values.append(0)
        ids.append(f"{team}/{workload}/{category}")
        labels.append(category)
        parents.append(f"{team}/{workload}")
        values.append(float(amount))
    treemap = trace(
        "treemap",
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="remainder",
        hovertemplate=f"%{{id}}<br>%{{value:,.2f}} {currency}<extra></extra>",
        texttemplate="%{label}<br>%{value:,.0f}",
    )
    return figure([treemap], margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=480)


def tco_waterfall_figure(bars: list[dict], *, currency: str) -> Figure:
    """From the GPU line to the full TCO; `bars` from tco_waterfall for one currency."""
    waterfall = trace(
        "waterfall",
        x=[bar["label"] for bar in bars],
        y=[float(bar["amount"]) for bar in bars],
        measure=[bar["measure"] for bar in bars],
        hovertemplate=f"%{{x}}: %{{y:,.2f}} {currency}<extra></extra>",
        connector={"line": {"width": 1}},
    )
    return figure(
        [waterfall],
        showlegend=False,
        margin={"l": 70, "r": 20, "t": 30, "b": 80},
        yaxis={"title": {"text": currency}, "tickformat": ",.0f"},
        xaxis={"tickangle": -30},
    )
