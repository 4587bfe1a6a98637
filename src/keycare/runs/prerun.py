"""What apps above ``runs`` contribute to a daily run before it starts.

The run command and the run job (``keycare.runs.jobs``) call ``before_run`` and pass what it
returns to ``keycare.engine.pipeline.run_daily`` as keyword arguments. An app registers a
step in its AppConfig.ready (as with ``keycare.runs.loaders.register_load_step``): the tasks
app writes the contact log the cool-down reads and supplies the live allocation settings,
without ``runs`` importing ``tasks`` (it sits below it in the layers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

# step(business_date, runs_dir) -> run_daily keyword arguments (or None)
BEFORE_RUN: list[Callable[[date, Path], dict | None]] = []


def register_before_run(step: Callable[[date, Path], dict | None]) -> None:
    if step not in BEFORE_RUN:
        BEFORE_RUN.append(step)


def before_run(business_date: date, runs_dir: Path) -> dict:
    """Run the registered steps in order; their keyword arguments, merged."""
    kwargs: dict = {}
    for step in BEFORE_RUN:
        kwargs.update(step(business_date, Path(runs_dir)) or {})
    return kwargs
