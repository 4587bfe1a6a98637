"""Prepare the PostgreSQL database for the web and API load benchmark (``benchmarks/load``).

    .venv/bin/python benchmarks/load/prepare.py            # database keycare_bench, >= 1M of each

Steps, each skipped when already done (the script is safe to re-run):

1. create the database (127.0.0.1:5432, user postgres, trust auth) and ``keycare migrate``;
2. customers through the real load path: ``keycare synth`` (1M subscribers, 2 bill months)
   and ``keycare load`` (COPY on PostgreSQL) give ~171k archive customers (the archive keeps
   the mid/high-value and key-account subscribers) and their managers; SQL then copies
   managers and customers (x6) up to ``--min-customers``, each copy with its own manager,
   so portfolios keep the synthetic operator's size (~4,500 customers per manager).
   Synthesising and loading 6M subscribers directly took too long on 2 shared cores;
   ``keycare syncmoments``;
3. users: one account-manager login per portfolio manager, one province administrator and
   one city administrator per city, all with the same known password (one PBKDF2 hash,
   computed once, because hashing thousands of passwords would take an hour on 2 cores);
4. history, generated in SQL rather than by running the daily pipeline ``--days`` times
   (the pipeline is benchmarked on its own in ``benchmarks/engine_run.py``): one run per
   day, each portfolio manager's daily capacity of tasks per day (85% call, 15% SMS) over
   the manager's own portfolio, 1-2 moments per task with the matching detections, past
   tasks handled with an outcome, today's tasks open; appointments and campaign tasks per
   manager. Enough days are generated to pass ``--min-tasks``;
5. reminders (issue 18's workbench panel): an assigned task per city given to every portfolio
   manager of the city, due in three days, and a draft month plan per manager (the key
   accounts, key persons and contracts of the delivery give visits due, birthdays and
   renewals to the managers who have them; the appointments above are due today).

Writes the logins for the locustfile to ``--users-file`` (JSON). Then VACUUM ANALYZE.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEYCARE = REPO / ".venv" / "bin" / "keycare"
PG = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "KeyCare-bench-2026"  # a throw-away benchmark database on localhost only
CALL_SHARE = 0.85


def main() -> int:
    args = _parse()
    os.environ["DATABASE_URL"] = f"{PG}/{args.db}"
    started = time.monotonic()
    _create_database(args.db)
    _keycare("migrate", "-v0")
    _setup_django()
    _customers(args)
    _keycare("syncmoments")
    users = _users(args.users_file, _business_date(args.delivery))
    _history(args)
    _reminders()
    _vacuum()
    print(f"prepared {args.db} in {time.monotonic() - started:.0f} s: {_sizes()}")
    print(
        f"logins ({len(users['managers'])} managers, {len(users['admins'])} admins) in {args.users_file}"
    )
    return 0


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="keycare_bench")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument(
        "--delivery", type=Path, default=REPO / "var" / "bench-load" / "delivery-1000000"
    )
    parser.add_argument(
        "--users-file", type=Path, default=REPO / "var" / "bench-load" / "users.json"
    )
    parser.add_argument("--min-customers", type=int, default=1_000_000)
    parser.add_argument("--min-tasks", type=int, default=1_000_000)
    return parser.parse_args()


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", flush=True)


def _keycare(*argv: str) -> None:
    _log("keycare " + " ".join(argv))
    subprocess.run([str(KEYCARE), *argv], check=True, cwd=REPO)


def _create_database(name: str, template: str | None = None) -> None:
    """Create ``name`` unless it exists; as a file copy of ``template`` if given."""
    import psycopg

    copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        _log(f"CREATE DATABASE {name}{copy}")
        conn.execute(f'CREATE DATABASE "{name}"{copy}')


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    import django

    django.setup()


# --- customers ---------------------------------------------------------------------------


def _customers(args) -> None:
    from keycare.customers.models import Customer

    count = Customer.objects.count()
    if count >= args.min_customers:
        _log(f"customers: {count:,} already loaded")
        return
    if not (args.delivery / "manifest.json").exists():
        args.delivery.parent.mkdir(parents=True, exist_ok=True)
        _keycare(
            "synth", "--subscribers", str(args.subscribers), "--months", "2", "--seed", "7",
            "--out", str(args.delivery),
        )  # fmt: skip
    if not Customer.objects.exists():
        _keycare("load", str(args.delivery))
    count = Customer.objects.count()
    if count < args.min_customers:
        _clone(math.ceil(args.min_customers / count))


def _clone(factor: int) -> None:
    """Copies 1..factor-1 of every manager and of every customer, the copies assigned to the
    copied managers, so portfolios keep the size the synthetic operator gives them.

    Why: on 2 shared cores, synthesising and loading 6M subscribers (1M archive customers)
    takes most of an hour; the real path loads one delivery and SQL scales it. Copies get
    new subscriber ids (``<id>-<k>``), mobile numbers and manager ids (``<id>-<k>``).
    """
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'customers_customer' AND column_name <> 'id'"
        )
        columns = [row[0] for row in cur.fetchall()]
    rewritten = {
        "subscriber_id": "c.subscriber_id || '-' || k",
        "msisdn": "overlay(c.msisdn placing k::text from 4 for 1)",
        "manager_id": "cm.id",
    }
    select = ", ".join(rewritten.get(col, f"c.{col}") for col in columns)
    with transaction.atomic(), connection.cursor() as cur:
        _log(f"cloning customers and managers x{factor}")
        cur.execute(
            f"""INSERT INTO managers_manager (manager_id, name, mobile, city_id, grid_id, role,
                   daily_capacity, active, user_id)
               SELECT m.manager_id || '-' || k, m.name, m.mobile, m.city_id, m.grid_id, m.role,
                   m.daily_capacity, m.active, NULL
               FROM managers_manager m CROSS JOIN generate_series(1, {factor - 1}) AS k
               WHERE m.manager_id NOT LIKE '%-%'"""
        )
        cur.execute(
            f"""INSERT INTO customers_customer ({", ".join(columns)})
               SELECT {select}
               FROM customers_customer c CROSS JOIN generate_series(1, {factor - 1}) AS k
               LEFT JOIN managers_manager om ON om.id = c.manager_id
               LEFT JOIN managers_manager cm ON cm.manager_id = om.manager_id || '-' || k
               WHERE c.subscriber_id NOT LIKE '%-%'"""
        )
        _log(f"  {cur.rowcount:,} customers cloned")
        cur.execute(
            """INSERT INTO customers_assignment (customer_id, manager_id, start_date, end_date)
               SELECT c.id, c.manager_id, c.join_date, NULL FROM customers_customer c
               WHERE c.subscriber_id LIKE '%-%' AND c.manager_id IS NOT NULL"""
        )


# --- users -------------------------------------------------------------------------------


def _users(path: Path, day: date) -> dict:
    """Logins for every portfolio manager and the administrators; same password for all."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.db.models import Count

    from keycare.access import roles
    from keycare.org.models import City, Manager, StaffProfile

    User = get_user_model()
    managers = list(
        Manager.objects.annotate(n=Count("customers"))
        .filter(n__gt=0, active=True)
        .order_by("manager_id")
        .values("id", "manager_id", "city__code", "n")
    )
    plan = [(f"bench_m_{m['manager_id']}", roles.ROLE_MANAGER, None, m["id"]) for m in managers]
    plan.append(("bench_province", roles.ROLE_PROVINCE_ADMIN, None, None))
    cities = list(City.objects.order_by("code").values("id", "code"))
    plan += [(f"bench_city_{c['code']}", roles.ROLE_CITY_ADMIN, c["id"], None) for c in cities]
    existing = set(
        User.objects.filter(username__startswith="bench_").values_list("username", flat=True)
    )
    missing = [row for row in plan if row[0] not in existing]
    if missing:
        _log(f"users: creating {len(missing)}")
        hashed = make_password(PASSWORD)
        groups = roles.ensure_groups()
        with transaction.atomic():
            created = User.objects.bulk_create(
                [User(username=name, password=hashed, is_active=True) for name, *_ in missing]
            )
            by_name = {u.username: u for u in created}
            StaffProfile.objects.bulk_create(
                [
                    StaffProfile(user=by_name[name], role=role, city_id=city, manager_id=manager)
                    for name, role, city, manager in missing
                ]
            )
            through = User.groups.through
            through.objects.bulk_create(
                [
                    through(user_id=by_name[name].pk, group_id=groups[role].pk)
                    for name, role, *_ in missing
                ]
            )
            for name, _role, _city, manager in missing:
                if manager is not None:
                    Manager.objects.filter(pk=manager).update(user=by_name[name])
    users = {
        "password": PASSWORD,
        "day": str(day),
        "managers": [
            {
                "username": f"bench_m_{m['manager_id']}",
                "manager_id": m["manager_id"],
                "customers": m["n"],
            }
            for m in managers
        ],
        "admins": [{"username": "bench_province", "role": "province_admin"}]
        + [{"username": f"bench_city_{c['code']}", "role": "city_admin"} for c in cities],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(users, ensure_ascii=False, indent=1))
    return users


# --- history: runs, tasks, moments, detections, outcomes ----------------------------------


def _history(args) -> None:
    from django.db import connection, transaction

    from keycare.tasks.models import ServiceTask

    count = ServiceTask.objects.count()
    if count >= args.min_tasks:
        _log(f"tasks: {count:,} already there")
        return
    if count:
        sys.exit(f"{count:,} tasks exist but fewer than --min-tasks: drop the database and re-run")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(m.daily_capacity), 0) FROM managers_manager m"
            " WHERE m.active AND EXISTS (SELECT 1 FROM customers_customer c WHERE c.manager_id = m.id)"
        )
        per_day = cur.fetchone()[0]
    if not per_day:
        sys.exit("no manager with a portfolio: load customers first")
    days = math.ceil(args.min_tasks / per_day) + 1
    last = _business_date(args.delivery)
    _log(f"history: {days} days to {last}, ~{per_day:,} tasks a day")
    with transaction.atomic(), connection.cursor() as cur:
        for label, sql in _history_sql(last, days):
            started = time.monotonic()
            cur.execute(sql)
            _log(f"  {label}: {cur.rowcount:,} rows in {time.monotonic() - started:.0f} s")


def _reminders() -> None:
    """Reminder sources the generated history lacks: assigned tasks and month plans."""
    from django.db.models import Count
    from django.utils import timezone

    from keycare.managers import actions
    from keycare.managers.models import AssignedTask
    from keycare.org.models import Manager

    if AssignedTask.objects.exists():
        _log("reminders: assigned tasks already there")
        return
    managers = list(Manager.objects.annotate(n=Count("customers")).filter(n__gt=0, active=True))
    deadline = timezone.now() + timedelta(days=3)
    by_city: dict[int, list] = {}
    for manager in managers:
        by_city.setdefault(manager.city_id, []).append(manager)
    for city, members in by_city.items():
        actions.assign_task(
            None, title="走访重点客户", description="负载测试", deadline=deadline,
            managers=members, city_id=city,
        )  # fmt: skip
    today = timezone.localdate()
    for manager in managers:
        actions.generate_plan(None, manager, period="month", day=today)
    _log(f"reminders: {len(by_city)} assigned tasks, {len(managers)} plans")


def _business_date(delivery: Path) -> date:
    try:
        return date.fromisoformat(
            json.loads((delivery / "manifest.json").read_text())["business_date"]
        )
    except (OSError, KeyError, ValueError):
        return date(2026, 11, 22)


def _history_sql(last: date, days: int) -> list[tuple[str, str]]:
    first = last - timedelta(days=days - 1)
    day = f"('{first}'::date + k)"
    # Each task's day and time: tasks are worked between 09:00 and 18:00 local time.
    return [
        (
            "portfolio ranks",
            """CREATE TEMP TABLE bench_portfolio ON COMMIT DROP AS
               SELECT c.id AS customer_id, c.manager_id, c.city_id,
                      row_number() OVER (PARTITION BY c.manager_id ORDER BY c.id) - 1 AS rn,
                      count(*) OVER (PARTITION BY c.manager_id) AS n, m.daily_capacity AS cap,
                      m.user_id
               FROM customers_customer c JOIN managers_manager m ON m.id = c.manager_id
               WHERE c.archive = 'active' AND m.active""",
        ),
        (
            "runs",
            f"""INSERT INTO workorders_run (run_id, business_date, status, engine,
                   definitions_version, model_version, inputs, timings, counts, quarantined,
                   suppressed, detected, record, load_summary, started_at, finished_at, loaded_at)
               SELECT 'bench-' || to_char({day}, 'YYYYMMDD'), {day}, 'succeeded', 'duckdb',
                   'builtin-1', 'seed-1',
                   '{{"subscribers": {{"rows_in": 6100000, "accepted": 6099990, "quarantined": 10}}}}',
                   '{{"ingest": 26.6, "view": 10.1, "detect": 1.9, "allocate": 11.1}}',
                   '{{}}', 10, 0, 0, '{{}}', '{{}}',
                   ({day} + time '02:00') AT TIME ZONE 'Asia/Shanghai',
                   ({day} + time '02:01') AT TIME ZONE 'Asia/Shanghai',
                   ({day} + time '02:05') AT TIME ZONE 'Asia/Shanghai'
               FROM generate_series(0, {days - 1}) AS k""",
        ),
        (
            "tasks",
            # A rotating window over each portfolio: daily_capacity customers a day.
            f"""INSERT INTO workorders_servicetask (created_at, updated_at, customer_id,
                   manager_id, run_id, business_date, cycle, priority_score, risk_probability,
                   risk_reasons, health_scores, channel, state, version, claimed_by_id,
                   claimed_at, handled_at, feedback, city_id)
               SELECT t.at, t.at, p.customer_id, p.manager_id, r.id, t.d, 'daily',
                   round((100 * random())::numeric, 2), round(random()::numeric, 3),
                   '["ARPU 下降", "流量使用下降"]',
                   '{{"消费": 72, "使用": 65, "服务": 80, "粘性": 58, "信用": 90}}',
                   CASE WHEN random() < {CALL_SHARE} THEN 'call' ELSE 'sms' END,
                   CASE WHEN t.d = '{last}' THEN
                          CASE WHEN random() < 0.9 THEN 'unhandled' ELSE 'in_progress' END
                        WHEN random() < 0.85 THEN 'handled_no_change'
                        WHEN random() < 0.5 THEN 'handled_new_alert' ELSE 'unhandled' END,
                   1, NULL, NULL, NULL, '', p.city_id
               FROM bench_portfolio p
               CROSS JOIN generate_series(0, {days - 1}) AS k
               CROSS JOIN LATERAL (SELECT {day} AS d,
                   ({day} + time '02:05') AT TIME ZONE 'Asia/Shanghai' AS at) t
               JOIN workorders_run r ON r.run_id = 'bench-' || to_char(t.d, 'YYYYMMDD')
               WHERE ((p.rn - k * p.cap) % p.n + p.n) % p.n < p.cap""",
        ),
        (
            "claimed/handled times",
            """UPDATE workorders_servicetask t SET
                   claimed_by_id = m.user_id,
                   claimed_at = t.created_at + interval '7 hours' + random() * interval '4 hours',
                   handled_at = CASE WHEN t.state LIKE 'handled%'
                       THEN t.created_at + interval '11 hours' + random() * interval '5 hours' END,
                   version = CASE WHEN t.state LIKE 'handled%' THEN 3 ELSE 2 END
               FROM managers_manager m
               WHERE m.id = t.manager_id AND t.state <> 'unhandled'""",
        ),
        (
            "task moments",
            # 1-2 moments per task among the enabled proactive moments.
            """WITH mo AS (
                   SELECT id, priority, row_number() OVER (ORDER BY code) - 1 AS i,
                          count(*) OVER () AS n
                   FROM moments_momentdefinition WHERE category <> 'no_service'),
               pick AS (
                   SELECT t.id AS task_id, (t.id % mo1.n) AS i FROM workorders_servicetask t,
                       (SELECT max(n) AS n FROM mo) mo1
                   UNION ALL
                   SELECT t.id, ((t.id % mo1.n) + 1 + (t.id / 3) % (mo1.n - 1)) % mo1.n
                   FROM workorders_servicetask t, (SELECT max(n) AS n FROM mo) mo1
                   WHERE t.id % 3 = 0)
               INSERT INTO workorders_taskmoment (task_id, moment_id, rule_version, priority,
                   params, explanation)
               SELECT pick.task_id, mo.id, 1, mo.priority, '{"threshold": 0.3}',
                   '本月账单较近三月均值下降 35%'
               FROM pick JOIN mo ON mo.i = pick.i""",
        ),
        (
            "detections",
            """INSERT INTO workorders_detection (run_id, customer_id, moment_id, rule_version,
                   business_date, priority, channel, params, explanation)
               SELECT t.run_id, t.customer_id, tm.moment_id, 1, t.business_date, tm.priority,
                   t.channel, tm.params, tm.explanation
               FROM workorders_taskmoment tm JOIN workorders_servicetask t ON t.id = tm.task_id""",
        ),
        (
            "run counts",
            """UPDATE workorders_run r SET detected = d.n
               FROM (SELECT run_id, count(*) AS n FROM workorders_detection GROUP BY run_id) d
               WHERE d.run_id = r.id""",
        ),
        (
            "outcomes",
            """INSERT INTO workorders_outcome (task_id, contact_result, recommendation, notes,
                   recorded_by_id, recorded_at)
               SELECT t.id, CASE WHEN random() < 0.8 THEN 'reached' ELSE 'not_reached' END,
                   CASE WHEN random() < 0.3 THEN 'accepted'
                        WHEN random() < 0.4 THEN 'declined' ELSE 'none' END,
                   '', t.claimed_by_id, t.handled_at
               FROM workorders_servicetask t WHERE t.state LIKE 'handled%'""",
        ),
        (
            "appointments",
            # About 30 per manager over the last weeks: handled, due, and upcoming.
            f"""INSERT INTO workorders_appointment (created_at, updated_at, task_id, customer_id,
                   manager_id, kind, due_at, done_at, notes, created_by_id)
               SELECT t.created_at, t.created_at, t.id, t.customer_id, t.manager_id,
                   CASE WHEN t.id % 2 = 0 THEN 'care_marketing' ELSE 'alert' END,
                   t.created_at + interval '3 days' + (t.id % 48) * interval '1 hour',
                   CASE WHEN t.business_date < '{last}'::date - 5
                        THEN t.created_at + interval '3 days' END,
                   '', t.claimed_by_id
               FROM workorders_servicetask t
               WHERE t.business_date > '{last}'::date - 21 AND t.id % 40 = 0""",
        ),
        (
            "departments",
            """INSERT INTO workorders_department (code, name, active) VALUES
                   ('BENCH-NET', '网络维护部', true), ('BENCH-BILL', '计费账务部', true),
                   ('BENCH-CH', '营业厅渠道', true) ON CONFLICT (code) DO NOTHING""",
        ),
        (
            "campaigns",
            f"""INSERT INTO workorders_campaign (created_at, updated_at, name, description, status,
                   start_date, end_date, script, city_id)
               SELECT now(), now(), c.name || '五G升级关怀活动', '', 'active',
                   '{last}'::date - 10, '{last}'::date + 20, '您好，我是您的客户经理', c.id
               FROM customers_city c""",
        ),
        (
            "campaign managers",
            """INSERT INTO workorders_campaignmanager (campaign_id, manager_id)
               SELECT ca.id, m.id FROM workorders_campaign ca
               JOIN managers_manager m ON m.city_id = ca.city_id
               WHERE EXISTS (SELECT 1 FROM bench_portfolio p WHERE p.manager_id = m.id)""",
        ),
        (
            "campaign tasks",
            # 60 customers per manager; a third already done.
            f"""INSERT INTO workorders_campaigntask (created_at, updated_at, campaign_id,
                   customer_id, manager_id, done_at, contact_result, recommendation, notes,
                   version)
               SELECT now(), now(), cm.campaign_id, p.customer_id, p.manager_id,
                   CASE WHEN p.rn % 3 = 0
                        THEN ('{last}'::date - (p.rn % 7)::int + time '10:00') AT TIME ZONE 'Asia/Shanghai' END,
                   CASE WHEN p.rn % 3 = 0 THEN 'reached' ELSE '' END,
                   CASE WHEN p.rn % 3 = 0 THEN 'accepted' ELSE '' END, '', 1
               FROM bench_portfolio p
               JOIN workorders_campaignmanager cm ON cm.manager_id = p.manager_id
               WHERE p.rn >= p.n - 60""",
        ),
    ]


def _vacuum() -> None:
    from django.db import connection

    _log("VACUUM ANALYZE")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def _sizes() -> str:
    from django.db import connection

    tables = {
        "customers": "customers_customer",
        "managers": "managers_manager",
        "tasks": "workorders_servicetask",
        "task moments": "workorders_taskmoment",
        "detections": "workorders_detection",
        "outcomes": "workorders_outcome",
        "appointments": "workorders_appointment",
        "campaign tasks": "workorders_campaigntask",
    }
    with connection.cursor() as cur:
        parts = []
        for label, table in tables.items():
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            parts.append(f"{label} {cur.fetchone()[0]:,}")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
