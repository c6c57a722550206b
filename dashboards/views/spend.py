from itertools import groupby

from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.spend import UNALLOCATED, stacked_spend_figure
from dashboards.csv_export import csv_response
from dashboards.forms import SpendViewForm
from dashboards.views.common import filtered, page_context
from finops.selectors.spend import spend_aggregate

GROUP_LABELS = {"team": "Team", "workload": "Workload", "service": "Service", "provider": "Provider",
                "service_category": "Service category", "charge_category": "Charge category",
                "tco_category": "TCO category"}
# What stacked_spend_figure draws; the downloads and the API carry every amount.
FIGURE_AMOUNTS = ("effective_cost",)


@filtered("dashboards/spend.html", SpendViewForm)
def spend(request, form):
    group_by, granularity = form.cleaned_data["group_by"], form.cleaned_data["granularity"]
    rows = spend_aggregate(user=request.user, spend_filter=form.spend_filter(), group_by=group_by,
                           granularity=granularity, amounts=FIGURE_AMOUNTS)
    context = page_context(request, form) | {
        "charts": spend_charts(rows, form=form, group_by=group_by, granularity=granularity, name="spend-trend"),
        "chart_title": f"Spend by {GROUP_LABELS[group_by].lower()}, per {granularity}",
    }
    return render(request, "dashboards/spend.html", context)


@filtered("dashboards/spend.html", SpendViewForm)
def spend_csv(request, form):
    """Exactly the numbers the spend figure shows, at full precision."""
    group_by, granularity = form.cleaned_data["group_by"], form.cleaned_data["granularity"]
    rows = spend_aggregate(user=request.user, spend_filter=form.spend_filter(), group_by=group_by, granularity=granularity)
    return csv_response(
        filename=f"spend-by-{group_by}-{granularity}-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=[granularity, group_by, "billing_currency", "effective_cost", "billed_cost"],
        rows=[[row["period"], row["group"] or UNALLOCATED, row["billing_currency"], row["effective_cost"],
               row["billed_cost"]] for row in rows],
    )


def spend_charts(rows: list[dict], *, form, group_by: str, granularity: str, name: str) -> list[dict]:
    """One figure per currency: amounts in different currencies never share an axis."""
    by_currency = groupby(sorted(rows, key=lambda row: row["billing_currency"]), key=lambda row: row["billing_currency"])
    return [
        {
            "currency": currency,
            "figure_id": f"{name}-{currency.lower()}-figure",
            "figure": figure_payload(
                stacked_spend_figure(
                    list(group), currency=currency, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
                    granularity=granularity, group_label=GROUP_LABELS[group_by],
                )
            ),
        }
        for currency, group in by_currency
    ]
