"""`manage.py check --deploy` passes with production settings (OWASP ASVS level 2)."""

import os
import secrets
import subprocess
import sys


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "KEYCARE_PRODUCTION": "1",
        "KEYCARE_SECRET_KEY": secrets.token_urlsafe(60),
        "KEYCARE_ALLOWED_HOSTS": "keycare.example.com",
        "KEYCARE_HOME": str(tmp_path),
    }
    env.pop("KEYCARE_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "keycare.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "KEYCARE_PRODUCTION": "1", "KEYCARE_HOME": str(tmp_path)}
    env.pop("KEYCARE_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "keycare.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "KEYCARE_SECRET_KEY" in result.stderr
