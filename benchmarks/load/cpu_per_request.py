"""CPU per request of the load benchmark's pages, in-process, split between Django and
PostgreSQL (no HTTP server, no profiler).

    .venv/bin/python benchmarks/load/cpu_per_request.py [--requests 40] [--only workbench]

Logs in as the first account manager and the province administrator of ``prepare.py``'s
users file (web session, and an API token for the API lists, as the locustfile does) and
prints, per page, the median CPU milliseconds of one request after three warm-up requests:
this process (Django), the PostgreSQL backend serving its connection (read from
``/proc/<pid>/stat``, so it must run on the database's machine), and their sum, with the
queries per request. CPU time, not wall time: on 2 cores it is what limits throughput.
Reads only (the task page is requested with GET) apart from the session and audit rows
that every such request writes.

With the users file of ``prepare_analysis.py`` (it lists analysts:
``--users-file var/bench-load/users-analysis.json``), the pages are the analysis pages of
``locust_analysis.py`` instead, as a province-wide analyst and as a city analyst.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
TICKS = os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users-file", default="var/bench-load/users.json")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", help="only paths containing this text")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    users = json.loads(Path(args.users_file).read_text())
    print(f"{'page':46} {'django':>7} {'pg':>6} {'total':>6} {'queries':>7}   (CPU ms, median)")
    for client, token, path in _pages(users):
        if args.only and args.only not in path:
            continue
        headers = _headers(token)
        for _ in range(3):
            client.get(path, **headers)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        own, pg = [], []
        for _ in range(args.requests):
            own_0, pg_0 = time.process_time(), _proc_cpu(backend)
            client.get(path, **headers)
            own.append((time.process_time() - own_0) * 1000)
            pg.append((_proc_cpu(backend) - pg_0) * 1000)
        with CaptureQueriesContext(connection) as ctx:
            client.get(path, **headers)
        django_ms, pg_ms = statistics.median(own), statistics.mean(pg)
        print(
            f"{path[:46]:46} {django_ms:7.1f} {pg_ms:6.1f} {django_ms + pg_ms:6.1f} "
            f"{len(ctx.captured_queries):7d}"
        )
    return 0


def _pages(users):
    """(client, API token or None, path) for the requests of the locustfile."""
    if users.get("analysts"):
        return _analysis_pages(users)
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from keycare.tasks.models import ServiceTask

    day = users["day"]
    User = get_user_model()
    manager = User.objects.get(username=users["managers"][0]["username"])
    admin = User.objects.get(username="bench_province")
    task = ServiceTask.objects.restrict(manager).filter(business_date=day).first()
    clients = {}
    for user in (manager, admin):
        client = Client()
        client.force_login(user)
        clients[user] = (client, Token.objects.get_or_create(user=user)[0].key)
    m, m_token = clients[manager]
    a, a_token = clients[admin]
    return [
        (m, None, "/workbench/"),
        (m, "htmx", "/reminders/panel/"),
        (m, None, "/tasks/?page=3"),
        (m, None, f"/tasks/?state=unhandled&date={day}"),
        (m, None, f"/tasks/{task.pk}/"),
        (m, m_token, f"/api/tasks/?state=unhandled&business_date={day}"),
        (a, None, "/admin-workbench/"),
        (a, None, f"/tasks/?date={day}"),
        (a, a_token, "/api/runs/"),
        (a, a_token, "/api/rule-versions/"),
        (a, a_token, f"/api/tasks/?business_date={day}"),
        (a, a_token, "/api/customers/?archive=active"),
    ]


def _analysis_pages(users):
    """The analyst workbench and every analysis (locust_analysis.py), province and city."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from keycare.engine.indicators import load_indicators

    User = get_user_model()
    province = next(a for a in users["analysts"] if not a["city"])
    city = next(a for a in users["analysts"] if a["city"])
    p, c = Client(), Client()
    p.force_login(User.objects.get(username=province["username"]))
    c.force_login(User.objects.get(username=city["username"]))
    code = city["city"]
    pages = [(p, None, "/analytics/")]
    pages += [(p, None, f"/analytics/analyses/{a}/") for a in load_indicators().analyses]
    pages += [
        (p, None, "/analytics/analyses/query/?dimension=grid"),
        (p, None, "/analytics/analyses/query/?dimension=manager&page=2"),
        (p, None, f"/analytics/analyses/development/?dimension=county&city={code}"),
        (p, None, f"/analytics/analyses/revenue/?period={users['months'][-1]}"),
        (p, None, "/analytics/analyses/statistics/?dimension=county&export=xlsx"),
        (c, None, "/analytics/"),
        (c, None, "/analytics/analyses/query/"),
        (c, None, "/analytics/analyses/revenue/?dimension=county"),
        (c, None, "/analytics/analyses/anomalies/"),
    ]
    return pages


def _headers(token) -> dict:
    """An API token, or the header htmx sends when the page loads a panel."""
    if token == "htmx":
        return {"HTTP_HX_REQUEST": "true"}
    return {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


if __name__ == "__main__":
    raise SystemExit(main())
