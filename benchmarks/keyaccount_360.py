"""Benchmark: the group 360 page (集团客户 360) at province scale — issue 17's target is p95
≤ 300 ms at 100k groups.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keycare_bench_groups \\
    PYTHONPATH=src .venv/bin/python benchmarks/keyaccount_360.py --groups 100000 [--members 20]

Builds (once; ``--rebuild`` starts over) a PostgreSQL database holding ``--groups`` key
accounts with what the 360 page shows: members (archive customers, ``--members`` on average,
scattered by a hash, so sizes vary), 24 months of revenue, 3-8 products and lines, 4 key
persons with a reporting line, 1-2 contracts, and open call tasks for every 7th member. The
rows are generated in SQL (``generate_series``), not through the delivery loader, because
loading the subscribers of 100k groups through ``keycare load`` would take hours on 2 cores;
every NOT NULL column the SQL does not name gets the model field's own default.

Then requests ``--requests`` group 360 pages of random groups through Django's test client
(the whole view: scope check, audit event, members with their moments and risk, key persons
graph, products, revenue chart, contracts, open work, planned visits, rules, rendering), as a
province administrator and as the groups' key-account managers, and prints p50/p95/p99/max
per role as JSON. Each request is timed alone (server time, no network, no concurrency): the
load benchmark under concurrent users is ``benchmarks/load``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keycare_bench_groups"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20, help="average members per group")
    parser.add_argument("--requests", type=int, default=300, help="pages timed per role")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the database")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--users-file",
        type=Path,
        help="also write logins for the load benchmark (benchmarks/load/locust_group360.py): "
        "200 key-account managers with their groups and 10 province administrators",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database (this builds millions of rows)")
    _create_database(os.environ["DATABASE_URL"], args.rebuild)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    built = _build(args.groups, args.members)
    result = {"groups": args.groups, "members_average": args.members, "build": built}
    result["pages"] = _time_pages(args.requests, random.Random(args.seed))
    if args.users_file:
        result["users_file"] = _write_users(args.users_file, random.Random(args.seed))
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _create_database(url: str, rebuild: bool) -> None:
    name = url.rsplit("/", 1)[1]
    base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-d", "postgres", "-c"]
    if rebuild:
        subprocess.run([*base, f"DROP DATABASE IF EXISTS {name}"], check=True)
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname='{name}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run([*base, f"CREATE DATABASE {name}"], check=True)


def _insert(model, count_sql: str, exprs: dict[str, str], source: str = "") -> float:
    """INSERT … SELECT the rows of ``model``: ``exprs`` maps columns to SQL over ``i`` (and
    whatever ``source`` joins); other NOT NULL columns take the field's default."""
    from django.db import connection

    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in exprs:
            columns.append(field.column)
            values.append(exprs[field.column].replace("%", "%%"))  # psycopg placeholders
        elif not field.null:
            default = field.get_default()
            columns.append(field.column)
            values.append("%s")
            params.append(field.get_db_prep_save(default, connection))
    unknown = set(exprs) - set(columns)
    if unknown:
        raise SystemExit(f"{model.__name__} has no column {sorted(unknown)}")
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} "
        f"FROM {(source or f'generate_series(1, {count_sql}) AS i').replace('%', '%%')}"
    )
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.rowcount
    seconds = round(time.perf_counter() - start, 1)
    print(f"built {model.__name__}: {rows:,} rows in {seconds} s", file=sys.stderr, flush=True)
    return seconds


def _build(groups: int, members: int) -> dict:
    from django.db import connection

    from keycare.customers.models import Customer
    from keycare.keyaccounts.models import (
        KeyAccount,
        KeyAccountContract,
        KeyAccountMember,
        KeyAccountProduct,
        KeyAccountRevenue,
        KeyPerson,
    )
    from keycare.org.models import City, County, Grid, Manager, Province
    from keycare.tasks.models import ServiceTask

    if KeyAccount.objects.count() >= groups:
        return {"reused": True, "key_accounts": KeyAccount.objects.count()}
    seconds = {}
    province = Province.objects.get_or_create(code="BP", defaults={"name": "基准省"})[0]
    for c in range(13):
        city = City.objects.get_or_create(
            code=f"BC{c:02d}", defaults={"name": f"基准市{c:02d}", "province": province}
        )[0]
        county = County.objects.get_or_create(
            code=f"BK{c:02d}", defaults={"name": f"基准县{c:02d}", "city": city}
        )[0]
        Grid.objects.get_or_create(
            code=f"BG{c:02d}", defaults={"name": f"基准网格{c:02d}", "county": county, "city": city}
        )
    cities = list(City.objects.filter(code__startswith="BC").order_by("code"))
    # City i's id; counties and grids follow the same order.
    city_ids = "ARRAY[" + ",".join(str(c.id) for c in cities) + "]"
    county_ids = (
        "ARRAY[" + ",".join(str(County.objects.get(code=f"BK{c:02d}").id) for c in range(13)) + "]"
    )
    grid_ids = (
        "ARRAY[" + ",".join(str(Grid.objects.get(code=f"BG{c:02d}").id) for c in range(13)) + "]"
    )
    managers = max(13, groups // 80)  # a key-account manager serves ~80 groups
    seconds["managers"] = _insert(
        Manager,
        str(managers),
        {
            "manager_id": "'BKM' || lpad(i::text, 6, '0')",
            "name": "'客户经理' || i",
            "mobile": "'139' || lpad(i::text, 8, '0')",
            "city_id": f"({city_ids})[1 + i % 13]",
            "role": "'key_account_manager'",
            "daily_capacity": "60",
        },
    )
    first_manager = Manager.objects.filter(manager_id="BKM000001").values_list("id", flat=True)[0]
    seconds["key_accounts"] = _insert(
        KeyAccount,
        str(groups),
        {
            "key_account_id": "'BKA' || lpad(i::text, 7, '0')",
            "name": "'基准集团' || i || '有限公司'",
            "industry": "(ARRAY['manufacturing','finance','government','education','retail'])[1 + i % 5]",
            "tier": "(ARRAY['A1','A2','B1','B2','C'])[1 + (i * 7) % 5]",
            "delivered_tier": "(ARRAY['A1','A2','B1','B2','C'])[1 + (i * 7) % 5]",
            "city_id": f"({city_ids})[1 + (i % {managers}) % 13]",
            "manager_id": f"{first_manager} + (i % {managers})",
            "created_date": "DATE '2015-01-01' + (i % 3000)",
            "address": "'基准路' || i || '号'",
        },
    )
    ka_first = KeyAccount.objects.order_by("id").values_list("id", flat=True)[0]
    total = groups * members
    seconds["customers"] = _insert(
        Customer,
        str(total),
        {
            "subscriber_id": "'BS' || lpad(i::text, 9, '0')",
            "msisdn": "'138' || lpad(i::text, 8, '0')",
            "name": "'客户' || i",
            "id_number": "'3201' || lpad(i::text, 14, '0')",
            "gender": "(ARRAY['M','F'])[1 + i % 2]",
            "address": "'地址' || i",
            "join_date": "DATE '2010-01-01' + (i % 5000)",
            "city_id": f"({city_ids})[1 + i % 13]",
            "county_id": f"({county_ids})[1 + i % 13]",
            "grid_id": f"({grid_ids})[1 + i % 13]",
            "brand": "'gotone'",
            "plan_code": "'P128'",
            "plan_fee": "128",
            "payment_type": "'postpaid'",
            "status": "'active'",
            "status_date": "DATE '2026-01-01'",
            "value_tier": "'high'",
            "row_hash": "md5(i::text)",
            "created_at": "now()",
            "updated_at": "now()",
            "manager_id": f"{first_manager} + (i % {managers})",
        },
    )
    cust_first = Customer.objects.filter(subscriber_id="BS000000001").values_list("id", flat=True)[
        0
    ]
    # Customer i belongs to one group, scattered by a multiplicative hash: group sizes vary
    # around ``members`` as they would by chance.
    seconds["members"] = _insert(
        KeyAccountMember,
        "",
        {
            "key_account_id": f"{ka_first} + ((i::bigint * 2654435761) % {groups})",
            "customer_id": f"{cust_first} + i - 1",
            "role": "(ARRAY['member','member','member','key_person'])[1 + i % 4]",
            "joined_date": "DATE '2018-01-01' + (i % 2000)",
        },
        source=f"generate_series(1, {total}) AS i",
    )
    seconds["revenue"] = _insert(
        KeyAccountRevenue,
        "",
        {
            "key_account_id": f"{ka_first} + g - 1",
            "month": "to_char(DATE '2024-12-01' + (m || ' month')::interval, 'YYYY-MM')",
            "total_revenue": "round((10000 + (g % 997) * 100 + m * 37)::numeric, 2)",
            "info_revenue": "round((2000 + (g % 499) * 30 + m * 11)::numeric, 2)",
        },
        source=f"generate_series(1, {groups}) AS g, generate_series(0, 23) AS m",
    )
    seconds["products"] = _insert(
        KeyAccountProduct,
        "",
        {
            "product_id": "'BP' || g || '-' || p",
            "key_account_id": f"{ka_first} + g - 1",
            "product_type": "(ARRAY['internet_line','data_line','vpmn','group_ring','mas','cloud'])[1 + (g + p) % 6]",
            "name": "'产品' || p",
            "start_date": "DATE '2020-01-01' + ((g + p) % 1500)",
            "status": "'active'",
        },
        source=f"generate_series(1, {groups}) AS g, generate_series(1, 8) AS p WHERE p <= 3 + g % 6",
    )
    seconds["key_persons"] = _insert(
        KeyPerson,
        "",
        {
            "person_id": "'BKP' || g || '-' || r",
            "key_account_id": f"{ka_first} + g - 1",
            "role": "(ARRAY['decision_maker','contact','finance','it'])[r]",
            "name": "'关键人' || g || '-' || r",
            "title": "(ARRAY['总经理','办公室主任','财务总监','信息部经理'])[r]",
            "mobile": "'137' || lpad((g * 4 + r)::text, 8, '0')",
            "attitude": "'neutral'",
        },
        source=f"generate_series(1, {groups}) AS g, generate_series(1, 4) AS r",
    )
    with connection.cursor() as cursor:  # contact, finance and IT report to the decision maker
        cursor.execute(
            "UPDATE keyaccounts_keyperson p SET reports_to_id = d.id FROM keyaccounts_keyperson d "
            "WHERE d.key_account_id = p.key_account_id AND d.role = 'decision_maker' "
            "AND p.role <> 'decision_maker' AND p.person_id LIKE 'BKP%%'"
        )
    seconds["contracts"] = _insert(
        KeyAccountContract,
        "",
        {
            "contract_id": "'BCT' || g || '-' || k",
            "key_account_id": f"{ka_first} + g - 1",
            "title": "'合同' || k",
            "contract_type": "'framework'",
            "signed_date": "DATE '2024-01-01' + (g % 300)",
            "start_date": "DATE '2024-01-01' + (g % 300)",
            "end_date": "DATE '2026-12-01' + (g % 400)",
            "status": "'active'",
        },
        source=f"generate_series(1, {groups}) AS g, generate_series(1, 2) AS k WHERE k <= 1 + g % 2",
    )
    seconds["tasks"] = _insert(
        ServiceTask,
        "",
        {
            "customer_id": f"{cust_first} + i - 1",
            "manager_id": f"{first_manager} + (i % {managers})",
            "business_date": "DATE '2026-12-04'",
            "channel": "'call'",
            "feedback": "''",
            "created_at": "now()",
            "updated_at": "now()",
        },
        source=f"generate_series(1, {total}, 7) AS i",
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"seconds": seconds, "customers": total, "managers": managers}


def _time_pages(requests: int, rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from keycare.access import roles
    from keycare.keyaccounts.models import KeyAccount
    from keycare.org.models import StaffProfile

    roles.ensure_groups()
    users = {}
    admin, _ = get_user_model().objects.get_or_create(username="bench_groups_province")
    StaffProfile.objects.get_or_create(user=admin, defaults={"role": roles.ROLE_PROVINCE_ADMIN})
    users["province_admin"] = admin
    ids = list(KeyAccount.objects.values_list("id", "manager_id"))
    out = {}
    for role, picks in (
        ("province_admin", rng.sample(ids, requests)),
        ("key_account_manager", rng.sample(ids, requests)),
    ):
        timings, cpu, queries = [], [], []
        client = Client()
        for pk, manager_id in picks:
            if role == "province_admin":
                client.force_login(admin)
            else:
                client.force_login(_manager_user(manager_id))
            with CaptureQueriesContext(connection) as captured:
                start, start_cpu = time.perf_counter(), time.process_time()
                response = client.get(reverse("web:keyaccount-detail", args=[pk]))
                timings.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            queries.append(len(captured))
            if response.status_code != 200:
                raise SystemExit(f"{role}: group {pk} answered {response.status_code}")
        # The first pages warm the template cache. CPU is this process's (Python) only; the
        # database's own work runs in PostgreSQL's processes.
        out[role] = {
            **_percentiles(timings[5:]),
            "python_cpu": _percentiles(cpu[5:]),
            "queries_median": statistics.median(queries[5:]),
        }
    return out


def _manager_user(manager_id: int):
    from django.contrib.auth import get_user_model

    from keycare.access import roles
    from keycare.org.models import StaffProfile

    user, created = get_user_model().objects.get_or_create(username=f"bench_km_{manager_id}")
    if created:
        StaffProfile.objects.create(user=user, role=roles.ROLE_MANAGER, manager_id=manager_id)
    return user


def _write_users(path: Path, rng: random.Random, managers: int = 200, admins: int = 10) -> str:
    """Logins with one known password (one PBKDF2 hash, as benchmarks/load/prepare.py does)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from keycare.access import roles
    from keycare.keyaccounts.models import KeyAccount
    from keycare.org.models import StaffProfile

    password = "bench-groups-360"
    hashed = make_password(password)
    groups_of: dict[int, list[int]] = {}
    for pk, manager_id in KeyAccount.objects.values_list("id", "manager_id").iterator():
        groups_of.setdefault(manager_id, []).append(pk)
    picked = rng.sample(sorted(groups_of), min(managers, len(groups_of)))
    out = {"password": password, "day": "2026-12-04", "managers": [], "admins": []}
    for manager_id in picked:
        user = _manager_user(manager_id)
        user.password = hashed
        user.save(update_fields=["password"])
        out["managers"].append({"username": user.username, "groups": groups_of[manager_id]})
    for i in range(admins):
        user, _ = get_user_model().objects.get_or_create(username=f"bench_groups_province_{i}")
        user.password = hashed
        user.save(update_fields=["password"])
        StaffProfile.objects.get_or_create(user=user, defaults={"role": roles.ROLE_PROVINCE_ADMIN})
        out["admins"].append({"username": user.username})
    out["all_groups"] = rng.sample(
        [pk for ids in groups_of.values() for pk in ids],
        min(20_000, sum(map(len, groups_of.values()))),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return str(path)


def _percentiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)  # noqa: E731
    return {
        "requests": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ms[-1], 1),
    }


if __name__ == "__main__":
    sys.exit(main())
