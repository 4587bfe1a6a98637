"""`keycare demo`: a demo operator end to end on the embedded default, then serve the app."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from keycare.core.commands import KeycareCommand
from keycare.core.demo_steps import DemoContext, steps_for

DEMO_AS_OF = "2026-11-22"


class Command(KeycareCommand):
    help = "Generate a demo operator, load it, run the daily pipeline, create demo users, serve."

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=60_000)
        parser.add_argument("--months", type=int, default=8)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--date", default=DEMO_AS_OF, help="business date (YYYY-MM-DD)")
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="stop after loading")

    def run(self, *args, **opts):
        # Inside the delivery location, so an administrator can also start a run on it from 日批运行.
        data_dir = Path(settings.KEYCARE_DATA_DIR) / "demo"
        context = DemoContext(data_dir=data_dir, date=opts["date"], opts=opts)

        def domain_steps(phase):  # each domain's <app>/demo.py (see core/demo_steps.py)
            return [(step.title, lambda step=step: step.run(context)) for step in steps_for(phase)]

        steps = [
            ("数据库迁移 migrate", lambda: call_command("migrate", verbosity=0)),
            ("生成演示数据 synth", lambda: self._synth(data_dir, opts)),
            ("加载客户档案 load", lambda: call_command("load", str(data_dir))),
            ("关键时刻规则 sync", lambda: call_command("syncmoments")),
            *domain_steps("after_load"),
            (
                "日批处理 run",
                lambda: call_command("run", date=opts["date"], data=str(data_dir)),
            ),
            ("加载任务 loadrun", lambda: call_command("loadrun", date=opts["date"])),
            *domain_steps("after_loadrun"),
        ]
        for title, step in steps:
            started = time.monotonic()
            self.stdout.write(f"== {title}")
            step()
            self.stdout.write(f"   {time.monotonic() - started:.1f}s")
        self.stdout.write("== 演示用户 demo users (passwords are shown once)")
        call_command("users")
        if not opts["no_serve"]:
            self.stdout.write(f"== http://{opts['addr']}/  (Ctrl-C to stop)")
            self._serve(opts["addr"])

    def _serve(self, addr: str) -> None:
        """Serve as users would meet the app: DEBUG off, so errors show KeyCare's own pages,
        never a traceback or the URL patterns. With DEBUG off runserver serves no static
        files unless told to (--insecure): there is no web server in front of the demo."""
        settings.DEBUG = False
        call_command("runserver", addr, use_reloader=False, insecure_serving=True)

    def _synth(self, data_dir: Path, opts) -> None:
        if (data_dir / "manifest.json").exists():
            self.stdout.write(f"   reusing {data_dir}")
            return
        call_command(
            "synth",
            subscribers=opts["subscribers"],
            months=opts["months"],
            seed=opts["seed"],
            out=str(data_dir),
            as_of=opts["date"],
        )
