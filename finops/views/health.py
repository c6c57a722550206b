from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kombu import Connection


@never_cache
@require_GET
def healthz(request):
    """Liveness for load balancers: the database answers and, when configured, the broker."""
    checks = {"database": _database_status()}
    checks["broker"] = _broker_status() if settings.CELERY_BROKER_URL else "not configured (tasks run eagerly)"
    healthy = all(status == "ok" or status.startswith("not configured") for status in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means unhealthy; the type is what we report
        return f"error: {type(exc).__name__}"
    return "ok"


def _broker_status() -> str:
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
