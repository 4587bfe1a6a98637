"""The production serving configuration (gunicorn.conf.py) really serves the application."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environ(tmp_path, **env):
    environ = {
        **os.environ,
        "KEYCARE_HOME": str(tmp_path),
        "KEYCARE_WEB_ACCESS_LOG": str(tmp_path / "access.log"),
        **env,
    }
    environ.pop("DATABASE_URL", None)
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    return environ


def _command(*args) -> list[str]:
    return [str(GUNICORN), "-c", "gunicorn.conf.py", *args, "keycare.config.wsgi:application"]


def _serve(tmp_path, **env):
    return subprocess.Popen(
        _command(),
        cwd=ROOT,
        env=_environ(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _get(port: int, path: str, deadline: float):
    """GET over HTTP/1.1 without asking to close: the server decides about keep-alive."""
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path)
            return connection.getresponse()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_configuration_serves_pages_from_single_threaded_processes(tmp_path):
    port = _free_port()
    server = _serve(tmp_path, KEYCARE_WEB_BIND=f"127.0.0.1:{port}", KEYCARE_WEB_WORKERS="2")
    try:
        response = _get(port, "/accounts/login/", time.monotonic() + 60)
        assert response.status == 200
        assert "登录" in response.read().decode()
        # One request per connection, as behind a reverse proxy.
        assert response.headers["Connection"] == "close"
        # The first process may answer before the second has booted.
        deadline = time.monotonic() + 30
        while len(_children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_children(server.pid)) == 2
        log = (tmp_path / "access.log").read_text()
        assert '"GET /accounts/login/ HTTP/1.1" 200' in log
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_processes_are_single_threaded_and_preloaded_by_default(tmp_path):
    env = _environ(tmp_path)
    for name in ("KEYCARE_WEB_WORKERS", "KEYCARE_WEB_THREADS", "KEYCARE_WEB_KEEPALIVE"):
        env.pop(name, None)
    out = subprocess.run(
        _command("--print-config"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    settings = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    settings = {key.strip(): value.strip() for key, value in settings.items()}
    assert settings["threads"] == "1"
    assert settings["worker_class"] == "gthread"
    assert settings["preload_app"] == "True"
    assert settings["keepalive"] == "0"
    assert int(settings["workers"]) == 4 * os.cpu_count()


@pytest.mark.parametrize("value", ["four", "-1", "2.5"])
def test_a_bad_setting_is_named_and_nothing_starts(tmp_path, value):
    server = _serve(tmp_path, KEYCARE_WEB_WORKERS=value, KEYCARE_WEB_BIND="127.0.0.1:1")
    out, _ = server.communicate(timeout=60)
    assert server.returncode != 0
    assert f"KEYCARE_WEB_WORKERS must be a whole number, not '{value}'" in out
    assert "Traceback" not in out
