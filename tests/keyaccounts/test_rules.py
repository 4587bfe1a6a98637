"""Service rules (004 §4): credit rating, the key-customer definition and levels, points,
preferential offers and potential key accounts, each previewed without writing, published as
a new version, applied with a reason, audited; bad rules refused with a clear message."""

import copy
import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from factories import make_customer, make_key_account, make_key_account_archive, make_org, make_user
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.keyaccounts import credit, definition, points, potential, preferential, rules
from keycare.keyaccounts.actions import (
    apply_rule,
    earn_points,
    move_potential,
    publish_rule,
    redeem_points,
)
from keycare.keyaccounts.models import (
    KeyAccount,
    KeyAccountChange,
    KeyAccountMember,
    PointsEntry,
    PotentialKeyAccount,
    PotentialStep,
    ServiceRule,
)

pytestmark = pytest.mark.django_db


def _member(group, place, sid, **attributes):
    customer = make_customer(place, sid, attributes=attributes)
    KeyAccountMember.objects.create(
        key_account=group, customer=customer, role="member", joined_date=date(2020, 1, 1)
    )
    return customer


@pytest.fixture
def org():
    return make_org()


@pytest.fixture
def groups(org):
    place = org["C025"]
    clean = make_key_account(place, "K001", created_date=date(2010, 1, 1), points=500)
    make_key_account_archive(clean, revenue=300_000)
    owing = make_key_account(place, "K002", created_date=date(2025, 6, 1), tier="C")
    make_key_account_archive(owing, revenue=2_000)
    for n in range(4):
        _member(clean, place, f"S1{n}", arrears_days=0)
        _member(owing, place, f"S2{n}", arrears_days=120 if n < 2 else 0)
    return {"clean": clean, "owing": owing}


@pytest.fixture
def admin(org):
    return make_user("padmin", "province_admin")


def test_credit_rates_payment_history_tenure_and_revenue(groups):
    rated = credit.rate(rules.default("credit"))
    clean, owing = rated[groups["clean"].pk], rated[groups["owing"].pk]
    assert clean["credit_rating"] == "AAA" and clean["credit_score"] == 100
    assert owing["credit_rating"] == "C" and owing["credit_score"] < 20
    assert KeyAccount.objects.get(pk=groups["clean"].pk).credit_rating == ""  # nothing written


def test_preview_counts_the_moves_and_apply_writes_them_with_history(groups, admin):
    result = credit.preview(rules.default("credit"))
    assert (result["groups"], result["changed"]) == (2, 2)
    assert {m["to"] for m in result["moves"]} == {"AAA级", "C级"}
    assert not KeyAccountChange.objects.exists()
    counts = apply_rule(admin, "credit", reason="月度评定")
    assert counts == {"version": 0, "groups": 2, "changed": 2}
    owing = KeyAccount.objects.get(pk=groups["owing"].pk)
    assert owing.credit_rating == "C" and owing.version == 2
    change = KeyAccountChange.objects.get(key_account=owing)
    assert (change.field, change.new_value, change.source, change.reason) == (
        "credit_rating", "C", "rules", "月度评定"
    )  # fmt: skip
    assert AuditEvent.objects.filter(action="keyaccount.rule.apply").count() == 1
    assert apply_rule(admin, "credit", reason="再评一次")["changed"] == 0


def test_publishing_a_rule_version_retires_the_last_and_applies(groups, admin):
    stricter = copy.deepcopy(rules.default("credit"))
    stricter["grades"] = {"AAA": 100.5 - 0.5, "AA": 99, "A": 98, "B": 97}
    publish_rule(admin, "credit", rules.default("credit"), reason="初版")
    rule, counts = publish_rule(admin, "credit", stricter, note="收紧", reason="年度修订")
    assert rule.version == 2 and rules.current("credit") == (2, stricter)
    assert list(ServiceRule.objects.values_list("version", "status")) == [
        (2, "active"), (1, "retired")
    ]  # fmt: skip
    assert counts == {"groups": 2, "changed": 0}  # 100 is still AAA; C stays C
    event = AuditEvent.objects.filter(action="keyaccount.rule.publish").latest("pk")
    assert event.detail["version"] == 2 and event.detail["reason"] == "年度修订"


@pytest.mark.parametrize(
    ("kind", "mutate", "message"),
    [
        ("credit", lambda d: d["weights"].update(payment=10), "之和须为 100"),
        ("credit", lambda d: d["grades"].update(AA=99), "AAA > AA"),
        ("credit", lambda d: d.pop("grades"), "缺少 grades"),
        ("definition", lambda d: d["levels"].update(city=10**9), "省级"),
        ("points", lambda d: d.update(per_100_yuan="十"), "per_100_yuan"),
        ("points", lambda d: d["tier_multiplier"].pop("A1"), "缺少 A1"),
        ("preferential", lambda d: d.pop("C"), "缺少层级：C"),
        ("preferential", lambda d: d["A1"].append({"code": "x"}), "code 和 name"),
        ("potential", lambda d: d.update(min_subscribers=1), "最少用户数"),
    ],
)
def test_a_bad_rule_is_refused_with_what_is_wrong(groups, admin, kind, mutate, message):
    data = copy.deepcopy(rules.default(kind))
    mutate(data)
    with pytest.raises(UserError, match=message):
        publish_rule(admin, kind, data, reason="试一下")
    assert not ServiceRule.objects.exists()


def test_publish_needs_a_reason(groups, admin):
    with pytest.raises(UserError, match="原因"):
        publish_rule(admin, "credit", rules.default("credit"), reason=" ")


def test_the_definition_computes_key_customers_and_levels(groups, admin):
    data = rules.default("definition")
    result = definition.preview(data)
    assert result["changed"] == 2 and result["moves"]
    apply_rule(admin, "definition", reason="界定")
    clean = KeyAccount.objects.get(pk=groups["clean"].pk)
    owing = KeyAccount.objects.get(pk=groups["owing"].pk)
    assert (clean.key_customer, clean.key_level) == (True, "provincial")
    assert (owing.key_customer, owing.key_level) == (False, "")
    owing.strategic = True
    owing.save()
    assert definition.preview(data)["changed"] == 1  # a strategic group qualifies


def test_points_are_earned_once_a_month_and_redeemed_never_below_zero(groups, admin):
    result = earn_points(admin)
    clean = KeyAccount.objects.get(pk=groups["clean"].pk)
    # 300,000 RMB: 30,000 + 90,000 info 4,500; 16 years' tenure 320; tier B1 ×1.2
    assert result["month"] == "2026-10" and clean.points == 500 + int((30_000 + 4_500 + 320) * 1.2)
    kinds = list(PointsEntry.objects.filter(key_account=clean).order_by("pk").values_list("kind"))
    assert kinds == [("opening",), ("earn",)]
    assert earn_points(admin)["groups"] == 0  # the month is earned once
    entry = redeem_points(admin, clean, "1000", reason="兑换话费")
    clean.refresh_from_db()
    assert entry.points == -1000 and entry.balance == clean.points
    assert sum(PointsEntry.objects.filter(key_account=clean).values_list("points", flat=True)) == (
        clean.points
    )
    for amount, message in (
        ("0", "1 到"),
        ("abc", "整数"),
        ("²", "整数"),
        (str(clean.points + 1), "不足"),
    ):
        with pytest.raises(UserError, match=message):
            redeem_points(admin, clean, amount, reason="兑换")
    assert AuditEvent.objects.filter(action="keyaccount.points.redeem").count() == 1


def test_the_points_preview_compares_the_last_month_under_both_rules(groups):
    doubled = copy.deepcopy(rules.default("points"))
    doubled["per_100_yuan"] = 20
    result = points.preview(doubled)
    assert result["month"] == "2026-10" and result["changed"] == 2
    assert result["total_after"] > result["total_before"] > 0


def test_preferential_offers_follow_the_tier(groups):
    assert [o["code"] for o in preferential.offers("A1")] == [
        "vpmn_free", "line_discount", "points_double"
    ]  # fmt: skip
    richer = copy.deepcopy(rules.default("preferential"))
    richer["C"] = [{"code": "gift", "name": "入网礼包", "discount_pct": 0}]
    result = preferential.preview(richer)
    assert result["changed"] == 1  # K002 is a C group
    assert {"value": "C（普通集团）", "before": 0, "after": 1} in result["counts"]


@pytest.fixture
def companies(org, groups):
    from factories import make_manager

    kam = make_manager(org["C025"], "KM1", role="key_account_manager")
    place = org["C025"]
    for n in range(9):
        make_customer(place, f"S5{n:02d}", attributes={"employer_name": "玄武精密机械有限公司"})
    for n in range(3):  # too few
        make_customer(place, f"S6{n:02d}", attributes={"vpmn_id": "VPX9"})
    # members of a group are never counted
    _member(groups["clean"], place, "S700", employer_name="玄武精密机械有限公司")
    return kam


def test_potential_key_accounts_are_found_stored_and_worked_through_the_pipeline(companies, admin):
    data = rules.default("potential")
    found = potential.find(data)
    assert [(f.name, f.subscribers) for f, _s in found] == [("玄武精密机械有限公司", 9)]
    assert potential.preview(data)["counts"][0] == {"value": "符合资格", "before": 1, "after": 1}
    apply_rule(admin, "potential", reason="月度发现")
    p = PotentialKeyAccount.objects.get()
    assert (p.source, p.stage, p.manager, p.subscribers) == ("company", "candidate", companies, 9)
    assert p.contact.subscriber_id.startswith("S5")
    assert apply_rule(admin, "potential", reason="再找")["refreshed"] == 1
    move_potential(admin, p, "contacted", version=p.version, note="首次拜访")
    with pytest.raises(UserError, match="不能从"):
        move_potential(admin, p, "converted", version=p.version)
    with pytest.raises(UserError, match="已被他人更新"):
        move_potential(admin, p, "qualified", version=1)
    move_potential(admin, p, "qualified", version=p.version)
    with pytest.raises(UserError, match="集团编号"):
        move_potential(admin, p, "converted", version=p.version)
    group = make_key_account(p.city, "K777")
    move_potential(admin, p, "converted", version=p.version, key_account=group)
    assert (p.stage, p.key_account) == ("converted", group)
    assert PotentialStep.objects.filter(potential=p).count() == 3
    assert AuditEvent.objects.filter(action="keyaccount.potential.move").count() == 3


def test_the_grouprules_command_previews_and_applies(groups):
    out = StringIO()
    call_command("grouprules", "credit", "--preview", "--json", stdout=out)
    assert json.loads(out.getvalue())["changed"] == 2
    assert KeyAccount.objects.filter(credit_rating="").count() == 2
    out = StringIO()
    call_command("grouprules", "points", "--json", stdout=out)
    assert json.loads(out.getvalue())["groups"] == 2
