"""Demo steps contributed by the domains: `keycare demo` runs them beside its own.

A domain that needs something in the demo (trained models, sent messages, surveys, plans...)
defines ``DEMO_STEPS`` in its ``<app>/demo.py``: a list of :class:`DemoStep`. Steps run in
INSTALLED_APPS order within their phase, so the demo's own list never grows a line per domain.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps

# When a step runs: after the archive is loaded (before the daily run), or after the run's
# tasks are loaded into the application.
PHASES = ("after_load", "after_loadrun")


@dataclass(frozen=True)
class DemoContext:
    data_dir: Path
    date: str
    opts: dict


@dataclass(frozen=True)
class DemoStep:
    phase: str
    title: str
    run: Callable[[DemoContext], None]

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"demo step {self.title!r}: phase must be one of {PHASES}")


def steps_for(phase: str) -> list[DemoStep]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.demo":
                raise
            continue
        found += [step for step in getattr(module, "DEMO_STEPS", ()) if step.phase == phase]
    return found
