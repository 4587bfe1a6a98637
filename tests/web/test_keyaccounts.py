"""集团客户 pages: the scoped, filterable list, the group 360 page (masked key persons, products
with SLA, revenue chart, contracts, members with their moments), capture and standards."""

import json
import re

import pytest

from factories import (
    Place,
    make_key_account,
    make_key_account_archive,
    make_manager,
    make_moment,
    make_place,
    make_task,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.keyaccounts.models import KeyAccountChange, KeyAccountMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, make_customer):
    place = Place(**org)
    other = make_place("3205", "苏州市")
    mine = make_manager(place, "KM1", role="key_account_manager")
    theirs = make_manager(other, "KM2", role="key_account_manager")
    group = make_key_account(place, "K001", mine, tier="A1", name="南京钢铁集团")
    make_key_account_archive(group)
    far = make_key_account(other, "K002", theirs, tier="C", name="苏州纺织厂")
    member = make_customer("S001", None, msisdn="13812345678", name="欧阳修文")
    KeyAccountMember.objects.create(
        key_account=group, customer=member, role="key_person", joined_date="2020-01-01"
    )
    task = make_task(member, risk_probability=0.42)
    return {"group": group, "far": far, "mine": mine, "task": task}


def test_a_key_account_manager_lists_only_their_groups(client, world):
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))

    page = client.get("/key-accounts/").content.decode()

    assert "南京钢铁集团" in page and "苏州纺织厂" not in page
    assert client.get(f"/key-accounts/{world['far'].pk}/").status_code == 404


def test_the_list_filters_by_tier_and_name_and_the_search_is_audited(client, world):
    client.force_login(make_user("admin", roles.ROLE_PROVINCE_ADMIN))

    by_tier = client.get("/key-accounts/?tier=C").content.decode()
    by_name = client.get("/key-accounts/?q=钢铁").content.decode()

    assert "苏州纺织厂" in by_tier and "南京钢铁集团" not in by_tier
    assert "南京钢铁集团" in by_name and "苏州纺织厂" not in by_name
    assert (
        AuditEvent.objects.filter(action="search", object_type="keyaccounts.keyaccount").count()
        == 2
    )
    assert client.get("/key-accounts/?tier=Z&page=99").status_code == 200


def test_the_list_counts_each_groups_members(client, world, make_customer):
    client.force_login(make_user("admin", roles.ROLE_PROVINCE_ADMIN))
    for n in range(2):
        KeyAccountMember.objects.create(
            key_account=world["far"],
            customer=make_customer(f"S10{n}", None),
            joined_date="2021-01-01",
        )

    page = client.get("/key-accounts/").content.decode()

    rows = {
        code: count
        for code, count in re.findall(
            r">(K00\d)</a>.*?<td>(\d+)</td><td>[^<]*</td><td>[^<]*</td>\s*</tr>", page, re.S
        )
    }
    assert rows == {"K001": "1", "K002": "2"}


def test_a_province_with_many_managers_filters_by_a_typed_id(client, world, monkeypatch):
    from keycare.web import keyaccounts

    client.force_login(make_user("admin", roles.ROLE_PROVINCE_ADMIN))
    drop_down = client.get("/key-accounts/").content.decode()
    monkeypatch.setattr(keyaccounts, "MANAGER_CHOICES_MAX", 1)

    typed = client.get("/key-accounts/?manager=KM2").content.decode()

    assert '<select name="manager">' in drop_down and '<option value="KM1"' in drop_down
    assert '<select name="manager">' not in typed and 'name="manager" value="KM2"' in typed
    assert "苏州纺织厂" in typed and "南京钢铁集团" not in typed


def test_the_360_page_names_the_moments_of_a_members_open_task(client, world):
    from keycare.tasks.models import TaskMoment, TaskState

    moment = make_moment("A05", name_zh="即将停机", name_en="About to be suspended")
    TaskMoment.objects.create(task=world["task"], moment=moment, priority=90)
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))

    response = client.get(f"/key-accounts/{world['group'].pk}/")

    assert response.status_code == 200
    members = response.content.decode().split('id="members"')[1]
    assert f'href="/tasks/{world["task"].pk}/">即将停机</a>' in members
    assert "0.42" in members
    open_work = response.content.decode().split('id="open-work"')[1].split("</section>")[0]
    assert f'href="/tasks/{world["task"].pk}/">#{world["task"].pk}</a>' in open_work
    assert str(TaskState.UNHANDLED.label) in open_work and ">unhandled<" not in open_work


def test_the_360_page_masks_key_persons_and_shows_the_archive(client, world):
    client.force_login(make_user("km", roles.ROLE_MANAGER, manager=world["mine"]))

    response = client.get(f"/key-accounts/{world['group'].pk}/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "张建国" not in page and "13912345678" not in page and "1970-05-06" not in page
    assert "张**" in page or "张*国" in page
    assert "139****5678" in page and "1970-**-**" in page
    graph = json.loads(re.search(r'id="graph-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert (
        len(graph["nodes"]) == 3
        and {"source": graph["nodes"][2]["id"], "target": graph["nodes"][1]["id"]} in graph["links"]
    )
    revenue = json.loads(re.search(r'id="revenue-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert revenue["months"] == ["2026-08", "2026-09", "2026-10"] and revenue["info"][0] == 30000.0
    assert "数据专线（100M）" in page and "99.95%" in page and "4.0 小时" in page
    assert "2027-01-09" in page and "即将到期" in page
    assert "欧阳修文" not in page and "0.42" in page  # the member, masked, with their risk
    assert f"/tasks/{world['task'].pk}/" in page
    assert AuditEvent.objects.filter(
        action="keyaccount.view", object_id=str(world["group"].pk)
    ).exists()


def test_a_manager_captures_information_and_sees_it_in_the_history(client, world):
    user = make_user("km", roles.ROLE_MANAGER, manager=world["mine"])
    client.force_login(user)
    url = f"/key-accounts/{world['group'].pk}/"

    response = client.post(
        url + "edit/",
        {
            "version": 1,
            "address": "南京市玄武区中山路1号",
            "employees": "800",
            "reason": "走访核实",
        },
    )

    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "已保存 2 项修改" in page and "员工数" in page and "经理采集" in page
    stale = client.post(
        url + "edit/", {"version": 1, "address": "别处"}, follow=True
    ).content.decode()
    assert "已被他人更新" in stale and KeyAccountChange.objects.count() == 2


def test_analysts_read_but_cannot_capture_and_auditors_see_nothing(client, world):
    client.force_login(make_user("analyst", roles.ROLE_ANALYST))
    url = f"/key-accounts/{world['group'].pk}/"
    assert client.get(url).status_code == 200
    assert client.post(url + "edit/", {"version": 1, "notes": "x"}).status_code == 403
    client.force_login(make_user("auditor", roles.ROLE_AUDITOR))
    assert client.get("/key-accounts/").status_code == 403


def test_the_standards_page_shows_every_tier_with_labels(client, world, org):
    client.force_login(make_user("cadmin", roles.ROLE_CITY_ADMIN, city=world["group"].city))

    page = client.get("/key-accounts/standards/").content.decode()

    assert "A1（高值客户）" in page and "C（普通集团）" in page
    assert "客户经理：每 1 个月" in page and "一级故障：2 小时" in page
    assert "visit_months" not in page


def _policy_form(**changes):
    from keycare.keyaccounts import tiers

    policy = tiers.default_policy()
    form = {
        f"{s}.{k}": v for s in ("weights", "references", "cutoffs") for k, v in policy[s].items()
    }
    form["key_industries"] = "，".join(policy["key_industries"])
    return {**form, **changes}


def test_the_tier_page_previews_moves_then_publishes_with_a_reason(client, world):
    client.force_login(make_user("admin", roles.ROLE_PROVINCE_ADMIN))

    preview = client.post("/key-accounts/tiers/", _policy_form(action="preview")).content.decode()

    assert "预览：2 个集团中" in preview and "A1（高值客户）" in preview
    assert world["group"].tier_changes.count() == 0
    bad = client.post(
        "/key-accounts/tiers/", _policy_form(**{"weights.strategic": "x", "action": "preview"})
    )
    assert "不是数字" in bad.content.decode()
    done = client.post(
        "/key-accounts/tiers/",
        _policy_form(**{"cutoffs.A1": "99", "action": "publish", "reason": "收紧 A1"}),
        follow=True,
    ).content.decode()
    assert "分层策略 v1 已生效" in done and "收紧 A1" in done


def test_city_admins_see_the_tier_policy_but_cannot_change_it(client, world):
    client.force_login(make_user("city", roles.ROLE_CITY_ADMIN, city=world["group"].city))
    assert client.get("/key-accounts/tiers/").status_code == 200
    assert client.post("/key-accounts/tiers/", _policy_form(action="preview")).status_code == 403
