#!/usr/bin/env bash
# Web and API load benchmark: gunicorn as production serves it (gunicorn.conf.py; production
# settings over plain HTTP, see bench_settings.py) on the database benchmarks/load/prepare.py
# built, locust headless.
#
#   benchmarks/load/run.sh                       # 100 users, 5 minutes after the last login
#   USERS=20 WORKDAY_SECONDS=60 benchmarks/load/run.sh  # a quick check
#   WORKERS=4 THREADS=4 benchmarks/load/run.sh   # gunicorn processes x threads (default: gunicorn.conf.py's)
#
# Locust runs headless (--headless -u 100 -r 10 --csv ...). Every virtual user logs in first
# (web form and API token, PBKDF2 each); the locustfile resets the statistics after the last
# login and stops the run WORKDAY_SECONDS later, so the figures cover a 5-minute working day even
# when the logins queue on a busy machine. MAX_DURATION caps the whole run.
#
# Prints p50/p95/p99 per request type, the error ratio and the load average (report.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

DB=${DB:-keycare_bench}
USERS=${USERS:-100}
SPAWN_RATE=${SPAWN_RATE:-10}
WORKDAY_SECONDS=${WORKDAY_SECONDS:-300}
MAX_DURATION=${MAX_DURATION:-30m}
PORT=${PORT:-18765}
OUT=${OUT:-var/bench-load/out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

# LOCUSTFILE picks another scenario (benchmarks/load/locust_group360.py: the group 360 page).
# Every run works on a fresh copy of the prepared database: a run claims and completes
# thousands of today's tasks, so a second run on the same data would find less work to do
# (and lighter pages) than the first. FRESH=0 reuses the database as it is.
# FILE_COPY: PostgreSQL 15's default copy (WAL_LOG) writes the whole database through the WAL,
# and the checkpoints it forces were still writing when the timed working day began.
RUN_DB=$DB
if [ "${FRESH:-1}" = 1 ]; then
  RUN_DB=${DB}_run
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $RUN_DB" \
    -c "CREATE DATABASE $RUN_DB TEMPLATE $DB STRATEGY FILE_COPY"
fi
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$RUN_DB"
export DJANGO_SETTINGS_MODULE=bench_settings
export PYTHONPATH="$PWD/benchmarks/load${PYTHONPATH:+:$PYTHONPATH}"
export KEYCARE_BENCH_USERS=${KEYCARE_BENCH_USERS:-var/bench-load/users.json}
export KEYCARE_BENCH_OUT="$OUT"
export KEYCARE_BENCH_SECONDS="$WORKDAY_SECONDS"

# locust is the `bench` extra, gunicorn a dependency (both pinned in pyproject.toml). LOCUST / GUNICORN name
# other executables (e.g. locust in a venv of its own, on a machine whose .venv is shared).
LOCUST=${LOCUST:-.venv/bin/locust}
GUNICORN=${GUNICORN:-.venv/bin/gunicorn}
[ -x "$LOCUST" ] && [ -x "$GUNICORN" ] || .venv/bin/pip install -q -e '.[bench]'

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "port $PORT is already in use: set PORT" >&2
  exit 2
fi

# gunicorn.conf.py sets the processes, threads and keep-alive as production has them;
# WORKERS, THREADS and KEEPALIVE override them for a comparison (KEEPALIVE=30: each virtual
# user keeps its connection, and with it the process that accepted it).
export KEYCARE_WEB_WORKERS=${WORKERS:-${KEYCARE_WEB_WORKERS:-}}
export KEYCARE_WEB_THREADS=${THREADS:-${KEYCARE_WEB_THREADS:-}}
export KEYCARE_WEB_KEEPALIVE=${KEEPALIVE:-${KEYCARE_WEB_KEEPALIVE:-}}
export KEYCARE_WEB_BIND="127.0.0.1:$PORT"
export KEYCARE_WEB_ACCESS_LOG="$OUT/access.log"
"$GUNICORN" -c gunicorn.conf.py keycare.config.wsgi:application --error-logfile "$OUT/gunicorn.log" &
SERVER=$!
LOADAVG=""
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  [ -n "$LOADAVG" ] && kill "$LOADAVG" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 60); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/accounts/login/" && break
  sleep 1
done

# Load average and the CPU counters (/proc/stat) every 15 s: other jobs share the 2 cores,
# and the figures must say so; the counters tell how busy the cores really were.
(while true; do echo "$(date -u +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg) $(head -1 /proc/stat)"; sleep 15; done) \
  > "$OUT/loadavg.txt" &
LOADAVG=$!

"$LOCUST" -f "${LOCUSTFILE:-benchmarks/load/locustfile.py}" --headless -u "$USERS" -r "$SPAWN_RATE" \
  -t "$MAX_DURATION" --host "http://127.0.0.1:$PORT" --csv "$OUT/locust" --only-summary \
  > "$OUT/locust.log" 2>&1 || true

.venv/bin/python benchmarks/load/report.py "$OUT"
