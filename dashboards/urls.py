from django.urls import path

from dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("spend/", views.spend, name="spend"),
    path("spend/data.csv", views.spend_csv, name="spend-csv"),
]
