from datetime import timedelta
from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from dashboards.charts import figure_payload
from dashboards.charts.spend import spend_by_team_figure
from finops.selectors.access import visible_teams
from finops.selectors.spend import spend_by_team_daily, spend_totals_by_currency

OVERVIEW_DAYS = 30


@login_required
def overview(request):
    end = timezone.localdate()
    start = end - timedelta(days=OVERVIEW_DAYS - 1)
    rows = spend_by_team_daily(user=request.user, start=start, end=end)
    charts = [
        {
            "id": f"spend-by-team-{currency.lower()}",
            "figure_id": f"spend-by-team-{currency.lower()}-figure",
            "currency": currency,
            "figure": figure_payload(spend_by_team_figure(list(group), currency=currency, start=start, end=end)),
        }
        for currency, group in groupby(
            sorted(rows, key=lambda row: row["billing_currency"]), key=lambda row: row["billing_currency"]
        )
    ]
    context = {
        "days": OVERVIEW_DAYS,
        "start": start,
        "end": end,
        "totals": spend_totals_by_currency(user=request.user, start=start, end=end),
        "charts": charts,
        "teams": visible_teams(request.user),
    }
    return render(request, "dashboards/overview.html", context)
