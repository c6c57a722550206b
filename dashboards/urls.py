from django.urls import path

from dashboards.views import checklist, gpu, hidden_costs, initiatives, overview, spend, subjects, unit_costs

app_name = "dashboards"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("spend/", spend.spend, name="spend"),
    path("spend/data.csv", spend.spend_csv, name="spend-csv"),
    path("unit-costs/", unit_costs.unit_costs, name="unit-costs"),
    path("unit-costs/data.csv", unit_costs.unit_costs_csv, name="unit-costs-csv"),
    path("gpu/", gpu.gpu, name="gpu"),
    path("gpu/data.csv", gpu.gpu_csv, name="gpu-csv"),
    path("gpu/right-sizing.csv", gpu.gpu_right_sizing_csv, name="gpu-right-sizing-csv"),
    path("hidden-costs/", hidden_costs.hidden_costs, name="hidden-costs"),
    path("hidden-costs/data.csv", hidden_costs.hidden_costs_csv, name="hidden-costs-csv"),
    path("hidden-costs/waterfall.csv", hidden_costs.hidden_costs_waterfall_csv, name="hidden-costs-waterfall-csv"),
    path("initiatives/", initiatives.initiatives, name="initiatives"),
    path("initiatives/data.csv", initiatives.initiatives_csv, name="initiatives-csv"),
    path("initiatives/timeline.csv", initiatives.initiatives_timeline_csv, name="initiatives-timeline-csv"),
    path("workloads/<int:pk>/", subjects.workload_page, name="workload"),
    path("teams/<int:pk>/", subjects.team_page, name="team"),
    path("checklist/", checklist.checklist, name="checklist"),
    path("checklist/data.csv", checklist.checklist_csv, name="checklist-csv"),
]
