from django.urls import include, path
from rest_framework.routers import DefaultRouter

from finops.api import views

router = DefaultRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("workloads", views.WorkloadViewSet, basename="workload")
router.register("allocation-rules", views.AllocationRuleViewSet, basename="allocation-rule")
router.register("cost-records", views.CostRecordViewSet, basename="cost-record")
router.register("ingest-runs", views.IngestRunViewSet, basename="ingest-run")

app_name = "api"

urlpatterns = [
    path("spend/", views.SpendView.as_view(), name="spend"),
    path("", include(router.urls)),
]
