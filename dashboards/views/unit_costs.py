from django.shortcuts import render

from dashboards.charts import figure_payload
from dashboards.charts.unit_costs import unit_cost_figure
from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.selectors.unit_costs import unit_costs_daily

UNIT_METRICS = {"cost_per_1k_requests": "Cost per 1,000 requests", "cost_per_1m_tokens": "Cost per 1M tokens"}


@filtered("dashboards/unit_costs.html")
def unit_costs(request, form):
    rows = unit_costs_daily(user=request.user, spend_filter=form.spend_filter())
    charts = []
    for metric, title in UNIT_METRICS.items():
        for currency in sorted({row["billing_currency"] for row in rows if row[metric] is not None}):
            in_currency = [row for row in rows if row["billing_currency"] == currency]
            charts.append({
                "title": title,
                "currency": currency,
                "figure_id": f"{metric}-{currency.lower()}-figure",
                "figure": figure_payload(unit_cost_figure(in_currency, metric=metric, currency=currency, title=title)),
            })
    context = page_context(request, form) | {"unit_charts": charts, "has_spend": bool(rows)}
    return render(request, "dashboards/unit_costs.html", context)


@filtered("dashboards/unit_costs.html")
def unit_costs_csv(request, form):
    rows = unit_costs_daily(user=request.user, spend_filter=form.spend_filter())
    columns = ["day", "workload", "billing_currency", "effective_cost", "requests", "tokens",
               "cost_per_1k_requests", "cost_per_1m_tokens"]
    return csv_response(
        filename=f"unit-costs-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=columns,
        rows=[[row[column] for column in columns] for row in rows],
    )
