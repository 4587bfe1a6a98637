"""Load on the analysis pages (统计分析): issue 19's target, every analysis page p95 ≤ 1 s at 1M.

Runs on the database ``benchmarks/load/prepare_analysis.py`` built (keycare_bench_analysis)
through ``benchmarks/load/run.sh``::

    DB=keycare_bench_analysis FRESH=0 USERS=40 LOCUSTFILE=benchmarks/load/locust_analysis.py \\
        KEYCARE_BENCH_USERS=var/bench-load/users-analysis.json benchmarks/load/run.sh

Province-wide analysts, city analysts, the province administrator and city administrators
open the analyst workbench (分析工作台) and the analyses of engine/indicators.yaml
(综合查询 6.1.1, 综合统计 6.1.2, 6.2.2-6.2.11): the default view, another dimension, a drill-down
into a city (its counties, grids or managers), an earlier month (period comparison: the
page always shows month on month and year on year), another charted indicator, a later
page of a long table, and the Excel export at a lower weight. Every request of one analysis is
named after it, so the report gives each page's p50/p95/p99; the exports are one name.
Statistics are reset after the last login (see locustfile.py), and once more
``KEYCARE_BENCH_WARMUP`` seconds later (default 60; 0: no second reset): 40 logins take ~30 s,
too short for the fresh gunicorn workers to warm (each worker's first pages load templates,
catalogs and translations, and PostgreSQL may read the 2.5 GB indicator table's indexes
from disk), so without it the first minute's cold requests (10-30 s) make the p95 of a 4-minute
day. The figures then cover ``KEYCARE_BENCH_SECONDS`` minus the warm-up.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path

import gevent
import locustfile
import yaml
from locust import task
from locustfile import USERS, KeyCareUser

DEFINITIONS = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "src/keycare/engine/indicators.yaml").read_text()
)
ANALYSES = {a["code"]: a for a in DEFINITIONS["analyses"]}
DRILL = ("county", "grid", "manager")
MONTHS = USERS["months"]  # newest first
CITIES = USERS["cities"]
_province_analysts = itertools.cycle([a for a in USERS["analysts"] if not a["city"]])
_city_analysts = itertools.cycle([a for a in USERS["analysts"] if a["city"]])
_city_admins = itertools.cycle([a for a in USERS["admins"] if a["city"]])
_province_admins = itertools.cycle([a for a in USERS["admins"] if not a["city"]])
WARMUP_SECONDS = float(os.environ.get("KEYCARE_BENCH_WARMUP", "60"))
_count_login = locustfile._count_login


def _count_login_then_warm_up(environment):
    """locustfile's reset after the last login, then a second one after the warm-up."""
    _count_login(environment)
    if locustfile._logged_in != environment.parsed_options.num_users or WARMUP_SECONDS <= 0:
        return

    def reset():
        environment.runner.stats.reset_all()
        locustfile._status["working_day"].clear()
        locustfile._status["working_day_started"] = time.monotonic()

    gevent.spawn_later(WARMUP_SECONDS, reset)


locustfile._count_login = _count_login_then_warm_up


class AnalysisUser(KeyCareUser):
    abstract = True

    def analysis(self, code, name_suffix="", **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        path = f"/analytics/analyses/{code}/" + (f"?{query}" if query else "")
        return self.client.get(path, name=f"/analytics/analyses/{code}/{name_suffix}")

    def city(self):
        """The city a drill-down opens: the user's own, or any for a province-wide user."""
        return self.account["city"] or random.choice(CITIES)

    @task(4)
    def workbench(self):
        self.client.get("/analytics/", name="/analytics/ (workbench)")

    @task(6)
    def default_view(self):
        self.analysis(random.choice(list(ANALYSES)))

    @task(4)
    def other_dimension(self):
        code = random.choice(list(ANALYSES))
        self.analysis(code, dimension=random.choice(ANALYSES[code]["dimensions"]))

    @task(3)
    def drill_down(self):
        code, a = random.choice([(c, a) for c, a in ANALYSES.items() if "city" in a["dimensions"]])
        nxt = next((d for d in DRILL if d in a["dimensions"]), "city")
        self.analysis(code, dimension=nxt, city=self.city())

    @task(2)
    def earlier_month(self):
        code = random.choice(list(ANALYSES))
        self.analysis(code, period=random.choice(MONTHS[1:] or MONTHS))

    @task(2)
    def other_indicator(self):
        code = random.choice(list(ANALYSES))
        indicator = random.choice(ANALYSES[code]["indicators"])
        dimension = random.choice(ANALYSES[code]["dimensions"])
        self.analysis(code, dimension=dimension, indicator=indicator)

    @task(1)
    def later_page(self):
        code = random.choice([c for c, a in ANALYSES.items() if "manager" in a["dimensions"]])
        self.analysis(code, dimension="manager", page=2)

    @task(1)
    def export(self):
        code = random.choice(list(ANALYSES))
        dimension = random.choice(ANALYSES[code]["dimensions"])
        path = f"/analytics/analyses/{code}/?dimension={dimension}&export=xlsx"
        self.client.get(path, name="/analytics/analyses/[code]/?export=xlsx")


class ProvinceAnalyst(AnalysisUser):
    weight = 20

    def on_start(self):
        self.account = next(_province_analysts)
        super().on_start()


class CityAnalyst(AnalysisUser):
    weight = 10

    def on_start(self):
        self.account = next(_city_analysts)
        super().on_start()


class ProvinceAdministrator(AnalysisUser):
    weight = 2

    def on_start(self):
        self.account = next(_province_admins)
        super().on_start()


class CityAdministrator(AnalysisUser):
    weight = 8

    def on_start(self):
        self.account = next(_city_admins)
        super().on_start()
