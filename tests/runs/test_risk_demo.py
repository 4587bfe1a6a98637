"""The demo trains and promotes a risk model before its daily run, so the run scores."""

from pathlib import Path

from keycare.core.demo_steps import DemoContext, steps_for
from keycare.engine.risk import registry
from keycare.runs import demo
from keycare.synth.generator import generate


def test_demo_step_trains_and_promotes_in_the_models_dir(tmp_path, settings, capsys):
    settings.KEYCARE_RUNS_DIR = tmp_path / "home" / "runs"
    data = tmp_path / "data"
    generate(data, subscribers=1500, months=6, seed=2)
    step = next(s for s in steps_for("after_load") if s.run is demo.train_risk_model)
    step.run(DemoContext(data_dir=data, date="2026-11-22", opts={}))
    models = Path(tmp_path / "home" / "models")
    version = registry.promoted_version(models)
    assert version and (models / version / "metadata.json").is_file()
    assert "AUC" in capsys.readouterr().out
