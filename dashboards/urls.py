from django.urls import path

from dashboards.views import gpu, spend, unit_costs

app_name = "dashboards"

urlpatterns = [
    path("", spend.overview, name="overview"),
    path("spend/", spend.spend, name="spend"),
    path("spend/data.csv", spend.spend_csv, name="spend-csv"),
    path("unit-costs/", unit_costs.unit_costs, name="unit-costs"),
    path("unit-costs/data.csv", unit_costs.unit_costs_csv, name="unit-costs-csv"),
    path("gpu/", gpu.gpu, name="gpu"),
    path("gpu/data.csv", gpu.gpu_csv, name="gpu-csv"),
]
