"""Prepare the database for the analysis-page load benchmark (issue 19, ``locust_analysis.py``).

    .venv/bin/python benchmarks/load/prepare_analysis.py   # keycare_bench_analysis from keycare_bench

Starts from the load benchmark's database (``benchmarks/load/prepare.py``: ~1M customers, 1M
tasks), which it never writes to, and adds what the analysis pages (统计分析) read. Steps, each
skipped when already done (the script is safe to re-run):

1. ``CREATE DATABASE keycare_bench_analysis TEMPLATE keycare_bench`` (waits for
   ``--ready-file`` first, which whoever builds keycare_bench touches), then ``keycare migrate``;
2. a synthetic delivery with **the same organisation** as keycare_bench's: ``keycare synth``
   with prepare.py's seed (7) and subscriber count (1M) and the same default as-of date, so
   cities, counties, grids and managers have the same codes (the generator draws the
   organisation from the seed before any month), but **13 bill months** so month on month and
   year on year have data;
3. the engine's own daily run on it (``keycare run --date <delivery's business date>``: ingest,
   detection, allocation, indicators), published under ``--runs-dir``; its
   ``indicators.parquet`` is loaded with the application's loader
   (``keycare.analytics.loaders.load_indicator_values``), not the whole run (the run's tasks would
   be extra work on customers the template already has): every bill indicator for 13 months
   and every snapshot indicator for the run's day, per dimension member and city;
4. the daily history of the snapshot indicators: a deployment that has run every day for 13
   months keeps one set of day rows per day (the loader replaces only the day it loads). One
   engine run per past day would need a delivery per day, so SQL copies the computed day to each
   of the ``--history-days`` earlier days with a slow drift (num x (1 - 0.0003 x days back),
   den unchanged), which gives the table the size 13 months of daily runs give it and gives
   month on month and year on year non-zero changes; the values are synthetic;
5. satisfaction surveys: ``--surveys-per-month`` answered surveys per month over the 13 months
   (customers drawn evenly across the delivery's managers' portfolios, answers scored by
   ``keycare.surveys.actions.score`` with the index model), then
   ``load_survey_indicators`` (the scheduler's job) computes the survey indicators;
6. users (same password as prepare.py): ``--province-analysts`` province-wide analysts and
   ``--city-analysts`` analysts per city; the template's province and city administrators are
   reused. Each analyst follows four indicators (the workbench's cards) and has two saved
   analyses; one monthly report (Excel + PDF) of the newest month for the province;
7. ``VACUUM ANALYZE`` of the analytics tables, and the logins for the locustfile in
   ``--users-file`` (JSON: password, day, analysts, admins, cities, months).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from prepare import PG, _create_database, _log, _setup_django  # same folder

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "KeyCare-bench-2026"  # a throw-away benchmark database on localhost only, as prepare.py
SEED = 7  # prepare.py's delivery seed: the same organisation
FOLLOWED = ["customers", "revenue", "arpu", "arrears_rate"]
SAVED = [
    ("地市收入", "revenue", {"dimension": "city"}),
    ("欠费按层级", "arrears", {"dimension": "tier"}),
]


def main() -> int:
    args = _parse()
    started = time.monotonic()
    _wait_for(args.ready_file, args.wait)
    _create_database(args.db, template=args.template)
    os.environ["DATABASE_URL"] = f"{PG}/{args.db}"
    _keycare("migrate", "-v0")
    _setup_django()
    _delivery(args)
    day = _business_date(args.delivery)
    _indicators(args, day)
    _day_history(day, args.history_days)
    _surveys(args, day)
    users = _users(args, day)
    _workbench_things(users)
    _vacuum()
    print(f"prepared {args.db} in {time.monotonic() - started:.0f} s: {_sizes()}")
    print(
        f"logins ({len(users['analysts'])} analysts, {len(users['admins'])} admins) in {args.users_file}"
    )
    return 0


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="keycare_bench_analysis")
    parser.add_argument("--template", default="keycare_bench")
    parser.add_argument("--ready-file", type=Path, default=Path("/tmp/keycare_bench.ready"))
    parser.add_argument("--wait", action="store_true", help="wait for --ready-file (else exit)")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument(
        "--delivery", type=Path, default=REPO / "var" / "bench-load" / "delivery-1000000-13m"
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=REPO / "var" / "bench-load" / "analysis-runs"
    )
    parser.add_argument("--history-days", type=int, default=395)
    parser.add_argument("--surveys-per-month", type=int, default=5000)
    parser.add_argument("--province-analysts", type=int, default=10)
    parser.add_argument("--city-analysts", type=int, default=2)
    parser.add_argument(
        "--users-file", type=Path, default=REPO / "var" / "bench-load" / "users-analysis.json"
    )
    return parser.parse_args()


def _keycare(*argv: str) -> None:
    _log("keycare " + " ".join(argv))
    subprocess.run([sys.executable, "-m", "keycare.cli", *argv], check=True, cwd=REPO)  # nosec B603


def _wait_for(ready: Path, wait: bool) -> None:
    while not ready.exists():
        if not wait:
            sys.exit(f"{ready} does not exist: the template database is not ready (use --wait)")
        time.sleep(30)


def _business_date(delivery: Path) -> date:
    return date.fromisoformat(json.loads((delivery / "manifest.json").read_text())["business_date"])


# --- delivery, run, indicator values -------------------------------------------------------


def _delivery(args) -> None:
    if (args.delivery / "manifest.json").exists():
        return
    args.delivery.parent.mkdir(parents=True, exist_ok=True)
    _keycare(
        "synth", "--subscribers", str(args.subscribers), "--months", str(args.months),
        "--seed", str(SEED), "--out", str(args.delivery),
    )  # fmt: skip


def _indicators(args, day: date) -> None:
    from keycare.analytics.loaders import load_indicator_values
    from keycare.analytics.models import Grain, IndicatorValue
    from keycare.runs.loaders import PublishedRun, RunLoader, _run_fields, published_dir

    if IndicatorValue.objects.filter(grain=Grain.DAY, period=day).exists():
        _log(f"indicator values of {day} already loaded")
        return
    try:
        directory = published_dir(args.runs_dir, day)
    except Exception:  # noqa: BLE001 - not published yet: run it
        args.runs_dir.mkdir(parents=True, exist_ok=True)
        _keycare(
            "run",
            "--date",
            str(day),
            "--data",
            str(args.delivery),
            "--runs-dir",
            str(args.runs_dir),
        )
        directory = published_dir(args.runs_dir, day)
    published = PublishedRun(directory)
    rows = published.table("indicators")
    if not rows:
        sys.exit(f"{directory}: the run published no indicators")
    from django.db import transaction

    loader = RunLoader(
        day, _run_fields(published.record, day), published.record, {"indicators": rows}
    )
    started = time.monotonic()
    with transaction.atomic():
        load_indicator_values(loader)
    _log(f"indicator values: {len(rows):,} rows loaded in {time.monotonic() - started:.0f} s")
    unknown = IndicatorValue.objects.filter(city__isnull=True).count()
    if unknown:
        sys.exit(f"{unknown:,} indicator rows have no city: the organisation does not match")


def _day_history(day: date, days: int) -> None:
    from django.db import connection, transaction

    from keycare.analytics.models import Grain, IndicatorValue

    first = day - timedelta(days=days)
    if IndicatorValue.objects.filter(grain=Grain.DAY, period=first).exists() or days <= 0:
        _log("day history already there")
        return
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """INSERT INTO analytics_indicatorvalue (indicator, grain, period, dimension, member,
                   city_id, num, den, run_id)
               SELECT v.indicator, v.grain, v.period - k, v.dimension, v.member, v.city_id,
                   round((v.num * (1 - 0.0003 * k))::numeric, 2)::float, v.den,
                   'bench-history-' || to_char(v.period - k, 'YYYYMMDD')
               FROM analytics_indicatorvalue v CROSS JOIN generate_series(1, %s) AS k
               WHERE v.grain = %s AND v.period = %s""",
            [days, Grain.DAY.value, day],
        )
        _log(
            f"day history: {cur.rowcount:,} rows for {days} days in {time.monotonic() - started:.0f} s"
        )


# --- surveys --------------------------------------------------------------------------------


def _surveys(args, day: date) -> None:
    from django.db import transaction
    from django.utils import timezone

    from keycare.analytics.loaders import load_survey_indicators
    from keycare.analytics.queries import shift_month
    from keycare.customers.models import Customer
    from keycare.surveys import actions
    from keycare.surveys.models import (
        Respondent,
        SurveyResponse,
        SurveyState,
        SurveyTask,
        SurveyTemplate,
        Trigger,
    )

    if SurveyResponse.objects.exists():
        _log("surveys already answered")
        return
    actions.ensure_builtins()
    model = actions.current_model()
    template = SurveyTemplate.objects.get(trigger=Trigger.MOMENT_SERVED)
    months = [shift_month(day.replace(day=1), -k) for k in range(args.months)]
    wanted = args.surveys_per_month * len(months)
    # The delivery's own customers (the copies' subscriber ids carry a '-k' suffix), spread
    # over every portfolio: an evenly spaced sample ordered by id.
    ids = list(
        Customer.objects.exclude(subscriber_id__contains="-")
        .filter(manager__isnull=False)
        .order_by("id")
        .values_list("id", "manager_id", "city_id")
    )
    step = max(1, len(ids) // wanted)
    sample = ids[::step][:wanted]
    rng = random.Random(SEED)
    tz = timezone.get_current_timezone()
    tasks, responses = [], []
    for n, (customer, manager, city) in enumerate(sample):
        month = months[n % len(months)]
        answered = datetime.combine(month + timedelta(days=n % 27), datetime.min.time(), tz)
        answered += timedelta(hours=9 + n % 9)
        tasks.append(
            SurveyTask(
                template=template, customer_id=customer, respondent=Respondent.INDIVIDUAL,
                trigger=Trigger.MOMENT_SERVED, source=f"bench:{n}", manager_id=manager,
                city_id=city, state=SurveyState.ANSWERED, drawn_on=answered.date(),
                due_on=answered.date() + timedelta(days=7),
            )
        )  # fmt: skip
        base = rng.choice((6, 7, 8, 8, 9, 9, 10))
        answers = {
            q["code"]: max(0, min(template.scale_max, base + rng.randint(-2, 1)))
            for q in template.questions
        }
        dims, index = actions.score(template, model, answers)
        responses.append((answers, dims, index, answered))
    started = time.monotonic()
    with transaction.atomic():
        created = SurveyTask.objects.bulk_create(tasks, batch_size=2000)
        SurveyResponse.objects.bulk_create(
            [
                SurveyResponse(
                    task=task,
                    answers=a,
                    dimension_scores=d,
                    index=i,
                    model=model,
                    channel="manager",
                    answered_at=at,
                )  # fmt: skip
                for task, (a, d, i, at) in zip(created, responses, strict=True)
            ],
            batch_size=2000,
        )
    rows = load_survey_indicators()
    _log(
        f"surveys: {len(created):,} answered over {len(months)} months, {rows:,} indicator rows,"
        f" {time.monotonic() - started:.0f} s"
    )


# --- users and their workbench ---------------------------------------------------------------


def _users(args, day: date) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from keycare.access import roles
    from keycare.analytics import queries
    from keycare.org.models import City, StaffProfile

    User = get_user_model()
    cities = list(City.objects.order_by("code").values("id", "code"))
    plan = [(f"bench_analyst_p{k:02d}", None) for k in range(1, args.province_analysts + 1)] + [
        (f"bench_analyst_{c['code']}_{k}", c["id"])
        for c in cities
        for k in range(1, args.city_analysts + 1)
    ]
    existing = set(
        User.objects.filter(username__startswith="bench_analyst_").values_list(
            "username", flat=True
        )
    )
    missing = [row for row in plan if row[0] not in existing]
    if missing:
        _log(f"users: creating {len(missing)} analysts")
        hashed = make_password(PASSWORD)
        group = roles.ensure_groups()[roles.ROLE_ANALYST]
        with transaction.atomic():
            created = User.objects.bulk_create(
                [User(username=name, password=hashed, is_active=True) for name, _ in missing]
            )
            StaffProfile.objects.bulk_create(
                [
                    StaffProfile(user=u, role=roles.ROLE_ANALYST, city_id=city)
                    for u, (_, city) in zip(created, missing, strict=True)
                ]
            )
            through = User.groups.through
            through.objects.bulk_create([through(user_id=u.pk, group_id=group.pk) for u in created])
    admins = ["bench_province"] + [f"bench_city_{c['code']}" for c in cities]
    present = set(User.objects.filter(username__in=admins).values_list("username", flat=True))
    if len(present) != len(admins):
        sys.exit(f"administrators missing in the template: {sorted(set(admins) - present)}")
    months = [f"{m:%Y-%m}" for m in queries.months_available(_System())]
    users = {
        "password": PASSWORD,
        "day": str(day),
        "managers": [],
        "analysts": [
            {"username": name, "city": next((c["code"] for c in cities if c["id"] == city), None)}
            for name, city in plan
        ],
        "admins": [{"username": "bench_province", "role": "province_admin", "city": None}]
        + [
            {"username": f"bench_city_{c['code']}", "role": "city_admin", "city": c["code"]}
            for c in cities
        ],
        "cities": [c["code"] for c in cities],
        "months": months,
    }
    args.users_file.parent.mkdir(parents=True, exist_ok=True)
    args.users_file.write_text(json.dumps(users, ensure_ascii=False, indent=1))
    return users


class _System:
    """Province scope for reading what months exist (as the report job reads)."""

    is_authenticated = True
    is_superuser = True
    pk = None


def _workbench_things(users: dict) -> None:
    from django.contrib.auth import get_user_model

    from keycare.analytics.models import FollowedIndicator, MonthlyReport, SavedAnalysis
    from keycare.analytics.reports import make_report

    User = get_user_model()
    names = [u["username"] for u in users["analysts"]] + [a["username"] for a in users["admins"]]
    people = list(User.objects.filter(username__in=names))
    if not FollowedIndicator.objects.filter(user__in=people).exists():
        FollowedIndicator.objects.bulk_create(
            [FollowedIndicator(user=u, indicator=code) for u in people for code in FOLLOWED]
        )
        SavedAnalysis.objects.bulk_create(
            [
                SavedAnalysis(user=u, name=name, analysis=code, params=params)
                for u in people
                for name, code, params in SAVED
            ]
        )
        _log(f"workbench: {len(people)} users follow {len(FOLLOWED)} indicators each")
    if not MonthlyReport.objects.exists() and users["months"]:
        started = time.monotonic()
        make_report(date.fromisoformat(users["months"][0] + "-01"))
        _log(f"monthly report {users['months'][0]} in {time.monotonic() - started:.0f} s")


def _vacuum() -> None:
    from django.db import connection

    _log("VACUUM ANALYZE (analytics and surveys tables)")
    with connection.cursor() as cur:
        for table in (
            "analytics_indicatorvalue", "analytics_followedindicator", "analytics_savedanalysis",
            "surveys_surveytask", "surveys_surveyresponse",
        ):  # fmt: skip
            cur.execute(f"VACUUM ANALYZE {table}")


def _sizes() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
        cur.execute(
            "SELECT grain, count(*), count(DISTINCT period) FROM analytics_indicatorvalue GROUP BY grain"
        )
        grains = {g: (n, p) for g, n, p in cur.fetchall()}
        cur.execute("SELECT count(*) FROM surveys_surveyresponse")
        surveys = cur.fetchone()[0]
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('analytics_indicatorvalue'))")
        size = cur.fetchone()[0]
    parts = [f"customers {customers:,}", f"survey responses {surveys:,}"]
    parts += [
        f"indicator rows ({g}) {n:,} over {p} periods" for g, (n, p) in sorted(grains.items())
    ]
    return ", ".join(parts) + f", indicator table {size}"


if __name__ == "__main__":
    sys.exit(main())
