"""集团服务规则 pages: rules edited as YAML, previewed and published (province administrators
only); service standards edited, previewed and published; potential key accounts scoped and
moved along the pipeline; a group's points redeemed from its 360 page with its offers shown."""

import copy

import pytest
import yaml

from factories import (
    Place,
    make_key_account,
    make_key_account_archive,
    make_manager,
    make_place,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.keyaccounts import rules, standards
from keycare.keyaccounts.actions import apply_rule, earn_points
from keycare.keyaccounts.models import (
    KeyAccount,
    PointsEntry,
    PotentialKeyAccount,
    ServiceRule,
    ServiceStandardSet,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, make_customer):
    place = Place(**org)
    other = make_place("3205", "苏州市")
    mine = make_manager(place, "KM1", role="key_account_manager")
    theirs = make_manager(other, "KM2", role="key_account_manager")
    group = make_key_account(place, "K001", mine, tier="A1", name="南京钢铁集团", points=300)
    make_key_account_archive(group)
    far = make_key_account(other, "K002", theirs, tier="C", name="苏州纺织厂")
    make_key_account_archive(far, revenue=1_000)
    for n in range(9):
        make_customer(
            f"S5{n:02d}",
            None,
            name="欧阳修文",
            attributes={"employer_name": "玄武精密机械有限公司"},
        )
    return {"group": group, "far": far, "mine": mine, "theirs": theirs}


@pytest.fixture
def admin(client):
    client.force_login(make_user("padmin", roles.ROLE_PROVINCE_ADMIN))
    return client


def _rule_text(kind, change=None):
    data = copy.deepcopy(rules.default(kind))
    if change:
        change(data)
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_rules_page_lists_every_rule_with_its_version(admin, world):
    page = admin.get("/key-accounts/rules/").content.decode()
    for label in (
        "信誉度评定规则",
        "积分规则",
        "大客户界定与级别规则",
        "潜在大客户资格规则",
        "大客户优惠规则",
    ):
        assert label in page
    assert admin.get("/key-accounts/rules/nope/").status_code == 404


def test_a_rule_is_previewed_without_writing_then_published(admin, world):
    url = "/key-accounts/rules/credit/"
    assert "weights:" in admin.get(url).content.decode()
    page = admin.post(url, {"rule": _rule_text("credit"), "action": "preview"}).content.decode()
    assert "预览：2 个中 2 个将变化" in page and not ServiceRule.objects.exists()
    assert KeyAccount.objects.filter(credit_rating="").count() == 2
    stricter = _rule_text("credit", lambda d: d["grades"].update(AAA=99))
    response = admin.post(url, {"rule": stricter, "action": "publish", "reason": "年度修订"})
    assert response.status_code == 302
    assert ServiceRule.objects.get().data["grades"]["AAA"] == 99
    assert KeyAccount.objects.exclude(credit_rating="").count() == 2
    assert "信誉度评定规则 v1 已生效" in admin.get(url).content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weights: [1, 2", "不是有效的 YAML"),
        ("when: 2026-01-01", "只能包含"),
        ("weights: {}\x00", "无效字符"),
        ("- 1\n- 2", "映射"),
        ("references: {arrears_days: .inf}", "只能包含"),
    ],
)
def test_a_bad_rule_is_refused_with_a_message_and_kept_in_the_form(admin, world, text, message):
    response = admin.post(
        "/key-accounts/rules/credit/", {"rule": text, "action": "publish", "reason": "试"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and message in page
    assert not ServiceRule.objects.exists()


def test_city_administrators_read_rules_and_managers_are_refused(client, world):
    client.force_login(make_user("cadmin", roles.ROLE_CITY_ADMIN, city=world["group"].city))
    assert client.get("/key-accounts/rules/points/").status_code == 200
    response = client.post(
        "/key-accounts/rules/points/", {"rule": _rule_text("points"), "action": "publish"}
    )
    assert response.status_code == 403
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))
    assert client.get("/key-accounts/rules/").status_code == 403


def _standards_form(data):
    form = {}
    for tier, spec in data["tiers"].items():
        for role in data["roles"]:
            form[f"{tier}.visit_months.{role}"] = spec["visit_months"].get(role, "")
        for part in ("response_minutes", "restore_hours"):
            for fault, value in spec[part].items():
                form[f"{tier}.{part}.{fault}"] = value
        form[f"{tier}.manager_level"] = spec["manager_level"]
        form[f"{tier}.green_channel"] = "、".join(spec["green_channel"])
    return form


def test_standards_are_edited_previewed_and_published(admin, world):
    form = _standards_form(standards.default_standards())
    form["A1.restore_hours.critical"] = "1.5"
    form["C.visit_months.manager"] = ""  # C groups no longer visited
    page = admin.post("/key-accounts/standards/", {**form, "action": "preview"}).content.decode()
    assert "预览：2 项变化，涉及 2 个集团" in page and not ServiceStandardSet.objects.exists()
    response = admin.post(
        "/key-accounts/standards/", {**form, "action": "publish", "note": "A1 提速"}
    )
    assert response.status_code == 302
    version, data = standards.current()
    assert version == 1 and data["tiers"]["A1"]["restore_hours"]["critical"] == 1.5
    assert "manager" not in data["tiers"]["C"]["visit_months"]
    assert AuditEvent.objects.filter(action="keyaccount.standards.publish").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("A1.restore_hours.critical", "快", "不是数字"),
        ("A1.restore_hours.critical", "nan", "不是数字"),
        ("A2.response_minutes.minor", "inf", "不是数字"),
        ("B1.visit_months.manager", "13", "1 到 12"),
        ("B1.response_minutes.major", "-5", "须为正数"),
        ("C.manager_level", "经理\x00", "无效字符"),
    ],
)
def test_bad_standards_are_refused_with_what_is_wrong(admin, world, field, value, message):
    form = {**_standards_form(standards.default_standards()), field: value}
    response = admin.post("/key-accounts/standards/", {**form, "action": "publish", "note": "试试"})
    assert response.status_code == 200 and message in response.content.decode()
    assert not ServiceStandardSet.objects.exists()


def test_only_province_administrators_publish_standards(client, world):
    client.force_login(make_user("cadmin", roles.ROLE_CITY_ADMIN, city=world["group"].city))
    form = _standards_form(standards.default_standards())
    assert client.post("/key-accounts/standards/", {**form, "action": "publish"}).status_code == 403


def test_a_manager_works_their_candidates_through_the_pipeline(client, world):
    apply_rule(None, "potential", reason="发现")
    candidate = PotentialKeyAccount.objects.get()
    assert candidate.manager == world["mine"]
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))
    page = client.get("/key-accounts/potential/").content.decode()
    assert "玄武精密机械有限公司" in page and "欧阳修文" not in page  # the contact is masked
    url = f"/key-accounts/potential/{candidate.pk}/move/"
    client.post(url, {"stage": "contacted", "version": candidate.version, "note": "电话联系"})
    candidate.refresh_from_db()
    assert candidate.stage == "contacted"
    page = client.post(url, {"stage": "converted", "version": candidate.version}, follow=True)
    assert "不能从" in page.content.decode()
    client.post(url, {"stage": "qualified", "version": candidate.version})
    candidate.refresh_from_db()
    page = client.post(
        url,
        {"stage": "converted", "version": candidate.version, "key_account": "K002"},
        follow=True,
    ).content.decode()
    assert "K002 不存在或不在您的权限范围内" in page  # another manager's group
    client.post(url, {"stage": "converted", "version": candidate.version, "key_account": "K001"})
    candidate.refresh_from_db()
    assert (candidate.stage, candidate.key_account) == ("converted", world["group"])
    client.force_login(make_user("km2", roles.ROLE_MANAGER, manager=world["theirs"]))
    assert "暂无潜在大客户" in client.get("/key-accounts/potential/").content.decode()
    assert client.post(url, {"stage": "dropped", "version": candidate.version}).status_code == 404


def test_points_are_redeemed_on_the_group_360_page_with_the_offers_shown(client, world):
    earn_points(None)
    group = KeyAccount.objects.get(pk=world["group"].pk)
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))
    url = f"/key-accounts/{group.pk}/"
    page = client.get(url).content.decode()
    assert "期初余额" in page and "积分累积" in page and "V网网内通话免费" in page
    page = client.post(url + "points/redeem/", {"points": "100", "reason": "兑换话费"}, follow=True)
    assert f"已兑换 100 积分，余额 {group.points - 100}" in page.content.decode()
    page = client.post(
        url + "points/redeem/", {"points": "99999999", "reason": "兑换"}, follow=True
    )
    assert "不足以兑换" in page.content.decode()
    assert PointsEntry.objects.filter(kind="redeem").count() == 1
    far = f"/key-accounts/{world['far'].pk}/points/redeem/"
    assert client.post(far, {"points": "1", "reason": "兑换"}).status_code == 404
    client.force_login(make_user("analyst", roles.ROLE_ANALYST))
    assert client.post(url + "points/redeem/", {"points": "1", "reason": "x"}).status_code == 403


def test_the_list_and_360_show_credit_and_key_level(client, world):
    apply_rule(None, "credit", reason="评定")
    apply_rule(None, "definition", reason="界定")
    client.force_login(make_user("padmin", roles.ROLE_PROVINCE_ADMIN))
    page = client.get("/key-accounts/").content.decode()
    assert "AAA级" in page or "AA级" in page
    assert "非大客户" in page or "县级大客户" in page
    detail = client.get(f"/key-accounts/{world['group'].pk}/").content.decode()
    assert 'id="group-credit"' in detail and "市级大客户" in detail
