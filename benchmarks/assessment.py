"""Benchmark: compute a month's KPI assessment for every manager (issue 18: 1,250 managers over
10M customers' recorded activity <= 30 s). PostgreSQL only (the data is generated in SQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kc_bench_assess \\
    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/assessment.py \\
        [--managers 1250] [--customers 10000000] [--tasks-per-day 40] [--days 30]

What "recorded activity" means here: what the eleven indicator formulas read for the month,
at a working month's full volume - every manager's daily call capacity of alert tasks (40 a
day: 1,250 x 40 x 30 = 1.5M tasks; 70% handled, most within a day), an outcome per handled
task, an allocation decision per task (10% control group), key accounts with the tier
service standards and the visits made to about half of them, a submitted month plan per
manager, survey answers, and plan-fee changes in the archive's history; over an archive of
``--customers`` customers (10M by default), 2% of whom churn during the month. The archive's
size matters through the joins (churn, revenue); the month's activity is what the formulas
aggregate. Built once in SQL (``--rebuild`` on an empty database to redo); the timed part is
``keycare.managers.actions.compute_period``: every formula, scoring, ranking and storing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from keycare.customers.models import Customer, CustomerHistory  # noqa: E402
from keycare.keyaccounts.models import KeyAccount  # noqa: E402
from keycare.managers import actions  # noqa: E402
from keycare.managers.models import WorkPlan, WorkRecord  # noqa: E402
from keycare.org.models import City, County, Grid, Manager, Province  # noqa: E402
from keycare.runs.models import Run  # noqa: E402
from keycare.surveys.actions import current_model, ensure_builtins  # noqa: E402
from keycare.surveys.models import SurveyResponse, SurveyTemplate  # noqa: E402
from keycare.tasks.models import AllocationDecision, Outcome, ServiceTask  # noqa: E402

START, END = date(2026, 11, 1), date(2026, 11, 30)
CITIES = 13


def build(args) -> None:
    province = Province.objects.create(code="JS", name="江苏省")
    for i in range(CITIES):
        city = City.objects.create(code=f"C{i:02d}", name=f"城市{i}", province=province)
        county = County.objects.create(code=f"X{i:02d}", name=f"区{i}", city=city)
        Grid.objects.create(code=f"G{i:02d}", name=f"网格{i}", county=county, city=city)
    Manager.objects.bulk_create(
        Manager(manager_id=f"M{n:05d}", name=f"经理{n}", mobile="13900000000",
                city=City.objects.get(code=f"C{n % CITIES:02d}"), role="phone_manager",
                daily_capacity=args.tasks_per_day)
        for n in range(args.managers)
    )  # fmt: skip
    run = Run.objects.create(run_id="bench", business_date=START)
    ensure_builtins()
    template = SurveyTemplate.objects.filter(trigger="moment_served").first()
    params = {
        "n": args.customers, "m": args.managers, "t": args.tasks_per_day, "days": args.days,
        "start": START, "run": run.pk, "template": template.pk, "model": current_model().pk,
        "ka": args.key_accounts,
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cur:
        for label, sql in STEPS:
            began = time.perf_counter()
            cur.execute(sql, params)
            _progress(f"{label} ({time.perf_counter() - began:.0f} s)", cur.rowcount)
        for table in ("customers_customer", "workorders_servicetask", "keyaccounts_keyaccount",
                      "managers_workrecord", "managers_workplan", "managers_planitem",
                      "surveys_surveytask", "surveys_surveyresponse",
                      "customers_customerhistory"):  # fmt: skip
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


# Managers by position (0..m-1), with their city's county and grid: customer g belongs to
# manager g % m, so each manager's customers are g = idx + m * j.
MGR = """CREATE TEMP TABLE IF NOT EXISTS mgr AS
    SELECT row_number() OVER (ORDER BY m.id) - 1 AS idx, m.id, m.city_id, x.id AS county_id,
           g.id AS grid_id
    FROM managers_manager m JOIN customers_county x ON x.city_id = m.city_id
    JOIN customers_grid g ON g.county_id = x.id"""
STEPS = [
    ("manager positions", MGR),
    (
        "customers",
        """
     INSERT INTO customers_customer (id, subscriber_id, msisdn, name, id_number, gender, address,
        join_date, brand, plan_code, plan_fee, payment_type, status, status_date, value_tier,
        archive, attributes, row_hash, created_at, updated_at, city_id, county_id, grid_id,
        manager_id)
     SELECT g + 1, 'S' || lpad(g::text, 9, '0'), '13800000000', '客户', '', 'u', '',
        DATE '2015-01-01', 'gotone', 'P1', 58 + (g %% 8) * 20, 'postpaid',
        CASE WHEN (g * 7919) %% 50 = 0 THEN 'churned' ELSE 'active' END,
        CASE WHEN (g * 7919) %% 50 = 0 THEN %(start)s::date + (g %% 30)::int ELSE DATE '2015-01-01' END,
        'mid_high', 'active', '{}'::jsonb, g::text, now(), now(), mgr.city_id, mgr.county_id,
        mgr.grid_id, mgr.id
     FROM generate_series(0, %(n)s - 1) g JOIN mgr ON mgr.idx = g %% %(m)s""",
    ),
    (
        "call tasks",
        """
     INSERT INTO workorders_servicetask (id, created_at, updated_at, business_date, cycle,
        priority_score, risk_reasons, health_scores, channel, state, version, feedback,
        customer_id, manager_id, city_id, run_id, handled_at)
     SELECT s.id, now(), now(), s.day, 'daily', (s.id %% 100)::float, '[]', '{}', 'call',
        CASE WHEN s.id %% 10 < 7 THEN 'handled_no_change' ELSE 'unhandled' END, 1, '',
        s.customer, s.manager, s.city_id, %(run)s,
        CASE WHEN s.id %% 10 < 7 THEN s.day + make_interval(hours => 9 + (s.id %% 32)::int) END
     FROM (SELECT row_number() OVER () AS id, %(start)s::date + d AS day, mgr.id AS manager,
                  mgr.city_id,
                  1 + mgr.idx + %(m)s::bigint * ((d * %(t)s + k) %% (%(n)s / %(m)s)) AS customer
           FROM generate_series(0, %(days)s - 1) d, mgr, generate_series(0, %(t)s - 1) k) s""",
    ),
    (
        "outcomes",
        """
     INSERT INTO workorders_outcome (contact_result, recommendation, notes, recorded_at, task_id)
     SELECT CASE WHEN id %% 3 < 2 THEN 'reached' ELSE 'not_reached' END,
            (ARRAY['accepted', 'declined', 'none'])[1 + (id / 7) %% 3], '', handled_at, id
     FROM workorders_servicetask WHERE state = 'handled_no_change'""",
    ),
    (
        "allocation decisions",
        """
     INSERT INTO workorders_allocationdecision (business_date, cycle, decision, reason, age_days,
        source, customer_id, manager_id, run_id)
     SELECT business_date, 'daily', CASE WHEN id %% 10 = 3 THEN 'control' ELSE 'call' END, '', 0,
            '', customer_id, manager_id, %(run)s
     FROM workorders_servicetask""",
    ),
    (
        "key accounts",
        """
     INSERT INTO keyaccounts_keyaccount (id, key_account_id, name, industry, tier, credit_rating,
        status, created_date, city_id, manager_id, address, archive, delivered_tier,
        main_business, notes, strategic, version, website)
     SELECT row_number() OVER (), 'K' || mgr.idx || '-' || k, '集团' || mgr.idx || '-' || k,
        'it', (ARRAY['A1', 'A2', 'B1', 'B2', 'C'])[1 + k %% 5], 'A', 'active', DATE '2015-01-01',
        mgr.city_id, mgr.id, '', 'active', '', '', '', false, 1, ''
     FROM mgr, generate_series(0, %(ka)s - 1) k""",
    ),
    (
        "visits",
        """
     INSERT INTO managers_workrecord (id, kind, at, place, content, result, next_step,
        created_at, city_id, manager_id, key_account_id)
     SELECT id, 'visit', %(start)s::date + (id %% 28)::int + interval '10 hours', '', '走访', '', '',
            now(), city_id, manager_id, id
     FROM keyaccounts_keyaccount WHERE id %% 2 = 0""",
    ),
    (
        "month plans (submitted)",
        """
     INSERT INTO managers_workplan (id, period, start, "end", status, note, review_comment,
        created_at, city_id, manager_id, submitted_at)
     SELECT mgr.idx + 1, 'month', %(start)s, %(start)s::date + 29, 'submitted', '', '', now(),
            mgr.city_id, mgr.id, now() FROM mgr""",
    ),
    (
        "plan items",
        """
     INSERT INTO managers_planitem (kind, due_date, source, note, plan_id, key_account_id)
     SELECT 'visit', %(start)s::date + 20, 'standard', '', p.id, k.id
     FROM managers_workplan p JOIN keyaccounts_keyaccount k ON k.manager_id = p.manager_id""",
    ),
    (
        "survey tasks",
        """
     INSERT INTO surveys_surveytask (id, respondent, trigger, source, state, drawn_on, due_on,
        city_id, customer_id, manager_id, template_id)
     SELECT id, 'individual', 'moment_served', 'bench:' || id, 'answered', business_date,
            business_date + 7, city_id, customer_id, manager_id, %(template)s
     FROM workorders_servicetask WHERE id %% 40 = 0""",
    ),
    (
        "survey answers",
        """
     INSERT INTO surveys_surveyresponse (answers, dimension_scores, index, channel, comment,
        answered_at, model_id, task_id)
     SELECT '{}', '{}', 50 + (id * 13) %% 50, 'sms', '', drawn_on + interval '12 hours',
            %(model)s, id
     FROM surveys_surveytask""",
    ),
    (
        "plan-fee history",
        """
     INSERT INTO customers_customerhistory (at, changes, customer_id)
     SELECT %(start)s::date + (id %% 30)::int + interval '6 hours',
            jsonb_build_object('plan_fee', jsonb_build_array(
                (plan_fee + 20)::text, plan_fee::text)), id
     FROM customers_customer WHERE id %% 100 = 7""",
    ),
]


def _stopwatch():
    """A progress callback printing each formula with the seconds since the previous one."""
    last = [time.perf_counter()]

    def report(text):
        now = time.perf_counter()
        print(f"  +{now - last[0]:5.1f} s  {text}", flush=True)
        last[0] = now

    return report


def _progress(what, n) -> None:
    print(f"  {what}: {n}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--managers", type=int, default=1250)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--tasks-per-day", type=int, default=40)
    parser.add_argument("--key-accounts", type=int, default=8, help="per manager")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print(
            "the benchmark generates its data in PostgreSQL SQL: set DATABASE_URL", file=sys.stderr
        )
        return 2
    call_command("migrate", verbosity=0)
    if args.rebuild or not Manager.objects.exists():
        if Manager.objects.exists():
            print("--rebuild needs an empty database (drop and create it)", file=sys.stderr)
            return 2
        began = time.perf_counter()
        build(args)
        print(f"built in {time.perf_counter() - began:.0f} s", flush=True)
    counts = {
        "managers": Manager.objects.count(),
        "customers": Customer.objects.count(),
        "tasks": ServiceTask.objects.filter(business_date__range=(START, END)).count(),
        "outcomes": Outcome.objects.count(),
        "decisions": AllocationDecision.objects.count(),
        "key_accounts": KeyAccount.objects.count(),
        "visits": WorkRecord.objects.count(),
        "plans": WorkPlan.objects.count(),
        "survey_answers": SurveyResponse.objects.count(),
        "fee_changes": CustomerHistory.objects.count(),
    }
    print(f"database {connection.vendor}: {counts}", flush=True)
    print(f"load average before the run: {os.getloadavg()}", flush=True)
    for attempt in (1, 2):
        began = time.perf_counter()
        period = actions.compute_period(
            None, name="2026-11", start=START, end=END, progress=_stopwatch()
        )
        seconds = time.perf_counter() - began
        print(f"run {attempt}: {period.assessments.count()} assessments in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
