"""CPU per request of the manager's busiest pages, in-process (no HTTP server, no profiler).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keycare_bench \\
        .venv/bin/python benchmarks/load/cpu_per_request.py [--requests 40]

Logs in as the first account manager of ``prepare.py``'s users file and prints, per page,
the median, 10th and 90th percentile of the process CPU time of one request, after three
warm-up requests. CPU time, not wall time: it is what limits throughput on 2 cores.
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

PAGES = ("/workbench/", "/tasks/?page=3")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users-file", default="var/bench-load/users.json")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = json.loads(Path(args.users_file).read_text())
    manager = get_user_model().objects.get(username=users["managers"][0]["username"])
    client = Client()
    client.force_login(manager)
    for page in PAGES:
        for _ in range(3):
            client.get(page)
        samples = []
        for _ in range(args.requests):
            started = time.process_time()
            client.get(page)
            samples.append((time.process_time() - started) * 1000)
        samples.sort()
        n = len(samples)
        print(
            f"{page:20} CPU ms per request: median {samples[n // 2]:.1f}, "
            f"p10 {samples[n // 10]:.1f}, p90 {samples[n * 9 // 10]:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
