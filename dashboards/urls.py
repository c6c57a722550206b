from django.urls import path

from dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("spend/", views.spend, name="spend"),
    path("spend/data.csv", views.spend_csv, name="spend-csv"),
    path("unit-costs/", views.unit_costs, name="unit-costs"),
    path("unit-costs/data.csv", views.unit_costs_csv, name="unit-costs-csv"),
    path("gpu/", views.gpu, name="gpu"),
    path("gpu/data.csv", views.gpu_csv, name="gpu-csv"),
]
