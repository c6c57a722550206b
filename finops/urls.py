from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from finops.views import alerts as alert_views
from finops.views import tokens
from finops.views.health import healthz
from finops.views.manage import (
    benchmarks,
    checklist,
    index,
    initiatives,
    managed_api_prices,
    tco_line_items,
    tco_rules,
    volumes,
)

alert_patterns = [
    path("", alert_views.alert_list, name="list"),
    path("<int:pk>/acknowledge", alert_views.acknowledge, name="acknowledge"),
    path("<int:pk>/resolve", alert_views.resolve, name="resolve"),
    path("rules/<int:pk>/mute", alert_views.mute, name="mute"),
    path("rules/<int:pk>/unmute", alert_views.unmute, name="unmute"),
    path("rules/<int:pk>/subscription", alert_views.subscription, name="subscription"),
    path("unsubscribe/<str:token>", alert_views.unsubscribe, name="unsubscribe"),
]

manage_patterns = [
    path("", index.manage_index, name="index"),
    path("tco-rules/", tco_rules.tco_rule_list, name="tco-rules"),
    path("tco-rules/new/", tco_rules.tco_rule_create, name="tco-rule-create"),
    path("tco-rules/restore/", tco_rules.tco_rules_restore, name="tco-rules-restore"),
    path("tco-rules/<int:pk>/", tco_rules.tco_rule_edit, name="tco-rule-edit"),
    path("tco-rules/<int:pk>/delete/", tco_rules.tco_rule_delete, name="tco-rule-delete"),
    path("tco-line-items/", tco_line_items.tco_line_item_list, name="tco-line-items"),
    path("tco-line-items/new/", tco_line_items.tco_line_item_create, name="tco-line-item-create"),
    path("tco-line-items/<int:pk>/", tco_line_items.tco_line_item_edit, name="tco-line-item-edit"),
    path("tco-line-items/<int:pk>/delete/", tco_line_items.tco_line_item_delete, name="tco-line-item-delete"),
    path("volumes/", volumes.volumes, name="volumes"),
    path("benchmarks/", benchmarks.benchmark_list, name="benchmarks"),
    path("benchmarks/new/", benchmarks.benchmark_create, name="benchmark-create"),
    path("benchmarks/import/", benchmarks.benchmarks_import, name="benchmarks-import"),
    path("benchmarks/<int:pk>/", benchmarks.benchmark_edit, name="benchmark-edit"),
    path("benchmarks/<int:pk>/delete/", benchmarks.benchmark_delete, name="benchmark-delete"),
    path("managed-api-prices/", managed_api_prices.managed_api_price_list, name="managed-api-prices"),
    path(
        "managed-api-prices/new/", managed_api_prices.managed_api_price_create,
        name="managed-api-price-create",
    ),
    path(
        "managed-api-prices/<int:pk>/", managed_api_prices.managed_api_price_edit,
        name="managed-api-price-edit",
    ),
    path(
        "managed-api-prices/<int:pk>/delete/", managed_api_prices.managed_api_price_delete,
        name="managed-api-price-delete",
    ),
    path("initiatives/", initiatives.initiative_list, name="initiatives"),
    path("initiatives/new/", initiatives.initiative_create, name="initiative-create"),
    path("initiatives/<int:pk>/", initiatives.initiative_edit, name="initiative-edit"),
    path("initiatives/<int:pk>/delete/", initiatives.initiative_delete, name="initiative-delete"),
    path("checklist/", checklist.checklist, name="checklist"),
    path("checklist/<int:team_id>/<str:step>/", checklist.checklist_item_save, name="checklist-team-step"),
    path(
        "checklist/<int:team_id>/<int:workload_id>/<str:step>/", checklist.checklist_item_save,
        name="checklist-workload-step",
    ),
]

urlpatterns = [
    path("", include("dashboards.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/api-token/", tokens.api_token, name="api-token"),
    path("accounts/api-token/create", tokens.api_token_create, name="api-token-create"),
    path("accounts/api-token/revoke", tokens.api_token_delete, name="api-token-delete"),
    path("ingest/", include("ingest.urls")),
    path("alerts/", include((alert_patterns, "alerts"))),
    path("manage/", include((manage_patterns, "manage"))),
    path("api/v1/", include("finops.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
