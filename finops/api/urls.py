from django.urls import include, path
from rest_framework.routers import DefaultRouter

from finops.api import alerts, benchmarks, checklist, focus, gpu, ingest_uploads, initiatives, tco, views, volumes

router = DefaultRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("workloads", views.WorkloadViewSet, basename="workload")
router.register("allocation-rules", views.AllocationRuleViewSet, basename="allocation-rule")
router.register("cost-records", views.CostRecordViewSet, basename="cost-record")
router.register("ingest-runs", views.IngestRunViewSet, basename="ingest-run")
router.register("alert-rules", alerts.AlertRuleViewSet, basename="alert-rule")
router.register("alerts", alerts.AlertViewSet, basename="alert")
router.register("tco-rules", tco.TcoRuleViewSet, basename="tco-rule")
router.register("tco-line-items", tco.TcoLineItemViewSet, basename="tco-line-item")
router.register("benchmarks", benchmarks.BenchmarkViewSet, basename="benchmark")
router.register("managed-api-prices", benchmarks.ManagedApiPriceViewSet, basename="managed-api-price")
router.register("initiatives", initiatives.InitiativeViewSet, basename="initiative")
router.register("checklist-items", checklist.ChecklistItemViewSet, basename="checklist-item")

app_name = "api"

urlpatterns = [
    path("spend/", views.SpendView.as_view(), name="spend"),
    path("unit-costs/", volumes.UnitCostView.as_view(), name="unit-costs"),
    path("gpu-samples/", gpu.GpuSamplePushView.as_view(), name="gpu-samples"),
    path("inference-volumes/", volumes.InferenceVolumeView.as_view(), name="inference-volumes"),
    path("export/focus.csv", focus.FocusExportView.as_view(), name="export-focus"),
    # Before the router, whose ingest-runs/<pk>/ would otherwise take "upload" for an id.
    path("ingest-runs/upload/", ingest_uploads.BillingUploadView.as_view(), name="ingest-run-upload"),
    path("", include(router.urls)),
]
