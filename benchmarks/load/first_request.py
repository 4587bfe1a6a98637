"""The first request of each page in a fresh server process, with and without the warm-up.

    .venv/bin/python benchmarks/load/first_request.py [--warm]

Loads the WSGI application as gunicorn does, then (``--warm``) ``keycare.web.warmup.warm_up()``
timed apart, then requests each page once through Django's test client as the first account
manager and the first administrator of ``prepare.py``'s users file. Run it a few times each
way, alternating: what a fresh gunicorn worker pays on its first pages. (The WSGI module warms
up on import; this script builds the application itself so the two can be compared.)
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

PAGES = {
    "managers": ["/workbench/", "/tasks/?page=1", "/customers/"],
    "admins": ["/admin-workbench/", "/analytics/", "/analytics/analyses/revenue/"],
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users-file", default="var/bench-load/users.json")
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    from django.core.wsgi import get_wsgi_application

    get_wsgi_application()
    loaded = time.perf_counter()
    if args.warm:
        from keycare.web.warmup import warm_up

        warm_up()
    warmed = time.perf_counter()
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = json.loads(Path(args.users_file).read_text())
    timings = []
    for role, paths in PAGES.items():
        client = Client()
        client.force_login(get_user_model().objects.get(username=users[role][0]["username"]))
        for path in paths:
            begin = time.perf_counter()
            status = client.get(path).status_code
            timings.append(f"{path} {status} {1000 * (time.perf_counter() - begin):.0f} ms")
    print(
        f"{'warm' if args.warm else 'cold'}: setup {loaded - started:.2f} s, "
        f"warm-up {warmed - loaded:.2f} s | " + " | ".join(timings)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
