"""`keycare loadrun --date D [--runs-dir DIR]`: load a published run into the application."""

import json

from django.conf import settings

from keycare.core.commands import KeycareCommand
from keycare.runs.loaders import load_run


class Command(KeycareCommand):
    help = "Load a published daily run (detections, suppressions, quarantine, tasks) into the app."
    needs_database = "prepare"  # links tasks to the key-moment definitions

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="business date (YYYY-MM-DD)")
        parser.add_argument(
            "--runs-dir", default=None, help=f"published runs (default {settings.KEYCARE_RUNS_DIR})"
        )
        parser.add_argument("--force", action="store_true", help="reload even if already loaded")
        parser.add_argument(
            "--json", action="store_true", help="print the summary as one JSON line"
        )

    def run(self, *args, **opts):
        runs_dir = opts["runs_dir"] or settings.KEYCARE_RUNS_DIR
        summary = load_run(runs_dir, opts["date"], force=opts["force"])
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
            return
        self.stdout.write(_describe(summary))


def _describe(summary: dict) -> str:
    if summary.get("already_loaded"):
        return f"批次 {summary['run_id']} 已加载过，未做任何修改 (already loaded, nothing changed)"
    tasks = summary.get("tasks") or {}
    lines = [
        f"批次 {summary['run_id']}（{summary['business_date']}）已加载 loaded:",
        f"  预警 detections {summary.get('detections', 0)}，免服务 suppressions "
        f"{summary.get('suppressions', 0)}，隔离行 quarantined rows {summary.get('quarantine_rows', 0)}",
    ]
    if tasks:
        lines.append(
            "  任务 tasks: 新增 created {created}，更新 updated {updated}，未变 unchanged {unchanged}，"
            "已处理保留 kept (worked) {kept_worked}，撤回 withdrawn {withdrawn}".format(**tasks)
        )
    if summary.get("decisions"):
        lines.append(f"  派送决策 decisions: {summary['decisions']}")
    if summary.get("unknown_subscribers"):
        lines.append(
            f"  未知用户 unknown subscribers: {summary['unknown_subscribers']} "
            f"(e.g. {', '.join(summary['unknown_subscriber_sample'])})"
        )
    if summary.get("unknown_moments"):
        lines.append(f"  未知时刻 unknown moments: {summary['unknown_moments']}")
    if summary.get("unknown_managers"):
        lines.append(f"  未知经理 unknown managers: {summary['unknown_managers']}")
    return "\n".join(lines)
