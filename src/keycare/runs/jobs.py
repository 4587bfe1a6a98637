"""Daily runs started from the web UI: the request, its detached job, and its progress.

- ``deliveries()`` lists the delivery directories an administrator may choose: the configured
  delivery location (``KEYCARE_DATA_DIR``) itself and its direct subdirectories that hold a
  delivery. The form offers these names only, and a submitted name is looked up in the same
  list, so no path typed by a user ever reaches the file system.
- ``request_run()`` is the action: one transaction, audited, refuses a second run while one
  is queued or running (also enforced by the database, see ``RunRequest.active``), and queues
  ``launch()`` after commit.
- ``launch()`` starts ``keycare runjob <id>`` as a detached OS process (own session, no
  terminal, output to a log file), so the web worker is not blocked and a crash of the job
  cannot take the site down.
- ``execute()`` is what that process does: ``run_daily`` with a progress callback writing
  step, percent and message to the request row, then ``load_run`` (the code behind
  ``keycare loadrun``). The run publishes atomically and the load is one transaction, so a
  failure leaves nothing half-published; the user sees a one-line reason, never a traceback.
- ``reap_stale()`` marks a queued/running request whose process has died as failed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess  # nosec B404
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.masking import scrub_text
from keycare.access.querysets import user_scope
from keycare.core.audit import record
from keycare.errors import UserError
from keycare.runs.models import STEP_LABELS, Run, RunRequest, RunRequestStatus
from keycare.runs.riskmodels import high_risk_threshold, risk_tasks_threshold

logger = logging.getLogger(__name__)

ACTIVE = (RunRequestStatus.QUEUED, RunRequestStatus.RUNNING)
# A request whose process never recorded itself within this time did not start.
LAUNCH_GRACE = timedelta(minutes=2)
DELIVERY_MARKERS = ("manifest.json", "subscribers.parquet", "subscribers.csv")


class RunRequestError(UserError):
    """A run request that cannot be accepted; the message is shown to the user."""


# --- deliveries the UI may choose -------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    name: str  # "." for the delivery location itself, else a direct subdirectory's name
    path: Path
    business_date: date | None


def delivery_root() -> Path:
    return Path(settings.KEYCARE_DATA_DIR)


def deliveries() -> list[Delivery]:
    """The deliveries under the configured location, newest business date first."""
    root = delivery_root()
    if not root.is_dir():
        return []
    real_root = root.resolve()
    candidates = [root, *(p for p in root.iterdir() if not p.name.startswith("."))]
    found = []
    for path in candidates:
        # resolve(): a symlink pointing outside the delivery location is not offered
        if not path.is_dir() or not path.resolve().is_relative_to(real_root):
            continue
        if any((path / marker).is_file() for marker in DELIVERY_MARKERS):
            name = "." if path == root else path.name
            found.append(Delivery(name, path, _manifest_date(path)))
    return sorted(found, key=lambda d: (d.business_date or date.min, d.name), reverse=True)


def resolve_delivery(name: str) -> Delivery:
    for delivery in deliveries():
        if delivery.name == name:
            return delivery
    raise RunRequestError(
        _("数据目录 %(name)s 不在交付目录 %(root)s 下，请从列表中选择")
        % {"name": name, "root": delivery_root()}
    )


def _manifest_date(path: Path) -> date | None:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        return date.fromisoformat(str(manifest["business_date"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- the action -------------------------------------------------------------------------


def can_start_runs(user) -> bool:
    """Runs are province-wide (one delivery, every city): only province administrators."""
    role, _scope = user_scope(user)
    return role == roles.ROLE_PROVINCE_ADMIN


def request_run(actor, business_date: date, delivery_name: str, *, launcher=None) -> RunRequest:
    """Queue a run of ``business_date`` over the chosen delivery and launch it after commit."""
    if not can_start_runs(actor):
        raise RunRequestError(_("只有省级管理员可以发起日批运行"))
    if business_date > timezone.localdate():
        raise RunRequestError(_("业务日期 %(day)s 晚于今天，不能运行") % {"day": business_date})
    delivery = resolve_delivery(delivery_name)
    if delivery.business_date and delivery.business_date != business_date:
        raise RunRequestError(
            _("数据目录 %(name)s 的业务日期是 %(delivered)s，与所选日期 %(day)s 不一致")
            % {"name": delivery.name, "delivered": delivery.business_date, "day": business_date}
        )
    reap_stale()
    launcher = launcher or launch
    try:
        with transaction.atomic():
            current = RunRequest.objects.select_for_update().filter(active=True).first()
            if current is not None:
                raise RunRequestError(_busy_message(current))
            request = RunRequest.objects.create(
                business_date=business_date,
                delivery=delivery.name,
                requested_by=actor,
                host=socket.gethostname(),
                message=_("排队中，等待作业进程启动"),
            )
            record(
                actor,
                "run.request",
                request,
                business_date=business_date.isoformat(),
                delivery=delivery.name,
            )
            transaction.on_commit(lambda: launcher(request.pk))
    except IntegrityError:  # another request won the race for the single active slot
        current = RunRequest.objects.filter(active=True).first()
        raise RunRequestError(_busy_message(current)) from None
    return request


def _busy_message(current: RunRequest | None) -> str:
    if current is None:
        return _("已有一个日批运行在进行中，请等它结束后再发起")
    return _(
        "已有一个日批运行在进行中（业务日期 %(day)s，%(status)s %(percent)s%%），请等它结束后再发起"
    ) % {
        "day": current.business_date,
        "status": current.get_status_display(),
        "percent": current.percent,
    }


# --- launching the detached job ---------------------------------------------------------


def job_log_path(request_id: int) -> Path:
    return Path(settings.KEYCARE_HOME) / "logs" / f"runjob-{request_id}.log"


def launch(request_id: int, *, env: dict | None = None) -> int | None:
    """Start ``keycare runjob <id>`` detached; returns its pid (None when it could not start).

    The child gets the paths this process uses (so it reads and writes the same places) and
    its own session, so signals to the web worker's group do not reach it. A thread waits
    for it so a long-lived worker keeps no zombie; if the worker exits first, init reaps it.
    """
    child_env = {
        **os.environ,
        "KEYCARE_HOME": str(settings.KEYCARE_HOME),
        "KEYCARE_DATA_DIR": str(settings.KEYCARE_DATA_DIR),
        "KEYCARE_RUNS_DIR": str(settings.KEYCARE_RUNS_DIR),
    }
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    log_path = job_log_path(request_id)
    command = [sys.executable, "-m", "keycare.cli", "runjob", str(request_id)]
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            # our own management command, a fixed argv, never a shell
            process = subprocess.Popen(  # nosec B603
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        logger.exception("runjob %s could not be started", request_id)
        _finish(request_id, RunRequestStatus.FAILED, error=_("作业进程无法启动：%s") % exc)
        return None
    RunRequest.objects.filter(pk=request_id, pid__isnull=True).update(pid=process.pid)
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


# --- the job ----------------------------------------------------------------------------


def execute(request_id: int) -> RunRequest:
    """Run the request (in the job process): pipeline with progress, then load into the app."""
    claimed = RunRequest.objects.filter(pk=request_id, status=RunRequestStatus.QUEUED).update(
        status=RunRequestStatus.RUNNING,
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=timezone.now(),
        message=_("作业已启动"),
    )
    if not claimed:
        raise RunRequestError(
            _("运行申请 %(id)s 不存在或不在排队状态，未重复执行") % {"id": request_id}
        )
    request = RunRequest.objects.get(pk=request_id)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        summary = _run_and_load(request)
    except UserError as exc:
        _finish(request.pk, RunRequestStatus.FAILED, error=_phase_prefix(request) + str(exc))
    except Exception as exc:  # the user gets a reason, the log gets the traceback
        logger.exception("runjob %s failed", request.pk)
        error = _phase_prefix(request) + _internal_error(exc, request.pk)
        _finish(request.pk, RunRequestStatus.FAILED, error=error)
    except BaseException:  # SIGTERM / interrupt: record it, then let the process end
        error = _phase_prefix(request) + _("运行被终止（作业进程收到停止信号）")
        _finish(request.pk, RunRequestStatus.FAILED, error=error)
        raise
    else:
        run = Run.objects.filter(run_id=summary["run_id"]).first()
        _finish(request.pk, RunRequestStatus.SUCCEEDED, run=run, summary=summary)
    finally:
        signal.signal(signal.SIGTERM, previous)
    request.refresh_from_db()
    return request


def _run_and_load(request: RunRequest) -> dict:
    from keycare.engine.pipeline import allocation_steps, run_daily
    from keycare.moments.services import current_definitions
    from keycare.runs.loaders import load_run
    from keycare.runs.prerun import before_run

    delivery = resolve_delivery(request.delivery)
    runs_dir = Path(settings.KEYCARE_RUNS_DIR)
    steps = allocation_steps()
    progress = Progress(request.pk, [s.name for s in steps] + ["load"])
    definitions, city_overrides = current_definitions()  # the rules as configured
    run = run_daily(
        request.business_date,
        delivery.path,
        runs_dir,
        progress=progress,
        steps=steps,
        models_dir=runs_dir.parent / "models",  # as `keycare run` does
        risk_tasks_above=risk_tasks_threshold(),
        reasons_above=high_risk_threshold(),
        definitions=definitions,
        city_overrides=city_overrides,
        **before_run(request.business_date, runs_dir),  # contact log, allocation settings
    )
    progress("load", "start", {})
    loaded = load_run(runs_dir, request.business_date, actor=request.requested_by)
    progress("load", "done", {})
    return {**run.as_json(), "load": _jsonable(loaded)}


class Progress:
    """The pipeline's progress callback: writes step, percent and message to the request."""

    def __init__(self, request_id: int, phases: list[str]):
        self.request_id = request_id
        self.phases = phases

    def __call__(self, step: str, event: str, info: dict) -> None:
        index = self.phases.index(step) if step in self.phases else 0
        label = STEP_LABELS.get(step, step)
        if event == "start":
            percent, message = index, _("正在%(step)s…") % {"step": label}
        elif event == "file":
            percent = index
            message = _("正在%(step)s：%(file)s") % {"step": label, "file": info.get("file")}
        elif event == "done":
            percent, message = index + 1, _("%(step)s完成") % {"step": label}
        else:
            return
        RunRequest.objects.filter(pk=self.request_id, status=RunRequestStatus.RUNNING).update(
            step=step[:32],
            percent=min(99, round(100 * percent / len(self.phases))),
            message=message[:300],
        )


def _finish(request_id: int, status: str, *, error: str = "", run=None, summary=None) -> None:
    values = {"status": status, "active": None, "finished_at": timezone.now()}
    if status == RunRequestStatus.SUCCEEDED:
        values.update(percent=100, message=_("运行完成并已加载"), run=run, summary=summary or {})
    else:
        values.update(error=scrub_text(error)[:2000], message=_("运行失败"))
    with transaction.atomic():
        changed = RunRequest.objects.filter(pk=request_id, status__in=ACTIVE).update(**values)
        if changed:
            request = RunRequest.objects.get(pk=request_id)
            record(
                None,
                f"run.request.{status}",
                request,
                business_date=request.business_date.isoformat(),
                run_id=run.run_id if run else "",
                error=values.get("error", ""),
            )


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _phase_prefix(request: RunRequest) -> str:
    """A failure while loading comes after an atomic publish: say the run itself is there."""
    step = RunRequest.objects.filter(pk=request.pk).values_list("step", flat=True).first()
    if step == "load":
        return _("运行结果已发布，但加载到应用失败（可用 keycare loadrun 重试）：")
    return ""


def _internal_error(exc: Exception, request_id: int) -> str:
    return _("运行出错（%(kind)s），详细信息见服务器日志 %(log)s") % {
        "kind": type(exc).__name__,
        "log": job_log_path(request_id).name,
    }


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


# --- stopping a run ---------------------------------------------------------------------


def cancel_run(actor, request_id: int) -> RunRequest:
    """Stop a queued or running request (audited): SIGTERM to its job process, whose handler
    unwinds the run (staging removed, load transaction rolled back) and records the failure.
    A request with no live process on this host is marked failed at once."""
    if not can_start_runs(actor):
        raise RunRequestError(_("只有省级管理员可以停止日批运行"))
    with transaction.atomic():
        request = RunRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or not request.is_active:
            raise RunRequestError(_("该运行已经结束，无需停止"))
        record(actor, "run.cancel", request, business_date=request.business_date.isoformat())
    local = not request.host or request.host == socket.gethostname()
    if local and request.pid and pid_alive(request.pid):
        os.kill(request.pid, signal.SIGTERM)
    else:
        _finish(request.pk, RunRequestStatus.FAILED, error=_("运行已被管理员停止"))
    request.refresh_from_db()
    return request


# --- stale requests ---------------------------------------------------------------------


def reap_stale(*, now=None) -> int:
    """Mark queued/running requests whose job process is gone as failed; returns how many.

    Only requests started on this host can be checked (a pid means nothing elsewhere).
    """
    now = now or timezone.now()
    host = socket.gethostname()
    reaped = 0
    for request in RunRequest.objects.filter(active=True):
        if request.host and request.host != host:
            continue
        if request.pid is None:
            if request.requested_at < now - LAUNCH_GRACE:
                _finish(request.pk, RunRequestStatus.FAILED, error=_("作业进程未能启动"))
                reaped += 1
            continue
        if not pid_alive(request.pid):
            _finish(
                request.pk,
                RunRequestStatus.FAILED,
                error=_("作业进程（pid %(pid)s）已意外退出，运行未完成，未发布任何结果")
                % {"pid": request.pid},
            )
            reaped += 1
    return reaped


def pid_alive(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) runjob process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else: cannot be ours, but do not guess
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal check is all we have
    # A zombie has exited; a live process without "runjob" is a reused pid.
    return state != "Z" and b"\0runjob\0" in cmdline
