"""Child side of test_kill: preloaded once by a forkserver, so every killed run forks from a
warm process (modules imported, contract, catalog and definitions loaded, one run done) and
starts its work at once instead of paying imports and first-use costs each time."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from keycare.engine import pipeline
from keycare.engine.definitions import load_definitions

DEFINITIONS = load_definitions()


def run(day, data_dir, runs_dir, kill_at=None) -> None:
    if kill_at:
        os.environ["KEYCARE_KILL_AT"] = kill_at
    pipeline.run_daily(day, data_dir, runs_dir, definitions=DEFINITIONS, quarantine_limit=1.0)


def _warm_up() -> None:
    """One small run in the server: first-use costs (SQL parsing caches, DuckDB start-up)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from builders import write_delivery

    with tempfile.TemporaryDirectory() as tmp:
        data = write_delivery(Path(tmp) / "in", {"subscribers": [{}]})
        run(date(2026, 1, 5), data, Path(tmp) / "runs")


_warm_up()
