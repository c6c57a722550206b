import pytest

pytestmark = pytest.mark.django_db


def test_it_reports_the_database_and_broker(client, settings):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    expected_broker = "ok" if settings.CELERY_BROKER_URL else "not configured (tasks run eagerly)"
    assert body["checks"]["broker"] == expected_broker


def test_it_fails_when_the_configured_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
