"""Load on the group 360 page (集团客户 360): issue 17's target, p95 ≤ 300 ms at 100k groups.

Runs on the database ``benchmarks/keyaccount_360.py --users-file F`` built (100k groups) through
``benchmarks/load/run.sh`` with ``LOCUSTFILE=benchmarks/load/locust_group360.py
KEYCARE_BENCH_USERS=F``. Key-account managers open their own groups' 360 pages and their group
list; province administrators open any group and filter the list by tier. Statistics are reset
after the last login (see locustfile.py), so the figures cover the working day only.
"""

from __future__ import annotations

import itertools
import random

from locust import task
from locustfile import USERS, KeyCareUser

_managers = itertools.cycle(USERS["managers"])
_admins = itertools.cycle(USERS["admins"])
TIERS = ["A1", "A2", "B1", "B2", "C"]


class KeyAccountManager(KeyCareUser):
    weight = 80

    def on_start(self):
        self.account = next(_managers)
        super().on_start()

    @task(5)
    def group_360(self):
        pk = random.choice(self.account["groups"])
        self.client.get(f"/key-accounts/{pk}/", name="/key-accounts/[id]/ (manager)")

    @task(1)
    def group_list(self):
        self.client.get("/key-accounts/", name="/key-accounts/ (manager)")


class ProvinceAdministrator(KeyCareUser):
    weight = 20

    def on_start(self):
        self.account = next(_admins)
        super().on_start()

    @task(5)
    def group_360(self):
        pk = random.choice(USERS["all_groups"])
        self.client.get(f"/key-accounts/{pk}/", name="/key-accounts/[id]/ (province)")

    @task(1)
    def group_list(self):
        tier = random.choice(TIERS)
        self.client.get(f"/key-accounts/?tier={tier}", name="/key-accounts/?tier (province)")
