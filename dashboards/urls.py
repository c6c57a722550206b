from django.urls import path

from dashboards.views import checklist, gpu, initiatives, overview, spend, unit_costs

app_name = "dashboards"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("spend/", spend.spend, name="spend"),
    path("spend/data.csv", spend.spend_csv, name="spend-csv"),
    path("unit-costs/", unit_costs.unit_costs, name="unit-costs"),
    path("unit-costs/data.csv", unit_costs.unit_costs_csv, name="unit-costs-csv"),
    path("gpu/", gpu.gpu, name="gpu"),
    path("gpu/data.csv", gpu.gpu_csv, name="gpu-csv"),
    path("initiatives/", initiatives.initiatives, name="initiatives"),
    path("initiatives/data.csv", initiatives.initiatives_csv, name="initiatives-csv"),
    path("initiatives/timeline.csv", initiatives.initiatives_timeline_csv, name="initiatives-timeline-csv"),
    path("checklist/", checklist.checklist, name="checklist"),
    path("checklist/data.csv", checklist.checklist_csv, name="checklist-csv"),
]
