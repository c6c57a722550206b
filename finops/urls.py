from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from finops.views.health import healthz

urlpatterns = [
    path("", include("dashboards.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("ingest/", include("ingest.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
