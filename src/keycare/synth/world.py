"""The province-wide part of the synthetic operator, generated once per run: organisation,
plans, key accounts and managers. Sized from the expected subscriber numbers (not the
realised ones), so chunks can be generated independently."""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from keycare.synth import identity
from keycare.synth import reference as ref

# Seed 001: ~1,250 phone managers can serve ~5.6M mid/high-end customers -> ~4,480 each.
CUSTOMERS_PER_MANAGER = 4_500
EXPECTED_MID_HIGH_SHARE = 0.11
# Each served customer gets about one proactive contact a quarter (63 working days):
# 5.6M / 1,250 / 63 = 71 outbound tasks per manager per working day.
DAILY_CAPACITY = round(5_600_000 / 1_250 / 63)
KEY_ACCOUNTS_PER_SUBSCRIBERS = 400
KEY_ACCOUNTS_PER_KA_MANAGER = 40


@dataclass
class Plans:
    codes: np.ndarray
    fees: np.ndarray
    is_5g: np.ndarray
    brand: np.ndarray  # brand index into BRAND_CODES
    local: np.ndarray  # position within the brand, cheap -> dear
    brand_start: np.ndarray
    brand_count: np.ndarray


BRAND_CODES = list(ref.BRANDS)


def build_plans() -> Plans:
    codes, fees, g5, brand, local, start, count = [], [], [], [], [], [], []
    for b, code in enumerate(BRAND_CODES):
        start.append(len(codes))
        count.append(len(ref.PLANS[code]))
        for i, (plan_code, fee, is_5g) in enumerate(ref.PLANS[code]):
            codes.append(plan_code)
            fees.append(fee)
            g5.append(is_5g)
            brand.append(b)
            local.append(i)
    return Plans(
        np.array(codes, dtype=object),
        np.array(fees),
        np.array(g5),
        np.array(brand),
        np.array(local),
        np.array(start),
        np.array(count),
    )


@dataclass
class Org:
    city_ids: np.ndarray
    city_names: np.ndarray
    city_p: np.ndarray
    county_ids: np.ndarray
    county_names: np.ndarray
    county_city: np.ndarray
    county_start: np.ndarray  # per city: first county index
    county_count: np.ndarray
    grid_ids: np.ndarray
    grid_county: np.ndarray
    grid_start: np.ndarray  # per county: first grid index
    grid_count: np.ndarray
    grid_quality: np.ndarray  # network-quality factor: multiplies the fault rate
    table: pa.Table


def build_org(rng: np.random.Generator) -> Org:
    rows: dict[str, list] = {k: [] for k in ORG_COLUMNS}
    city_ids, city_names, pops = [], [], []
    county_ids, county_names, county_city, county_start, county_count = [], [], [], [], []
    grid_ids, grid_county, grid_start, grid_count = [], [], [], []
    for c, (city_id, city_name, pop, counties) in enumerate(ref.CITIES):
        city_ids.append(city_id)
        city_names.append(city_name)
        pops.append(pop)
        county_start.append(len(county_ids))
        county_count.append(len(counties))
        for county_id, county_name in counties:
            k = len(county_ids)
            county_ids.append(county_id)
            county_names.append(county_name)
            county_city.append(c)
            n_grids = 4 + int(county_id) % 5  # 4..8 grids, stable per county
            grid_start.append(len(grid_ids))
            grid_count.append(n_grids)
            for g in range(n_grids):
                grid_id = f"{county_id}G{g + 1:02d}"
                grid_ids.append(grid_id)
                grid_county.append(k)
                for col, val in zip(
                    ORG_COLUMNS,
                    (
                        grid_id,
                        f"{county_name}{ref.GRID_SUFFIXES[g]}网格",
                        county_id,
                        county_name,
                        city_id,
                        city_name,
                        ref.PROVINCE_ID,
                        ref.PROVINCE_NAME,
                    ),
                    strict=True,
                ):
                    rows[col].append(val)
    pops_arr = np.array(pops, dtype=float)
    return Org(
        city_ids=np.array(city_ids, dtype=object),
        city_names=np.array(city_names, dtype=object),
        city_p=pops_arr / pops_arr.sum(),
        county_ids=np.array(county_ids, dtype=object),
        county_names=np.array(county_names, dtype=object),
        county_city=np.array(county_city),
        county_start=np.array(county_start),
        county_count=np.array(county_count),
        grid_ids=np.array(grid_ids, dtype=object),
        grid_county=np.array(grid_county),
        grid_start=np.array(grid_start),
        grid_count=np.array(grid_count),
        grid_quality=rng.lognormal(0.0, 0.6, len(grid_ids)),
        table=pa.table(rows),
    )


ORG_COLUMNS = [
    "grid_id",
    "grid_name",
    "county_id",
    "county_name",
    "city_id",
    "city_name",
    "province_id",
    "province_name",
]


@dataclass
class Staff:
    """Managers per city: individual-portfolio managers (phone/customer managers) take the
    mid/high assignments; key-account managers take the key accounts."""

    table: pa.Table
    portfolio_ids: np.ndarray  # active portfolio managers, grouped by city
    portfolio_start: np.ndarray
    portfolio_count: np.ndarray
    ka_manager_ids: np.ndarray
    ka_manager_start: np.ndarray
    ka_manager_count: np.ndarray


def _uniform_dates(rng, start: np.datetime64, end: np.datetime64, n: int) -> np.ndarray:
    span = max(int((end - start).astype(int)), 0) + 1
    return start + rng.integers(0, span, n)


def build_staff(rng: np.random.Generator, org: Org, n_subscribers: int, n_ka: np.ndarray) -> Staff:
    expected_mid_high = n_subscribers * EXPECTED_MID_HIGH_SHARE * org.city_p
    n_portfolio = np.maximum(1, np.ceil(expected_mid_high / CUSTOMERS_PER_MANAGER)).astype(int)
    n_ka_mgr = np.maximum(1, np.ceil(n_ka / KEY_ACCOUNTS_PER_KA_MANAGER)).astype(int)
    ids, city, roles, capacity, active, grid = [], [], [], [], [], []
    pf_ids, pf_start, pf_count, ka_ids, ka_start, ka_count = [], [], [], [], [], []
    for c in range(len(org.city_ids)):
        city_grids = _city_grids(org, c)
        pf_start.append(len(pf_ids))
        for j in range(n_portfolio[c]):
            manager_id = f"M{org.city_ids[c]}{len(ids) + 1:05d}"
            is_customer_mgr = j % 8 == 7
            ok = j == 0 or rng.random() >= 0.02
            ids.append(manager_id)
            city.append(org.city_ids[c])
            roles.append("customer_manager" if is_customer_mgr else "phone_manager")
            cap = 40 if is_customer_mgr else DAILY_CAPACITY + int(rng.integers(-8, 9))
            capacity.append(cap)
            active.append(bool(ok))
            grid.append(str(rng.choice(city_grids)) if is_customer_mgr else None)
            if ok:
                pf_ids.append(manager_id)
        pf_count.append(len(pf_ids) - pf_start[-1])
        ka_start.append(len(ka_ids))
        for _ in range(n_ka_mgr[c]):
            manager_id = f"M{org.city_ids[c]}{len(ids) + 1:05d}"
            ids.append(manager_id)
            city.append(org.city_ids[c])
            roles.append("key_account_manager")
            capacity.append(30)
            active.append(True)
            grid.append(None)
            ka_ids.append(manager_id)
        ka_count.append(len(ka_ids) - ka_start[-1])
    n = len(ids)
    is_male = rng.random(n) < 0.45
    table = pa.table(
        {
            "manager_id": pa.array(ids, pa.string()),
            "name": pa.array(identity.chinese_names(rng, is_male), pa.string()),
            "mobile": pa.array(identity.mobile_numbers(np.arange(n), salt=1), pa.string()),
            "city_id": pa.array(city, pa.string()),
            "grid_id": pa.array(grid, pa.string()),
            "role": pa.array(roles, pa.string()),
            "daily_capacity": pa.array(capacity, pa.int64()),
            "active": pa.array(active, pa.bool_()),
        }
    )
    return Staff(
        table,
        np.array(pf_ids, dtype=object),
        np.array(pf_start),
        np.array(pf_count),
        np.array(ka_ids, dtype=object),
        np.array(ka_start),
        np.array(ka_count),
    )


def _city_grids(org: Org, c: int) -> np.ndarray:
    counties = np.nonzero(org.county_city == c)[0]
    return org.grid_ids[np.isin(org.grid_county, counties)]


@dataclass
class KeyAccounts:
    ids: np.ndarray  # grouped by city
    city_start: np.ndarray
    city_count: np.ndarray
    created: np.ndarray  # datetime64[D]
    active: np.ndarray
    tier: np.ndarray
    revenue: np.ndarray | None = None  # annual revenue, RMB


KA_TIERS = np.array(["A1", "A2", "B1", "B2", "C"], dtype=object)
KA_TIER_P = [0.03, 0.07, 0.15, 0.25, 0.50]
KA_REVENUE_MEDIAN = np.array([5_000_000, 2_000_000, 600_000, 200_000, 40_000])
KA_EMPLOYEES_MEDIAN = np.array([3_000, 1_200, 400, 120, 30])


def key_account_counts(org: Org, n_subscribers: int) -> np.ndarray:
    total = n_subscribers / KEY_ACCOUNTS_PER_SUBSCRIBERS
    return np.maximum(1, np.round(total * org.city_p)).astype(int)


def build_key_accounts(
    rng: np.random.Generator, org: Org, staff: Staff, counts: np.ndarray, as_of: date
) -> tuple[KeyAccounts, pa.Table]:
    n = int(counts.sum())
    city = np.repeat(np.arange(len(counts)), counts)
    ids = np.array([f"KA{i + 1:07d}" for i in range(n)], dtype=object)
    industry = rng.integers(0, len(ref.INDUSTRIES), n)
    word = rng.integers(0, len(ref.ENTERPRISE_WORDS), n)
    suffix = rng.integers(0, 3, n)
    names = [
        f"{org.city_names[c][:-1]}{ref.ENTERPRISE_WORDS[w]}"
        f"{ref.ENTERPRISE_SUFFIX[ref.INDUSTRIES[i]][s]}"
        for c, w, i, s in zip(city, word, industry, suffix, strict=True)
    ]
    # Disambiguate duplicate names the way registries do: a branch number.
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[k] = f"{name}（第{seen[name]}分公司）"
    tier = rng.choice(len(KA_TIERS), n, p=KA_TIER_P)
    revenue = np.round(KA_REVENUE_MEDIAN[tier] * rng.lognormal(0, 0.5, n), 2)
    credit = np.array(["AAA", "AA", "A", "B", "C"], dtype=object)[
        rng.choice(5, n, p=[0.15, 0.35, 0.35, 0.1, 0.05])
    ]
    active = rng.random(n) >= 0.03
    as_of64 = np.datetime64(as_of, "D")
    created = as_of64 - rng.integers(180, 20 * 365, n)
    manager = staff.ka_manager_ids[
        staff.ka_manager_start[city] + rng.integers(0, 1 << 30, n) % staff.ka_manager_count[city]
    ]
    table = pa.table(
        {
            "key_account_id": pa.array(ids, pa.string()),
            "name": pa.array(names, pa.string()),
            "industry": pa.array(np.array(ref.INDUSTRIES, dtype=object)[industry], pa.string()),
            "tier": pa.array(KA_TIERS[tier], pa.string()),
            "city_id": pa.array(org.city_ids[city], pa.string()),
            "manager_id": pa.array(manager, pa.string()),
            "annual_revenue": pa.array(revenue, pa.float64()),
            "credit_rating": pa.array(credit, pa.string()),
            "points": pa.array((revenue * rng.uniform(0.5, 1.5, n)).astype(np.int64), pa.int64()),
            "status": pa.array(np.where(active, "active", "churned").astype(object), pa.string()),
            "created_date": pa.array(created, pa.date32()),
        }
    )
    # Drawn after the columns above so that those stay as they were before these existed.
    employees = np.maximum(5, KA_EMPLOYEES_MEDIAN[tier] * rng.lognormal(0, 0.6, n)).astype(int)
    # A2 are strategic by definition (党政军, 公检法司, media); a few others are too.
    strategic = (tier == 1) | (rng.random(n) < 0.04)
    addresses = [
        f"{org.city_names[c]}{ref.ENTERPRISE_WORDS[w]}路{k}号"
        for c, w, k in zip(city, word, rng.integers(1, 400, n), strict=True)
    ]
    table = table.append_column("employees", pa.array(employees, pa.int64()))
    table = table.append_column("strategic", pa.array(strategic, pa.bool_()))
    table = table.append_column("address", pa.array(addresses, pa.string()))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    accounts = KeyAccounts(ids, start, counts, created, active, KA_TIERS[tier])
    accounts.revenue = revenue
    return accounts, table
