from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from finops.views import alerts as alert_views
from finops.views.health import healthz

alert_patterns = [
    path("", alert_views.alert_list, name="list"),
    path("<int:pk>/acknowledge", alert_views.acknowledge, name="acknowledge"),
    path("<int:pk>/resolve", alert_views.resolve, name="resolve"),
    path("rules/<int:pk>/mute", alert_views.mute, name="mute"),
    path("rules/<int:pk>/unmute", alert_views.unmute, name="unmute"),
    path("rules/<int:pk>/subscription", alert_views.subscription, name="subscription"),
    path("unsubscribe/<str:token>", alert_views.unsubscribe, name="unsubscribe"),
]

urlpatterns = [
    path("", include("dashboards.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("ingest/", include("ingest.urls")),
    path("alerts/", include((alert_patterns, "alerts"))),
    path("api/v1/", include("finops.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
