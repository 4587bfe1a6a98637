"""Profile the pages and API lists of the load benchmark: time, query count, slowest queries,
and EXPLAIN ANALYZE of the slowest one per page (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keycare_bench \\
        .venv/bin/python benchmarks/load/profile_views.py [--explain] [--repeat 3]

Runs in-process through Django's test client (no HTTP server), as one account manager and
the province administrator from ``prepare.py``'s users file. Reads only; the task page is
profiled with GET.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users-file", default="var/bench-load/users.json")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", help="profile only paths containing this text")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from keycare.tasks.models import ServiceTask

    users = json.loads(Path(args.users_file).read_text())
    day = users["day"]
    User = get_user_model()
    manager = User.objects.get(username=users["managers"][0]["username"])
    admin = User.objects.get(username="bench_province")
    task = ServiceTask.objects.restrict(manager).filter(business_date=day).first()
    pages = {
        manager: [
            "/workbench/",
            "/tasks/?page=3",
            f"/tasks/?state=unhandled&date={day}",
            f"/tasks/{task.pk}/",
            f"/api/tasks/?state=unhandled&business_date={day}",
        ],
        admin: [
            "/admin-workbench/",
            f"/tasks/?date={day}",
            "/api/runs/",
            "/api/rule-versions/",
            f"/api/tasks/?business_date={day}",
            "/api/customers/?archive=active",
        ],
    }
    for user, paths in pages.items():
        client = Client()
        client.force_login(user)
        for path in paths:
            if args.only and args.only not in path:
                continue
            _profile(client, user, path, args)
    return 0


def _profile(client, user, path, args):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(args.repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
    queries = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    db_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    print(
        f"\n{user.username} GET {path}: {response.status_code}, "
        f"{' / '.join(f'{t:.0f}' for t in timings)} ms, {len(ctx.captured_queries)} queries, "
        f"db {db_ms:.0f} ms (last run)"
    )
    for query in queries[:3]:
        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
    if args.explain and queries and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + queries[0]["sql"])
            print("  " + "\n  ".join(row[0] for row in cur.fetchall()))


if __name__ == "__main__":
    sys.exit(main())
