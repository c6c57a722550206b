from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.tco import tco_treemap_figure, tco_waterfall_figure
from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.models.tco import TcoCategory
from finops.selectors.tco import CATEGORY_LABELS, tco_breakdown, tco_totals, tco_waterfall

CALLED_OUT = (TcoCategory.IDLE_WASTE, TcoCategory.DATA_EGRESS, TcoCategory.MANAGED_SERVICE_PREMIUM)


def _called_out(rows: list[dict]) -> list[dict]:
    """Idle waste, egress and managed premiums per workload, largest first."""
    totals: dict[tuple, dict] = {}
    for row in rows:
        if row["category"] not in CALLED_OUT:
            continue
        key = (row["workload_id"], row["team_id"], row["billing_currency"])
        total = totals.setdefault(key, {"workload": row["workload"], "team": row["team"],
                                        "billing_currency": row["billing_currency"]} | {c: 0 for c in CALLED_OUT})
        total[row["category"]] += row["amount"]
    return sorted(totals.values(), key=lambda t: sum(t[c] for c in CALLED_OUT), reverse=True)


@filtered("dashboards/hidden_costs.html")
def hidden_costs(request, form):
    spend_filter = form.spend_filter()
    rows = tco_breakdown(user=request.user, spend_filter=spend_filter)
    totals = tco_totals(user=request.user, spend_filter=spend_filter, breakdown=rows)
    waterfalls = tco_waterfall(user=request.user, spend_filter=spend_filter, breakdown=rows)
    charts = []
    for currency in totals:
        in_currency = [row for row in rows if row["billing_currency"] == currency]
        charts.append({"title": "Total cost of ownership by team, workload and category", "currency": currency,
                       "figure_id": f"tco-treemap-{currency.lower()}-figure", "csv": "breakdown",
                       "figure": figure_payload(tco_treemap_figure(in_currency, currency=currency))})
        charts.append({"title": "From the GPU line to the full TCO", "currency": currency,
                       "figure_id": f"tco-waterfall-{currency.lower()}-figure", "csv": "waterfall",
                       "figure": figure_payload(tco_waterfall_figure(waterfalls[currency], currency=currency))})
    context = page_context(request, form) | {
        "totals": [
            total | {"currency": currency, "hidden_share": total["hidden"] / total["total"] * 100 if total["total"] else None}
            for currency, total in totals.items()
        ],
        "charts": charts,
        "called_out": _called_out(rows),
        "labels": {c: CATEGORY_LABELS[c] for c in CALLED_OUT},
    }
    return render(request, "dashboards/hidden_costs.html", context)


@filtered("dashboards/hidden_costs.html")
def hidden_costs_csv(request, form):
    rows = tco_breakdown(user=request.user, spend_filter=form.spend_filter())
    return csv_response(
        filename=f"tco-breakdown-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=["team", "workload", "billing_currency", "tco_category", "is_gpu", "source", "amount"],
        rows=[[row["team"] or "", row["workload"] or "", row["billing_currency"], CATEGORY_LABELS[row["category"]],
               row["is_gpu"], row["source"], row["amount"]] for row in rows],
    )


@filtered("dashboards/hidden_costs.html")
def hidden_costs_waterfall_csv(request, form):
    waterfalls = tco_waterfall(user=request.user, spend_filter=form.spend_filter())
    return csv_response(
        filename=f"tco-waterfall-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=["billing_currency", "step", "label", "measure", "amount"],
        rows=[[currency, bar["step"], bar["label"], bar["measure"], bar["amount"]]
              for currency, bars in waterfalls.items() for bar in bars],
    )
