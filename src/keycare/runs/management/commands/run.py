"""`keycare run --date D --data DIR`: the daily key-moment pipeline for one business date.

The full day: detection, risk scoring of the whole in-scope base (the model promoted in
--models-dir; `keycare risk train` trains and promotes, the run never does) and allocation; publishes detections,
risk_scores, tasks and decisions for `keycare loadrun`.

Thin: parses and checks the arguments, then calls keycare.engine.pipeline.run_daily, which
takes plain paths (the engine never imports Django). Progress is shown on a terminal only;
``--json`` prints one machine-readable summary as the last line of stdout for schedulers.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from django.conf import settings

from keycare.core.commands import KeycareCommand, parse_fraction, parse_int
from keycare.engine.backends import ENGINES
from keycare.errors import UserError
from keycare.runs.riskmodels import high_risk_threshold, risk_tasks_threshold


class Command(KeycareCommand):
    help = "Run the daily key-moment pipeline for a business date and publish it atomically."
    needs_database = (
        "prepare"  # reads the key-moment definitions; records the definition set it ran
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="business date, YYYY-MM-DD")
        parser.add_argument("--data", required=True, help="delivery directory (contract files)")
        parser.add_argument(
            "--moments", default=None, help="comma-separated moment codes (default: all due)"
        )
        parser.add_argument("--engine", default="duckdb", help=f"one of {', '.join(ENGINES)}")
        parser.add_argument("--json", action="store_true", help="print a JSON summary last")
        parser.add_argument(
            "--runs-dir", default=None, help=f"published runs (default {settings.KEYCARE_RUNS_DIR})"
        )
        parser.add_argument(
            "--models-dir",
            default=None,
            help="risk models (default: <runs-dir>/../models, i.e. KEYCARE_HOME/models)",
        )
        parser.add_argument(
            "--quarantine-limit",
            default="0.05",
            help="highest share of quarantined rows per file, 0..1 or a percentage (default 5%%)",
        )
        parser.add_argument(
            "--weekly-weekday", default="0", help="weekday of the weekly cycle, 0=Monday"
        )
        parser.add_argument("--monthly-day", default="3", help="day of the monthly cycle, 1..28")
        parser.add_argument(
            "--risk-tasks-above",
            default=None,
            help="raise customers at or above this churn risk (0..1 or a percentage) without a "
            "moment today as calls in the managers' spare capacity (default: the "
            "KEYCARE_RISK_TASKS_ABOVE setting; unset: off)",
        )

    def run(self, *args, **opts):
        as_json = opts["json"]
        try:
            summary = self._run(opts, as_json)
        except UserError as exc:
            if as_json:
                self.stdout.write(
                    json.dumps({"status": "failed", "error": str(exc)}, ensure_ascii=False)
                )
            raise
        if as_json:
            self.stdout.write(json.dumps(summary.as_json(), ensure_ascii=False))
        else:
            self.stdout.write(_human_summary(summary))

    def _run(self, opts, as_json: bool):
        from keycare.engine.pipeline import run_daily
        from keycare.moments.services import current_definitions
        from keycare.runs.prerun import before_run

        business_date = parse_date(opts["date"])
        data_dir = Path(opts["data"])
        if not data_dir.is_dir():
            raise UserError(f"--data: 目录不存在 (directory not found): {data_dir}")
        if opts["engine"] not in ENGINES:
            raise UserError(f"--engine: 未知引擎 {opts['engine']!r}; 可选 {', '.join(ENGINES)}")
        moments = parse_codes(opts["moments"])
        runs_dir = Path(opts["runs_dir"] or settings.KEYCARE_RUNS_DIR)
        models_dir = Path(opts["models_dir"]) if opts["models_dir"] else runs_dir.parent / "models"
        if models_dir.exists() and not models_dir.is_dir():
            raise UserError(f"--models-dir: 不是目录 (not a directory): {models_dir}")
        progress = None if as_json or not self.stdout.isatty() else TerminalProgress(self.stdout)
        # The rules as administrators configured them (built-in YAML until synced).
        definitions, city_overrides = current_definitions()
        try:
            return run_daily(
                business_date,
                data_dir,
                runs_dir,
                engine=opts["engine"],
                moments=moments,
                progress=progress,
                quarantine_limit=parse_fraction(opts["quarantine_limit"]),
                weekly_weekday=parse_int(opts["weekly_weekday"], "--weekly-weekday", 0, 6),
                monthly_day=parse_int(opts["monthly_day"], "--monthly-day", 1, 28),
                models_dir=models_dir,
                risk_tasks_above=risk_tasks_threshold(opts["risk_tasks_above"]),
                reasons_above=high_risk_threshold(),
                definitions=definitions,
                city_overrides=city_overrides,
                **before_run(business_date, runs_dir),  # contact log, allocation settings
            )
        finally:
            if progress:
                progress.close()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise UserError(f"--date: {text!r} 不是 YYYY-MM-DD 格式的日期 (not a date)") from None


def parse_codes(text: str | None) -> list[str] | None:
    if not text:
        return None
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not codes:
        raise UserError("--moments: 没有给出时刻代码 (no moment codes given)")
    return codes


DECISION_NAMES = {
    "call": "外呼",
    "sms": "短信",
    "deferred": "顺延",
    "capped": "频控",
    "expired": "过期",
    "suppressed": "免服务",
    "control": "对照组",
}


def _human_summary(summary) -> str:
    text = (
        f"运行 {summary.run_id} 已发布 (published) {summary.business_date}: "
        f"关键时刻 {sum(summary.counts.values())} 条, 免服务 {summary.suppressed} 位, "
        f"隔离 {summary.quarantined} 行 -> {summary.path}"
    )
    decisions = summary.record.get("decisions")
    if decisions is not None:
        parts = ", ".join(f"{DECISION_NAMES.get(k, k)} {v}" for k, v in decisions.items())
        model = summary.record.get("model_version") or "无 (none)"
        text += f"\n派单决策 (decisions): {parts}; 风险模型 (risk model): {model}"
        raised = (summary.record.get("risk_tasks") or {}).get("raised")
        if raised is not None:
            text += f"\n风险任务 (risk tasks, no moment, spare capacity): {raised}"
        risk = summary.record.get("risk_model") or {}
        if risk.get("scored") is not None and risk.get("reasons_above") is not None:
            text += (
                f"\n风险评分 (risk scores): {risk['scored']} 位, 其中风险不低于 "
                f"{100 * risk['reasons_above']:.1f}% 的 {risk['explained']} 位附原因 "
                "(with reasons)"
            )
        if risk.get("source") == "none":
            text += f"\n{risk.get('reason')}"
        elif (risk.get("drift") or {}).get("alert"):
            drift = risk["drift"]
            text += f"\n漂移告警 (drift alert): PSI > {drift['threshold']}: {', '.join(drift['alerts'])}"
    return text


STEP_NAMES = {
    "ingest": "接收校验 ingest",
    "view": "统一视图 view",
    "detect": "时刻识别 detect",
    "risk": "风险评分 risk",
    "allocate": "派单 allocate",
    "risk_tasks": "风险任务 risk tasks",
    "write": "写出结果 write",
}


class TerminalProgress:
    """Step-by-step progress with rich: a spinner while a step runs, a line when it ends."""

    def __init__(self, stream):
        from rich.console import Console

        self.console = Console(
            file=stream._out if hasattr(stream, "_out") else stream, highlight=False
        )
        self.status = None

    def __call__(self, step: str, event: str, info: dict) -> None:
        title = STEP_NAMES.get(step, step)
        if event == "start":
            self._stop()
            self.status = self.console.status(f"{title} …")
            self.status.start()
        elif event == "file" and self.status:
            self.status.update(f"{title}: {info.get('file')} …")
        elif event == "warning":
            self.console.print(f"[yellow]![/yellow] {title}: {info.get('message')}")
        elif event == "done":
            self._stop()
            rows = info.get("rows")
            rows_text = f"  {rows:,} 行" if isinstance(rows, int) else ""
            self.console.print(f"[green]✓[/green] {title}  {info['seconds']:.2f}s{rows_text}")

    def _stop(self) -> None:
        if self.status:
            self.status.stop()
            self.status = None

    def close(self) -> None:
        self._stop()
