"""keycare risk train | models | promote | evaluate: the churn-risk model's own jobs.

- ``train``: the scheduled (monthly) training job -- a bounded stratified sample, an
  out-of-time comparison with the promoted model, promotion when not worse (the rule);
- ``models``: the registry, newest first, with the promoted one marked;
- ``promote VERSION --reason``: an administrator's promotion (audited);
- ``evaluate``: the default model on a public churn table (stratified K-fold).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from keycare.core.commands import KeycareCommand, parse_int
from keycare.engine.risk.operator import DEFAULT_SAMPLE_ROWS
from keycare.errors import UserError


def _models_dir(options) -> Path:
    from keycare.runs.riskmodels import models_dir

    return Path(options["models_dir"]) if options.get("models_dir") else models_dir()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"--date: {text!r} is not a date (YYYY-MM-DD)") from exc


class Command(KeycareCommand):
    help = "Train and version churn-risk models (train); evaluate the default model on a churn table (evaluate)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        train = sub.add_parser(
            "train",
            help="train on an operator delivery's history and write a versioned model",
        )
        train.add_argument("--data", required=True, help="delivery directory (contract files)")
        train.add_argument("--date", help="business date (default: the manifest's)")
        train.add_argument(
            "--models-dir", default=None, help="model registry (default KEYCARE_HOME/models)"
        )
        train.add_argument(
            "--max-rows",
            default=str(DEFAULT_SAMPLE_ROWS),
            help=f"training sample cap, whatever the base size (default {DEFAULT_SAMPLE_ROWS})",
        )
        train.add_argument(
            "--no-promote",
            action="store_true",
            help="keep the current model even when the new one is not worse",
        )
        models = sub.add_parser("models", help="list the model registry (* = promoted)")
        models.add_argument("--models-dir", default=None)
        models.add_argument("--json", action="store_true")
        promote = sub.add_parser("promote", help="make a version the promoted model (audited)")
        promote.add_argument("version")
        promote.add_argument("--reason", required=True, help="why (kept in the audit log)")
        promote.add_argument("--models-dir", default=None)
        evaluate = sub.add_parser(
            "evaluate",
            help="stratified K-fold evaluation of the default model on a CSV/Parquet table",
        )
        evaluate.add_argument("file")
        evaluate.add_argument("--label", required=True, help="label column")
        evaluate.add_argument("--positive", required=True, help="label value meaning churn")
        evaluate.add_argument("--id", dest="id_column", help="identifier column (not a feature)")
        evaluate.add_argument("--folds", type=int, default=5)
        evaluate.add_argument("--seed", type=int, default=42)
        evaluate.add_argument(
            "--no-select",
            action="store_true",
            help="always the shallow default (no inner-CV choice among the configurations)",
        )

    def handle(self, *args, **options):
        # Only promotion writes to the database (its audit event); training needs none.
        self.needs_database = "migrate" if options.get("action") == "promote" else None
        return super().handle(*args, **options)

    def run(self, *args, **options):
        handler = {
            "train": self._train,
            "models": self._models,
            "promote": self._promote,
            "evaluate": self._evaluate,
        }[options["action"]]
        return handler(options)

    def _train(self, options):
        import time

        from keycare.engine.risk.operator import train_from_delivery

        started = time.monotonic()

        def progress(message: str) -> None:
            self.stderr.write(f"  [{time.monotonic() - started:6.1f}s] {message}")

        result = train_from_delivery(
            Path(options["data"]),
            _models_dir(options),
            _date(options["date"]) if options.get("date") else None,
            max_rows=parse_int(options["max_rows"], "--max-rows", 1000, 50_000_000),
            promote_rule=not options["no_promote"],
            progress=progress,
        )
        holdout = result.metrics.get("holdout")
        self.stderr.write(
            f"模型版本 {result.version}: {result.metrics['rows']} 行训练样本, "
            f"{result.metrics['positives']} 个离网/降档; "
            f"配置 (inner-CV choice) {result.metrics['selection']['selected']}; "
            + (
                f"留出月 {holdout['as_of']} AUC {holdout['auc']}, 前10%提升度 {holdout['lift_top_decile']}"
                if holdout
                else "历史不足, 无留出月评估"
            )
        )
        self.stderr.write(f"启用 (promotion): {result.promotion['reason']}")
        self.stdout.write(
            json.dumps(
                {
                    "version": result.version,
                    "path": str(result.path),
                    "promoted": result.promotion["promoted"],
                    **result.metrics,
                },
                ensure_ascii=False,
            )
        )

    def _models(self, options):
        from keycare.engine.risk.registry import list_models

        found = list_models(_models_dir(options))
        if options["json"]:
            self.stdout.write(json.dumps(found, ensure_ascii=False, default=str))
            return
        if not found:
            self.stdout.write("没有已训练的风险模型 (no trained model): run `keycare risk train`")
            return
        for meta in found:
            holdout = meta.get("metrics", {}).get("holdout") or {}
            self.stdout.write(
                f"{'*' if meta['promoted'] else ' '} {meta['version']}  "
                f"trained {meta.get('trained_at', '?')}  data {meta.get('business_date', '?')}  "
                f"rows {meta.get('metrics', {}).get('rows', '?')}  "
                f"config {(meta.get('selection') or {}).get('selected', 'shallow')}  "
                f"AUC {holdout.get('auc', '-')}  lift@10% {holdout.get('lift_top_decile', '-')}  "
                f"precision@capacity {holdout.get('precision_at_capacity', '-')}"
            )

    def _promote(self, options):
        from keycare.runs.actions import promote_model

        pointer = promote_model(
            None, options["version"], options["reason"], directory=_models_dir(options)
        )
        self.stdout.write(
            f"已启用风险模型 {pointer['version']} (promoted; previous: {pointer['previous'] or '-'})"
        )

    def _evaluate(self, options):
        from keycare.engine.risk.evaluate import evaluate_file, summary_table

        result = evaluate_file(
            Path(options["file"]),
            options["label"],
            options["positive"],
            id_column=options.get("id_column"),
            folds=options["folds"],
            seed=options["seed"],
            select=not options["no_select"],
        )
        print(summary_table(result), file=sys.stderr)
        keys = ("rows", "positives", "model", "baseline_seed_score", "selected")
        self.stdout.write(json.dumps({k: result[k] for k in keys}))
