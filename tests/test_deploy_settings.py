"""The production configuration documented in README.md passes Django's deploy checks."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x7Qp9vL2mN8rT4wZ6yB1cD5fG3hJ0kS" * 2,
    "ALLOWED_HOSTS": "finops.example.com",
    "HTTPS": "true",
    "STATIC_FILES_COLLECTED": "true",
}


def deploy_check(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_production_env_passes_check_deploy():
    result = deploy_check(PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr


def test_a_production_start_without_secret_key_is_caught():
    result = deploy_check({k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"})

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def settings_under(env: dict, *names: str) -> dict:
    """The named settings as finops/settings.py computes them from `env`, in a fresh process."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.startswith("AXES_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean | {"DJANGO_SETTINGS_MODULE": "finops.settings"} | env,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_production_env_makes_cookies_secure_and_the_session_cookie_http_only():
    found = settings_under(PRODUCTION_ENV, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY")

    assert found == {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True}


def test_log_in_throttling_defaults_and_its_environment_variables():
    assert settings_under({}, "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME") == {
        "AXES_FAILURE_LIMIT": 5, "AXES_COOLOFF_TIME": "0:15:00",
    }
    assert settings_under({"AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_MINUTES": "60"},
                          "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME") == {
        "AXES_FAILURE_LIMIT": 3, "AXES_COOLOFF_TIME": "1:00:00",
    }
