from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.shortcuts import render
from django.utils import timezone

from dashboards.charts import figure_payload
from dashboards.charts.initiatives import cumulative_savings_figure, pipeline_figure, roi_figure
from dashboards.csv_export import csv_response
from dashboards.views.common import filtered, page_context
from finops.selectors.initiatives import initiative_results, initiatives_in_scope, savings_timeline

COLUMNS = [
    "title", "team", "technique", "status", "workloads", "effective_on", "currency", "expected_monthly_saving",
    "implementation_cost", "realized_saving", "monthly_realized_saving", "roi", "payback_months",
    "interval_low", "interval_high", "confidence", "baseline_days_measured", "days_measured_after",
]


def _measure(request, form):
    """The filtered initiatives with their measured results, as of the period's end (never
    later than yesterday, the last whole day)."""
    data = form.cleaned_data
    as_of = min(data["end"], timezone.localdate() - timedelta(days=1))
    initiatives = list(initiatives_in_scope(user=request.user, team=data.get("team"), workload=data.get("workload")))
    results = initiative_results(user=request.user, initiatives=initiatives, as_of=as_of)
    return [results[i.pk] for i in initiatives]


def _row(result) -> dict:
    initiative, interval = result.initiative, result.interval
    measured = result.measured
    return {
        "id": initiative.pk,
        "title": initiative.title,
        "team": initiative.team.name,
        "technique": initiative.get_technique_display(),
        "status": initiative.status,
        "status_label": initiative.get_status_display(),
        "workloads": ", ".join(w.workload for w in result.workloads) or "–",
        "effective_on": initiative.effective_on,
        "currency": result.currency,
        "expected_monthly_saving": initiative.expected_monthly_saving,
        "implementation_cost": initiative.implementation_cost,
        "realized_saving": result.realized_saving,
        "monthly_realized_saving": result.monthly_realized_saving,
        "roi": result.roi,
        "payback_months": result.payback_months,
        "interval_low": interval[0] if interval else None,
        "interval_high": interval[1] if interval else None,
        "confidence": result.confidence,
        "baseline_days_measured": min((w.baseline.days_measured for w in measured), default=0),
        "days_measured_after": min((w.after.days_measured for w in measured), default=0),
        "reason": result.reason,
        "roi_label": "–" if result.roi is None else f"{result.roi * 100:,.0f} %",
        "payback_label": "–" if result.payback_months is None else f"{result.payback_months} months",
    }


@filtered("dashboards/initiatives.html")
def initiatives(request, form):
    results = _measure(request, form)
    rows = [_row(result) for result in results]
    charts = []
    timeline = savings_timeline(results=results, start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    for currency in sorted({row["currency"] for row in rows}):
        in_currency = [row for row in rows if row["currency"] == currency]
        measured = [row for row in in_currency if row["realized_saving"] is not None]
        pipeline = defaultdict(lambda: {"count": 0, "expected_monthly_saving": Decimal(0)})
        for row in in_currency:
            pipeline[row["status"]]["count"] += 1
            pipeline[row["status"]]["expected_monthly_saving"] += row["expected_monthly_saving"]
        figures = []
        if currency in timeline:
            figures.append(("Expected vs realized cumulative saving", "cumulative",
                            cumulative_savings_figure(timeline[currency], currency=currency), "timeline"))
        if measured:
            figures.append(("Realized saving and cost per initiative", "roi", roi_figure(measured, currency=currency), "table"))
        figures.append(("Pipeline by status", "pipeline",
                        pipeline_figure([{"status": s} | v for s, v in pipeline.items()], currency=currency), "table"))
        charts += [
            {"title": title, "currency": currency, "figure_id": f"{name}-{currency.lower()}-figure",
             "figure": figure_payload(figure), "csv": csv}
            for title, name, figure, csv in figures
        ]
    context = page_context(request, form) | {"rows": rows, "charts": charts}
    return render(request, "dashboards/initiatives.html", context)


@filtered("dashboards/initiatives.html")
def initiatives_csv(request, form):
    rows = [_row(result) for result in _measure(request, form)]
    return csv_response(
        filename=f"initiatives-{form.cleaned_data['end']}.csv",
        header=COLUMNS,
        rows=[[row[column] for column in COLUMNS] for row in rows],
    )


@filtered("dashboards/initiatives.html")
def initiatives_timeline_csv(request, form):
    timeline = savings_timeline(results=_measure(request, form), start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    return csv_response(
        filename=f"savings-timeline-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv",
        header=["day", "currency", "expected_cumulative_saving", "realized_cumulative_saving"],
        rows=[[row["day"], currency, row["expected"], row["realized"]]
              for currency, rows in sorted(timeline.items()) for row in rows],
    )
