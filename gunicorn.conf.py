"""How KeyCare's web application is served in production: gunicorn behind a reverse proxy.

    gunicorn -c gunicorn.conf.py keycare.config.wsgi:application

(gunicorn also reads this file by itself when started from the repository's root.) The load
benchmark (``benchmarks/load/run.sh``) serves with it, so its figures are this configuration's.

Processes, not threads: a request that waits on PostgreSQL gives up Python's GIL, and with
several threads in one process it must win the GIL back from the others after every query
(up to the 5 ms switch interval each time). On two cores under the load benchmark, four
processes of four threads served the manager workbench at p95 116-122 ms inside gunicorn (CPU
~20 ms a request); eight single-threaded processes at p95 56-64 ms (docs/performance.md,
"Processes, not threads"). Each process holds one PostgreSQL connection; it is ~205 MB
resident, of which ~30-40 MB its own (PSS) after its first requests: the rest is the warmed
application it shares with the master through preload.

Every setting can be changed by the environment (``KEYCARE_WEB_*``) or on the command line.
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit():
        raise SystemExit(f"{name} must be a whole number, not {value!r}")
    return int(value)


bind = os.environ.get("KEYCARE_WEB_BIND", "127.0.0.1:8000")
# Four processes a core: most of a request's time is waiting on the database, so two per
# core left the cores idle while every process waited.
workers = _int("KEYCARE_WEB_WORKERS", 4 * (os.cpu_count() or 1))
threads = _int("KEYCARE_WEB_THREADS", 1)
worker_class = "gthread"
# Behind a reverse proxy (nginx speaks HTTP/1.0 to its upstream by default) a connection
# carries one request. Without one, a kept-alive connection stays on the process that
# accepted it: under the load benchmark two of four processes did 8x the work of the others.
keepalive = _int("KEYCARE_WEB_KEEPALIVE", 0)
# The master imports the application and warms it (keycare.web.warmup) once; the processes
# it forks share that memory and answer their first request warm.
preload_app = True
# Exports and the run pages may take a while; a stuck request is still ended.
timeout = _int("KEYCARE_WEB_TIMEOUT", 300)
graceful_timeout = 30
# A process is replaced after this many requests (jittered so they are not all replaced at
# once): bounds the growth of the per-process caches.
max_requests = _int("KEYCARE_WEB_MAX_REQUESTS", 20000)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("KEYCARE_WEB_ACCESS_LOG", "-")
# The last field is the time spent inside the process, in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)s'
