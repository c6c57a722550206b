import pytest

from finops.celery import app as celery_app


@pytest.fixture(autouse=True)
def _eager_celery_by_default():
    """Tasks run in-process unless a test starts a real worker (tests/test_celery_worker.py)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _demo_data_in_tmp(settings, tmp_path):
    settings.DEMO_DATA_DIR = tmp_path / "demo"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
