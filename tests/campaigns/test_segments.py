"""Segments: conditions validated against the catalog, evaluated in the user's scope over the
loaded run's unified view (any catalog field), or with the ORM before any run is loaded."""

from datetime import date
from decimal import Decimal

import pytest

from factories import make_user, publish_unified_view
from factories import numbered_customer as make_customer
from keycare.access import roles
from keycare.campaigns import actions as campaign_actions
from keycare.campaigns.segments import (
    SegmentError,
    describe,
    parse_conditions,
    segment_count,
    segment_customers,
    segment_fields,
)
from keycare.core import workflow
from keycare.core.models import AuditEvent
from keycare.errors import UserError

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(org, manager):
    """Six customers in two cities with varied columns and JSON attributes."""
    specs = [
        (1, "C025", {"balance": 5.0, "plan_5g": True, "contract_end_date": "2026-12-15"}, "gotone"),
        (2, "C025", {"balance": 50.0, "plan_5g": False, "arrears_days": 3}, "mzone"),
        (3, "C025", {"balance": -20.5, "handset_brand": "华为 Mate"}, "gotone"),
        (4, "C025", {}, "easyown"),
        (5, "C0512", {"balance": 1.0, "plan_5g": True}, "gotone"),
        (6, "C0512", {"balance": 80.0}, "mzone"),
    ]
    return {
        n: make_customer(
            org, n, manager if city == "C025" else None, city=city, attributes=attrs, brand=brand,
            plan_fee=Decimal(100 + 20 * n), join_date=date(2010 + n, 1, 1),
        )
        for n, city, attrs, brand in specs
    }  # fmt: skip


def _ids(user, rows):
    return sorted(int(c.subscriber_id[1:]) for c in segment_customers(user, parse_conditions(rows)))


@pytest.fixture
def province(db):
    return make_user("u_province_admin", roles.ROLE_PROVINCE_ADMIN)


def test_catalog_fields_exclude_personal_only():
    fields = segment_fields()
    assert {"brand", "balance", "plan_5g", "city_id", "manager_id"} <= fields.keys()
    assert not {"name", "msisdn", "id_number", "address", "birth_date"} & fields.keys()
    assert fields["arrears_amount"].path is None  # derived by the daily run: view only
    assert {"bill_avg_3m", "voice_change_pct_m1", "is_key_person"} <= fields.keys()
    assert fields["city_id"].path == "city__code" and fields["balance"].in_json
    assert fields["brand"].choices == ("gotone", "mzone", "easyown")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"field": "balance", "op": "lt", "value": "10"}], [1, 3, 5]),
        ([{"field": "balance", "op": "gte", "value": "50"}], [2, 6]),
        ([{"field": "plan_5g", "op": "true"}], [1, 5]),
        ([{"field": "plan_5g", "op": "false"}], [2]),
        ([{"field": "brand", "op": "in", "value": "mzone，easyown"}], [2, 4, 6]),
        ([{"field": "brand", "op": "ne", "value": "gotone"}], [2, 4, 6]),
        ([{"field": "plan_fee", "op": "gt", "value": "160"}], [4, 5, 6]),
        ([{"field": "join_date", "op": "lte", "value": "2013-06-30"}], [1, 2, 3]),
        ([{"field": "contract_end_date", "op": "lt", "value": "2027-01-01"}], [1]),
        ([{"field": "arrears_days", "op": "not_empty"}], [2]),
        ([{"field": "handset_brand", "op": "contains", "value": "华为"}], [3]),
        ([{"field": "city_id", "op": "eq", "value": "C0512"}], [5, 6]),
        ([{"field": "manager_id", "op": "empty"}], [5, 6]),
        (
            [
                {"field": "brand", "op": "eq", "value": "gotone"},
                {"field": "balance", "op": "lt", "value": "10"},
                {"field": "city_id", "op": "eq", "value": "C025"},
            ],
            [1, 3],
        ),
    ],
)
def test_conditions_select_the_right_customers(archive, province, rows, expected):
    assert _ids(province, rows) == expected


def test_scope_limits_the_selection(archive, org):
    city_admin = make_user("ca", roles.ROLE_CITY_ADMIN, city=org["C0512"].city)
    assert _ids(city_admin, [{"field": "balance", "op": "lt", "value": "10"}]) == [5]
    auditor = make_user("au", roles.ROLE_AUDITOR)
    assert _ids(auditor, [{"field": "balance", "op": "lt", "value": "10"}]) == []


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"field": "nope", "op": "eq", "value": "1"}, "未知字段"),
        ({"field": "name", "op": "eq", "value": "张三"}, "不能用于客户群筛选"),
        ({"field": "bill_avg_3m", "op": "gt", "value": "many"}, "应为数字"),
        ({"field": "is_key_person", "op": "gt", "value": "1"}, "是/否字段"),
        ({"field": "balance", "op": "contains", "value": "1"}, "数值字段，不支持“包含”"),
        ({"field": "balance", "op": "lt", "value": "abc"}, "应为数字"),
        ({"field": "balance", "op": "lt", "value": "NaN"}, "有限的数字"),
        ({"field": "arrears_days", "op": "gt", "value": "1.5"}, "应为整数"),
        ({"field": "join_date", "op": "gt", "value": "2026-02-30"}, "应为日期"),
        ({"field": "brand", "op": "eq", "value": "apple"}, "可选：gotone、mzone、easyown"),
        ({"field": "balance", "op": "lt", "value": "1e9"}, "应在 -100000 到 100000 之间"),
        ({"field": "balance", "op": "lt", "value": ""}, "请填写“账户余额”的取值"),
        ({"field": "plan_5g", "op": "eq", "value": "1"}, "是/否字段"),
        ({"field": "balance", "op": "drop table", "value": "1"}, "运算符无效"),
    ],
)
def test_invalid_conditions_are_named(row, message):
    with pytest.raises(SegmentError) as caught:
        parse_conditions([row])
    assert caught.value.messages[0].startswith("条件 1：")
    assert message in caught.value.messages[0]


def test_every_problem_is_listed_at_once():
    with pytest.raises(SegmentError) as caught:
        parse_conditions(
            [
                {"field": "brand", "op": "eq", "value": "gotone"},
                {"field": "balance", "op": "lt", "value": "x"},
                {"field": "nope", "op": "eq", "value": "1"},
            ]
        )
    assert [m[:4] for m in caught.value.messages] == ["条件 2", "条件 3"]
    with pytest.raises(SegmentError, match="至少"):
        parse_conditions([])


def test_hostile_values_are_parameters_not_sql(archive, province):
    rows = [{"field": "plan_code", "op": "eq", "value": "P188' OR '1'='1"}]
    assert _ids(province, rows) == []
    rows = [{"field": "handset_brand", "op": "contains", "value": "%"}]
    assert _ids(province, rows) == []


def test_save_segment_validates_audits_and_updates(archive, province):
    segment = campaign_actions.save_segment(
        province,
        name=" 低余额 ",
        conditions=[{"field": "balance", "op": "lt", "value": "10"}],
    )
    assert segment.name == "低余额" and segment.filter == {
        "all": [{"field": "balance", "op": "lt", "value": 10.0}]
    }
    assert describe(segment.filter["all"]) == "账户余额 小于 10.0"
    with pytest.raises(workflow.WorkflowError, match="条件 1"):
        campaign_actions.save_segment(
            province, name="x", conditions=[{"field": "balance", "op": "lt", "value": "x"}],
            segment=segment,
        )  # fmt: skip
    segment.refresh_from_db()
    assert segment.name == "低余额"  # nothing half-done
    campaign_actions.save_segment(
        province, name="低余额", conditions=[{"field": "plan_5g", "op": "true"}], segment=segment
    )
    segment.refresh_from_db()
    assert segment.filter["all"][0]["field"] == "plan_5g"
    logged = list(
        AuditEvent.objects.filter(object_id=str(segment.pk)).values_list("action", flat=True)
    )
    assert sorted(logged) == ["segment.create", "segment.update"]


# --- over the loaded run's unified view ------------------------------------------------------

# The archive fixture's customers as the run's unified view holds them, plus derived fields.
VIEW_ROWS = [
    {"subscriber_id": "S001", "city_id": "C025", "manager_id": "M001", "brand": "gotone",
     "balance": 5.0, "plan_5g": True, "contract_end_date": date(2026, 12, 15), "plan_fee": 120.0,
     "join_date": date(2011, 1, 1), "handset_brand": "华为", "bill_avg_3m": 300.0,
     "voice_change_pct_m1": -45.0, "arrears_amount": 0.0},
    {"subscriber_id": "S002", "city_id": "C025", "manager_id": "M001", "brand": "mzone",
     "balance": 50.0, "plan_5g": False, "arrears_days": 3, "plan_fee": 140.0,
     "join_date": date(2012, 1, 1), "handset_brand": "华为", "bill_avg_3m": 80.0,
     "voice_change_pct_m1": 10.0, "arrears_amount": 35.5},
    {"subscriber_id": "S003", "city_id": "C025", "manager_id": "M001", "brand": "gotone",
     "balance": -20.5, "plan_fee": 160.0, "join_date": date(2013, 1, 1),
     "handset_brand": "华为 Mate", "bill_avg_3m": 210.0, "arrears_amount": 20.5},
    {"subscriber_id": "S004", "city_id": "C025", "manager_id": "M001", "brand": "easyown",
     "plan_fee": 180.0, "join_date": date(2014, 1, 1), "bill_avg_3m": 20.0},
    {"subscriber_id": "S005", "city_id": "C0512", "brand": "gotone", "balance": 1.0,
     "plan_5g": True, "plan_fee": 200.0, "join_date": date(2015, 1, 1), "handset_brand": "华为",
     "bill_avg_3m": 500.0, "voice_change_pct_m1": -60.0},
    {"subscriber_id": "S006", "city_id": "C0512", "brand": "mzone", "balance": 80.0,
     "plan_fee": 220.0, "join_date": date(2016, 1, 1), "handset_brand": "华为",
     "bill_avg_3m": 90.0},
]  # fmt: skip


@pytest.fixture
def view(archive, settings, tmp_path):
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    return publish_unified_view(settings.KEYCARE_RUNS_DIR, VIEW_ROWS)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"field": "bill_avg_3m", "op": "gte", "value": "200"}], [1, 3, 5]),
        ([{"field": "voice_change_pct_m1", "op": "lt", "value": "-40"}], [1, 5]),
        ([{"field": "voice_change_pct_m1", "op": "empty"}], [3, 4, 6]),
        ([{"field": "arrears_amount", "op": "gt", "value": "0"}], [2, 3]),
        (
            [
                {"field": "bill_avg_3m", "op": "gt", "value": "100"},
                {"field": "brand", "op": "eq", "value": "gotone"},
                {"field": "plan_5g", "op": "true"},
            ],
            [1, 5],
        ),
    ],
)
def test_derived_fields_filter_over_the_unified_view(view, province, rows, expected):
    assert _ids(province, rows) == expected
    assert segment_count(province, parse_conditions(rows)) == len(expected)


@pytest.mark.parametrize(
    "rows",
    [
        [{"field": "balance", "op": "lt", "value": "10"}],
        [{"field": "plan_5g", "op": "false"}],
        [{"field": "brand", "op": "in", "value": "mzone，easyown"}],
        [{"field": "brand", "op": "ne", "value": "gotone"}],
        [{"field": "plan_fee", "op": "gt", "value": "160"}],
        [{"field": "join_date", "op": "lte", "value": "2013-06-30"}],
        [{"field": "contract_end_date", "op": "lt", "value": "2027-01-01"}],
        [{"field": "arrears_days", "op": "not_empty"}],
        [{"field": "handset_brand", "op": "contains", "value": "mate"}],
        [{"field": "city_id", "op": "eq", "value": "C0512"}],
        [{"field": "manager_id", "op": "empty"}],
    ],
)
def test_the_view_and_the_archive_agree_on_stored_fields(
    archive, province, rows, settings, tmp_path
):
    archived = _ids(province, rows)
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    publish_unified_view(settings.KEYCARE_RUNS_DIR, VIEW_ROWS)
    assert _ids(province, rows) == archived


def test_the_view_is_read_in_the_users_scope(view, org):
    rows = [{"field": "bill_avg_3m", "op": "gt", "value": "85"}]
    city_admin = make_user("ca", roles.ROLE_CITY_ADMIN, city=org["C0512"].city)
    assert segment_count(city_admin, parse_conditions(rows)) == 2
    assert _ids(city_admin, rows) == [5, 6]
    assert segment_count(make_user("au", roles.ROLE_AUDITOR), parse_conditions(rows)) == 0


def test_hostile_values_over_the_view_are_parameters(view, province):
    rows = [{"field": "plan_code", "op": "eq", "value": "P188' OR '1'='1"}]
    assert segment_count(province, parse_conditions(rows)) == 0
    rows = [{"field": "handset_brand", "op": "contains", "value": "%"}]
    assert segment_count(province, parse_conditions(rows)) == 0
    rows = [{"field": "plan_code", "op": "eq", "value": 'x"; DROP TABLE t; --\x00'}]
    assert segment_count(province, parse_conditions(rows)) == 0


def test_a_derived_field_before_any_run_is_loaded_says_why(archive, province, settings, tmp_path):
    settings.KEYCARE_RUNS_DIR = tmp_path / "none"
    clean = parse_conditions([{"field": "bill_avg_3m", "op": "gt", "value": "1"}])
    with pytest.raises(UserError, match="尚无已加载的日批结果"):
        segment_count(province, clean)
