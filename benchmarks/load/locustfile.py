"""Web and API load: account managers working their day, administrators on their dashboards.

Run through ``benchmarks/load/run.sh`` (starts gunicorn, then locust headless). Logins come
from the file ``benchmarks/load/prepare.py`` writes (``KEYCARE_BENCH_USERS``).

- An account manager logs in once (web form and an API token), then, with 2-6 s between
  actions: the workbench (我的工作台) with its reminders panel (事务提醒, which the page loads
  right after it renders, as a browser does), the task list (a page, sometimes filtered), works a task
  (opens it, claims it, records the outcome and completes it, each write followed by the
  page reload a browser does), and lists today's open tasks through the API with the token.
- An administrator logs in the same way, then: the administrator workbench, the web task
  list, and the API lists of runs, rule versions, tasks and customers (plus the web rules
  and runs pages when the application has them).

Logins are expensive by design (PBKDF2, ~1 s of CPU each): the statistics are reset once
every virtual user has logged in, so the figures describe the working day, which then lasts
``KEYCARE_BENCH_SECONDS`` (default 300); the login phase is written apart to
``KEYCARE_BENCH_OUT/logins.json``. Every status code is counted
(``status.json``) so 5xx answers are reported even when locust lists them among failures.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

USERS = json.loads(
    Path(os.environ.get("KEYCARE_BENCH_USERS", "var/bench-load/users.json")).read_text()
)
OUT = Path(os.environ.get("KEYCARE_BENCH_OUT", "var/bench-load/out"))
PASSWORD = USERS["password"]
DAY = USERS["day"]
_managers = itertools.cycle(USERS["managers"])
_admins = itertools.cycle(USERS["admins"])
TASK_LINK = re.compile(r'href="/tasks/(\d+)/"')
VERSION = {
    action: re.compile(
        rf'name="action" value="{action}"><input type="hidden" name="version" value="(\d+)"'
    )
    for action in ("claim", "outcome")
}
OPTIONAL_ADMIN_PAGES = ["/rules/", "/runs/"]
# The working day measured after the last login (run.sh's DURATION), in seconds.
WORKING_DAY_SECONDS = float(os.environ.get("KEYCARE_BENCH_SECONDS", "300"))

_logged_in = 0
# The latest token per account: when two virtual users share an account (15 administrators,
# 14 administrator logins), the second login rotates the token and both must use the new one.
_tokens: dict[str, str] = {}
_started = time.monotonic()
_status = {"all": Counter(), "working_day": Counter()}


class KeyCareUser(HttpUser):
    abstract = True
    wait_time = between(2, 6)
    account: dict

    def on_start(self):
        self.login()
        self.after_login()
        _count_login(self.environment)

    def after_login(self):
        pass

    def login(self):
        self.client.get("/accounts/login/", name="login page")
        csrf = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.account["username"],
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf,
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            allow_redirects=False,
            name="login (web)",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login refused: {response.status_code}")
        response = self.client.post(
            "/api/auth/token/",
            json={"username": self.account["username"], "password": PASSWORD},
            name="login (API token)",
        )
        if response.ok:
            _tokens[self.account["username"]] = response.json().get("token", "")

    def api_get(self, path, name):
        token = _tokens.get(self.account["username"], "")
        return self.client.get(path, headers={"Authorization": f"Token {token}"}, name=name)


class AccountManager(KeyCareUser):
    weight = 85

    def on_start(self):
        self.account = next(_managers)
        self.open_tasks: list[int] = []
        super().on_start()

    @task(4)
    def workbench(self):
        self.client.get("/workbench/", name="/workbench/")
        # The page's reminders panel (htmx, after the page renders), as a browser loads it.
        self.client.get(
            "/reminders/panel/", name="/reminders/panel/", headers={"HX-Request": "true"}
        )

    @task(2)
    def task_list(self):
        if random.random() < 0.5:
            self.client.get(f"/tasks/?page={random.randint(1, 5)}", name="/tasks/?page=N")
        else:
            self.client.get(f"/tasks/?state=unhandled&date={DAY}", name="/tasks/?state&date")

    @task(2)
    def api_tasks(self):
        response = self.api_get(
            f"/api/tasks/?state=unhandled&business_date={DAY}", name="/api/tasks/?state&date"
        )
        if response.ok:
            self.open_tasks = [row["id"] for row in response.json().get("results", [])]

    @task(3)
    def work_a_task(self):
        if not self.open_tasks:
            self.api_tasks()
        if not self.open_tasks:
            return
        pk = self.open_tasks.pop(random.randrange(len(self.open_tasks)))
        page = self.open_task(pk)
        if page is None or not (version := VERSION["claim"].search(page)):
            return  # taken meanwhile (e.g. by an administrator); pick another next time
        self.write(pk, {"action": "claim", "version": version.group(1)}, "claim")
        page = self.open_task(pk, expect="已领取任务")
        if page is None or not (version := VERSION["outcome"].search(page)):
            return
        outcome = {
            "action": "outcome",
            "version": version.group(1),
            "contact_result": "reached",
            "recommendation": random.choice(["accepted", "declined", "none"]),
            "finish": "no_change",
            "notes": "客户表示满意",
        }
        self.write(pk, outcome, "outcome + complete")
        self.open_task(pk, expect="任务已完成处理")

    def open_task(self, pk, expect=None):
        with self.client.get(f"/tasks/{pk}/", name="/tasks/[id]/", catch_response=True) as response:
            if not response.ok:
                return None
            if expect and expect not in response.text:
                response.failure(f"expected message {expect!r} missing")
                return None
            return response.text

    def write(self, pk, data, what):
        with self.client.post(
            f"/tasks/{pk}/",
            data={**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")},
            headers={"Referer": f"{self.host}/tasks/{pk}/"},
            allow_redirects=False,
            name=f"POST /tasks/[id]/ {what}",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"{what}: {response.status_code}")


class Administrator(KeyCareUser):
    weight = 15

    def on_start(self):
        self.account = next(_admins)
        super().on_start()

    def after_login(self):
        self.pages = [p for p in OPTIONAL_ADMIN_PAGES if self._exists(p)]

    def _exists(self, path):
        with self.client.get(path, name="(probe optional pages)", catch_response=True) as response:
            response.success()  # a missing page is not an error of the application
            return response.status_code == 200

    @task(4)
    def admin_workbench(self):
        self.client.get("/admin-workbench/", name="/admin-workbench/")

    @task(1)
    def task_list(self):
        self.client.get(f"/tasks/?date={DAY}", name="/tasks/?date (admin)")

    @task(1)
    def api_runs(self):
        self.api_get("/api/runs/", name="/api/runs/")

    @task(1)
    def api_rule_versions(self):
        self.api_get("/api/rule-versions/", name="/api/rule-versions/")

    @task(2)
    def api_tasks(self):
        self.api_get(f"/api/tasks/?business_date={DAY}", name="/api/tasks/?date (admin)")

    @task(1)
    def api_customers(self):
        self.api_get("/api/customers/?archive=active", name="/api/customers/ (admin)")

    @task(1)
    def optional_pages(self):
        if self.pages:
            path = random.choice(self.pages)
            self.client.get(path, name=path)


def _count_login(environment):
    """After the last virtual user's login, keep the login figures apart and reset the stats."""
    global _logged_in
    _logged_in += 1
    if _logged_in != environment.parsed_options.num_users:
        return
    stats = environment.runner.stats
    OUT.mkdir(parents=True, exist_ok=True)
    login_phase = {
        "seconds": round(time.monotonic() - _started, 1),
        "entries": [_entry(e) for e in stats.entries.values()],
        "status": dict(_status["all"]),
    }
    (OUT / "logins.json").write_text(json.dumps(login_phase, ensure_ascii=False, indent=1))
    stats.reset_all()
    _status["working_day"].clear()
    _status["working_day_started"] = time.monotonic()
    gevent.spawn_later(WORKING_DAY_SECONDS, environment.runner.quit)


def _entry(entry):
    return {
        "name": entry.name,
        "method": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "p50": entry.get_response_time_percentile(0.5),
        "p95": entry.get_response_time_percentile(0.95),
        "p99": entry.get_response_time_percentile(0.99),
        "max": entry.max_response_time,
    }


@events.request.add_listener
def _count_status(response=None, **_kwargs):
    code = getattr(response, "status_code", 0) or 0
    _status["all"][code] += 1
    _status["working_day"][code] += 1


@events.quitting.add_listener
def _write_status(environment, **_kwargs):
    OUT.mkdir(parents=True, exist_ok=True)
    started = _status.get("working_day_started")
    summary = {
        "all": dict(_status["all"]),
        "working_day": dict(_status["working_day"]) if started else {},
        "working_day_seconds": round(time.monotonic() - started, 1) if started else 0,
    }
    (OUT / "status.json").write_text(json.dumps(summary, indent=1))
