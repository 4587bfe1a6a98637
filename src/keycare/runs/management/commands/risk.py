"""keycare risk train | evaluate: train and version churn-risk models, evaluate the default model."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError


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
        train.add_argument("--models-dir", required=True, help="where versioned models go")
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

    def run(self, *args, **options):
        if options["action"] == "train":
            return self._train(options)
        return self._evaluate(options)

    def _train(self, options):
        from keycare.engine.risk.operator import train_from_delivery

        result = train_from_delivery(
            Path(options["data"]),
            Path(options["models_dir"]),
            _date(options["date"]) if options.get("date") else None,
        )
        holdout = result.metrics.get("holdout")
        self.stderr.write(
            f"模型版本 {result.version}: {result.metrics['rows']} 行训练样本, "
            f"{result.metrics['positives']} 个离网/降档; "
            + (
                f"留出月 {holdout['as_of']} AUC {holdout['auc']}, 前10%提升度 {holdout['lift_top_decile']}"
                if holdout
                else "历史不足, 无留出月评估"
            )
        )
        self.stdout.write(
            json.dumps({"version": result.version, "path": str(result.path), **result.metrics})
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
        )
        print(summary_table(result), file=sys.stderr)
        keys = ("rows", "positives", "model", "baseline_seed_score")
        self.stdout.write(json.dumps({k: result[k] for k in keys}))
