"""The production configuration documented in README.md passes Django's deploy checks."""

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
