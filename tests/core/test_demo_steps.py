"""Domain demo steps: discovered from each app's demo.py, validated by phase."""

import pytest

from keycare.core import demo_steps
from keycare.core.demo_steps import DemoStep


def test_a_step_with_an_unknown_phase_is_refused_by_name():
    with pytest.raises(ValueError, match="phase must be one of"):
        DemoStep(phase="whenever", title="x", run=lambda ctx: None)


def test_steps_are_collected_from_the_apps_demo_modules(monkeypatch):
    import sys
    import types

    module = types.ModuleType("keycare.effects.demo")
    step = DemoStep(phase="after_loadrun", title="effect", run=lambda ctx: None)
    module.DEMO_STEPS = [step, DemoStep(phase="after_load", title="other", run=lambda c: None)]
    monkeypatch.setitem(sys.modules, "keycare.effects.demo", module)
    assert step in demo_steps.steps_for("after_loadrun")
    assert step not in demo_steps.steps_for("after_load")
