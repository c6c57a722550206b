from django.shortcuts import render
from django.utils import timezone

from dashboards.views.common import filtered, page_context
from dashboards.views.spend import FIGURE_AMOUNTS, spend_charts
from finops.selectors import overview as kpis
from finops.selectors.spend import spend_aggregate, spend_totals_by_currency


@filtered("dashboards/overview.html")
def overview(request, form):
    spend_filter, user = form.spend_filter(), request.user
    as_of = min(form.cleaned_data["end"], timezone.localdate())
    rows = spend_aggregate(
        user=user, spend_filter=spend_filter, group_by="team", granularity="day", amounts=FIGURE_AMOUNTS
    )
    context = page_context(request, form) | {
        "as_of": as_of,
        "totals": spend_totals_by_currency(user=user, spend_filter=spend_filter),
        "month_to_date": kpis.month_to_date(user=user, spend_filter=spend_filter, as_of=as_of),
        "unit_costs": kpis.cost_per_1k_inferences(user=user, spend_filter=spend_filter, as_of=as_of),
        "savings_ytd": kpis.realized_savings_year_to_date(user=user, spend_filter=spend_filter, as_of=as_of),
        "open_alerts": kpis.open_alert_count(user=user),
        "movers": kpis.top_movers(user=user, spend_filter=spend_filter, as_of=as_of),
        "charts": spend_charts(rows, form=form, group_by="team", granularity="day", name="spend-by-team"),
    }
    return render(request, "dashboards/overview.html", context)
