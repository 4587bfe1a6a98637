"""Demo steps of the runs app: train and promote the churn-risk model before the daily run.

Training is its own (monthly) job in production; the demo runs it once on its small operator,
with a smaller sample than the production default, so the demo's daily run scores the whole
in-scope base with a promoted model (seconds on the 60k demo).
"""

from __future__ import annotations

from datetime import date

from keycare.core.demo_steps import DemoContext, DemoStep

DEMO_SAMPLE_ROWS = 30_000


def train_risk_model(context: DemoContext) -> None:
    from keycare.engine.risk.operator import train_from_delivery
    from keycare.runs.riskmodels import models_dir

    if not (context.data_dir / "manifest.json").is_file():
        print(
            f"   {context.data_dir}: 没有交付数据，跳过训练 (no delivery, not trained)", flush=True
        )
        return
    result = train_from_delivery(
        context.data_dir,
        models_dir(),
        date.fromisoformat(context.date),
        max_rows=DEMO_SAMPLE_ROWS,
        progress=lambda message: print(f"   {message}", flush=True),
    )
    holdout = result.metrics.get("holdout") or {}
    print(
        f"   模型 {result.version}: {result.metrics['rows']} 行样本, 留出月 AUC "
        f"{holdout.get('auc', '-')}; {result.promotion['reason']}",
        flush=True,
    )


DEMO_STEPS = [DemoStep("after_load", "训练风险模型 risk train", train_risk_model)]
