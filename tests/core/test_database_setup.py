"""Commands in a fresh KEYCARE_HOME: they set the database up, or say in one line what to run.

Each test runs the real ``keycare`` console entry point in a subprocess on a new SQLite
file under tmp_path (no DATABASE_URL), the way an operator meets it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from keycare.core.commands import DATABASE_NEEDS, KeycareCommand

# The survey of KeyCare's commands (see keycare/core/commands.py for what each value does).
EXPECTED_NEEDS = {
    "run": "prepare",
    "load": "migrate",
    "loadrun": "prepare",
    "users": "migrate",
    "assess": "migrate",
    "syncmoments": "migrate",
    "runjob": "require",
    "escalate": "require",
    "reminders": "require",  # the managers' daily digest, from cron
    "monthlyreport": "require",
    "schedule": "require",  # periodic jobs, from cron
    "grouprules": "require",
    "tiers": "require",
    "catalog": None,
    "synth": None,
    "risk": None,
    "demo": None,  # migrates and syncs as steps of its own
    "simulate": None,
    "effect": None,  # with --load it prepares the database
    "complaints": None,  # only its load subcommand migrates, by itself
    "knowledge": "migrate",
    "sms_send": "require",  # sending: run from cron on a set-up database
    "sms_worker": "require",
    "sms_receipts": "require",
    "sms_gateway": None,
    "signalling": "require",  # produce reads the loaded customers; consume writes detections
    "signalling_spark": "require",  # the Spark query commits detections like consume
}


def keycare(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEYCARE_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "keycare.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tables(home: Path) -> set[str]:
    path = home / "keycare.sqlite3"
    if not path.exists():
        return set()
    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def moment_count(home: Path) -> int:
    with sqlite3.connect(home / "keycare.sqlite3") as con:
        return con.execute("SELECT count(*) FROM moments_momentdefinition").fetchone()[0]


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "delivery"
    result = keycare(out.parent / "home", "synth", "--subscribers", "120", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_every_keycare_command_declares_what_it_needs_of_the_database():
    found = {}
    for name, app in get_commands().items():
        command = load_command_class(app, name)
        if isinstance(command, KeycareCommand):
            assert command.needs_database in DATABASE_NEEDS, name
            found[name] = command.needs_database
    assert found == EXPECTED_NEEDS


def test_run_in_a_fresh_home_prepares_the_database_then_runs(tmp_path, delivery):
    home = tmp_path / "home"
    args = ("run", "--date", "2026-11-22", "--data", str(delivery), "--json")
    first = keycare(home, *args)

    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert json.loads(first.stdout.strip().splitlines()[-1])["status"] == "published"
    assert "database prepared" in first.stderr and "created 37" in first.stderr
    assert moment_count(home) == 37

    again = keycare(home, *args)  # prepared once: nothing to do the second time

    assert again.returncode == 0, again.stderr
    assert "prepared" not in again.stderr and "created" not in again.stderr
    assert moment_count(home) == 37


def test_load_in_a_fresh_home_prepares_the_database(tmp_path, delivery):
    home = tmp_path / "home"
    result = keycare(home, "load", str(delivery))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "database prepared" in result.stderr
    assert "created" in result.stdout


def test_syncmoments_in_a_fresh_home_migrates_and_imports_once(tmp_path):
    home = tmp_path / "home"
    result = keycare(home, "syncmoments")

    assert result.returncode == 0, result.stderr
    assert "created 37, existing 0" in result.stdout
    assert "imported" not in result.stderr  # the command's own import, not a second one


@pytest.mark.parametrize("args", [("escalate", "--json"), ("runjob", "1")])
def test_commands_that_require_a_set_up_database_say_what_to_run(tmp_path, args):
    home = tmp_path / "home"
    result = keycare(home, *args)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "keycare migrate" in line and "数据库尚未初始化" in line
    assert result.stdout == ""
    assert not (tables(home) - {"sqlite_sequence"})  # nothing was created
