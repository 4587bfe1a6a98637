"""keycare complaints train | classify FILE | evaluate | load DIR: complaint-text understanding."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keycare.core.commands import KeycareCommand


class Command(KeycareCommand):
    help = (
        "Complaint texts: train the cause/need classifier (train), classify a CSV of texts "
        "(classify), report macro-F1 (evaluate), load and classify a delivery's texts (load)."
    )
    needs_database = None  # only 'load' touches the database; it prepares it itself

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        train = sub.add_parser("train", help="train on synthetic texts into KEYCARE_HOME")
        train.add_argument("--size", type=int, default=24_000, help="training texts")
        classify = sub.add_parser("classify", help="classify a UTF-8 CSV with a 'text' column")
        classify.add_argument("file")
        classify.add_argument("--json", action="store_true", help="last stdout line is JSON")
        classify.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes (default: all cores)",
        )
        evaluate = sub.add_parser("evaluate", help="macro-F1 on the held-out and hand-written sets")
        evaluate.add_argument("--file", help="also a labelled CSV (text, cause, need)")
        load = sub.add_parser("load", help="classify and store a delivery's complaint texts")
        load.add_argument("data", help="delivery directory")
        load.add_argument("--days", type=int, help="only the last N days up to the business date")

    def run(self, *args, **options):
        return getattr(self, f"_{options['action']}")(options)

    def _say(self, text: str) -> None:
        self.stderr.write(text)

    def _train(self, options):
        from keycare.complaints.actions import train_model

        result = train_model(options["size"], say=self._say)
        for name, figures in result["evaluation"].items():
            self._say(
                f"{name}: {figures['rows']} 条, 原因 macro-F1 {figures['cause_macro_f1']}, "
                f"需求 macro-F1 {figures['need_macro_f1']}"
            )
        self.stdout.write(json.dumps(result, ensure_ascii=False))

    def _classify(self, options):
        from keycare.complaints import services

        data = services.read_labelled_csv(Path(options["file"]), labelled=False)
        model = services.current_model()
        workers = max(1, min(options["workers"], os.cpu_count() or 1))
        rows = model.predict(data["text"], workers=workers, progress=self._progress)
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        for text, row in zip(data["text"], rows, strict=True):
            self.stdout.write(f"{row['cause']}\t{row['need']}\t{row['confidence']:.2f}\t{text}")

    def _progress(self, done: int, total: int) -> None:
        if total > 20_000:
            self._say(f"已分类 {done}/{total}")

    def _evaluate(self, options):
        from keycare.complaints import services, textmodel
        from keycare.complaints.actions import evaluate

        model = services.current_model()
        result = evaluate(model)
        if options.get("file"):
            data = services.read_labelled_csv(Path(options["file"]))
            result["file"] = textmodel.evaluate(model, data["text"], data["cause"], data["need"])
        for name, figures in result.items():
            self._say(
                f"{name}: {figures['rows']} 条, 原因 macro-F1 {figures['cause_macro_f1']}, "
                f"需求 macro-F1 {figures['need_macro_f1']}"
            )
        self.stdout.write(json.dumps({"version": model.version, **result}, ensure_ascii=False))

    def _load(self, options):
        from keycare.complaints.actions import load_complaints

        self.needs_database = "migrate"
        self.ready_database()
        summary = load_complaints(Path(options["data"]), say=self._say, days=options.get("days"))
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
