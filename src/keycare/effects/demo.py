"""Demo step: a small closed-loop simulation, evaluated and loaded, so the 效果评估 page has
results in the demo. Seconds, not minutes: 3,000 subscribers for 12 days, a busy world
(events x20, churn hazard x8) and a 30% control group, evaluated at 3 and 7 days."""

from pathlib import Path

from django.conf import settings

from keycare.core.demo_steps import DemoStep
from keycare.effects.actions import load_report
from keycare.effects.simulation import builtin_suggest
from keycare.synth.loop import Policy, SimConfig, simulate

DEMO_CONFIG = SimConfig(
    subscribers=3_000,
    days=12,
    seed=1,
    policy=Policy(name="demo", control_share=0.3),
    event_scale=20,
    churn_scale=8,
    horizons=(3, 7),
)


def simulation_dir() -> Path:
    return Path(settings.KEYCARE_DATA_DIR) / "effects-simulation"


def run_simulation(context) -> None:
    out = simulation_dir()
    simulate(DEMO_CONFIG, out, suggest=builtin_suggest())
    load_report(None, out, horizons=DEMO_CONFIG.horizons)


DEMO_STEPS = [DemoStep("after_loadrun", "效果评估仿真 simulate + effect", run_simulation)]
