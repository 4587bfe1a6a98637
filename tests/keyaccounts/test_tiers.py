"""Value score and tiers: the policy's criteria, preview without writing, applying with a
reason (tier changes and history), publishing a new policy version, bad policies refused."""

import copy
from io import StringIO

import pytest
from django.core.management import call_command

from factories import make_key_account, make_key_account_archive, make_org, make_user
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.keyaccounts import tiers
from keycare.keyaccounts.actions import apply_tiers, publish_tier_policy
from keycare.keyaccounts.models import KeyAccount, KeyAccountChange, KeyAccountProduct, TierChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups():
    org = make_org()
    big = make_key_account(org["C025"], "K001", tier="C", employees=4000, industry="金融业")
    make_key_account_archive(big, revenue=450_000)
    for n in range(3, 9):  # six more informatization products in use
        KeyAccountProduct.objects.create(
            product_id=f"K001-X{n}",
            key_account=big,
            product_type="cloud",
            name="移动云",
            informatization=True,
            start_date="2024-01-01",
            status="active",
        )
    small = make_key_account(org["C0512"], "K002", tier="A1", employees=20)
    make_key_account_archive(small, revenue=2_000)
    state = make_key_account(org["C025"], "K003", tier="C", employees=600, strategic=True)
    make_key_account_archive(state, revenue=60_000)
    make_key_account(org["C025"], "K004", tier="A1", archive="retained")
    return {"big": big, "small": small, "state": state}


def test_the_score_rewards_each_criterion_and_caps_at_the_reference():
    policy = tiers.default_policy()
    base = {"employees": 100, "monthly_revenue": 10_000, "info_revenue": 1_000, "info_products": 1}
    s = tiers.score(base, policy)
    for name in ("employees", "monthly_revenue", "info_revenue", "info_products"):
        assert tiers.score({**base, name: base[name] * 4}, policy) > s, name
    assert tiers.score({**base, "strategic": True}, policy) == pytest.approx(s + 10)
    assert tiers.score({**base, "industry": "政府机关"}, policy) == pytest.approx(s + 5)
    full = {
        "employees": 10**6,
        "monthly_revenue": 10**9,
        "info_revenue": 10**9,
        "info_products": 99,
        "industry": "金融业",
        "strategic": True,
    }
    assert tiers.score(full, policy) == 100


def test_preview_counts_the_moves_and_writes_nothing(groups):
    result = tiers.preview(tiers.default_policy())

    assert result["groups"] == 3  # the retained archive is not tiered
    moves = {(m["from"], m["to"]): m["count"] for m in result["moves"]}
    assert moves[("C", "A1")] == 1 and moves[("A1", "C")] == 1 and moves[("C", "A2")] == 1
    assert KeyAccount.objects.get(key_account_id="K001").tier == "C"
    assert not TierChange.objects.exists()


def test_applying_writes_tiers_scores_changes_and_history(groups):
    admin = make_user("admin", "province_admin")

    counts = apply_tiers(admin, reason="年度评定")

    assert counts == {"policy_version": 0, "groups": 3, "moved": 3}
    big = KeyAccount.objects.get(key_account_id="K001")
    assert big.tier == "A1" and big.value_score >= 70 and big.version == 2
    change = TierChange.objects.get(key_account=big)
    assert (change.from_tier, change.to_tier, change.reason, change.by) == (
        "C",
        "A1",
        "年度评定",
        admin,
    )
    assert (
        KeyAccountChange.objects.filter(key_account=big, source="tiers", field="tier").count() == 1
    )
    assert AuditEvent.objects.get(action="keyaccount.tiers.apply").detail["updated"] == 3
    assert apply_tiers(admin, reason="再评")["moved"] == 0  # stable under the same policy


def test_a_new_policy_version_retiers_and_the_old_one_is_retired(groups):
    policy = copy.deepcopy(tiers.default_policy())
    policy["cutoffs"] = {"A1": 99, "A2": 98, "B1": 97, "B2": 96}

    published, counts = publish_tier_policy(None, policy, note="收紧", reason="策略调整")

    assert published.version == 1 and tiers.current() == (1, policy)
    assert set(KeyAccount.objects.filter(archive="active").values_list("tier", flat=True)) == {"C"}
    assert TierChange.objects.filter(policy_version=1).count() == counts["moved"]


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda p: p["weights"].update(employees=50), "权重之和"),
        (lambda p: p["cutoffs"].update(A2=80), "分界线"),
        (lambda p: p["references"].update(employees=0), "满分参考值"),
        (lambda p: p["weights"].pop("strategic"), "strategic"),
    ],
)
def test_bad_policies_are_refused_naming_what_is_wrong(groups, spoil, message):
    policy = copy.deepcopy(tiers.default_policy())
    spoil(policy)
    with pytest.raises(UserError, match=message):
        publish_tier_policy(None, policy, reason="试")
    with pytest.raises(UserError):
        tiers.preview(policy)


def test_a_change_needs_a_reason(groups):
    with pytest.raises(UserError, match="原因"):
        apply_tiers(None, reason=" ")


def test_the_tiers_command_previews_and_applies(groups):
    out = StringIO()
    call_command("tiers", "--preview", stdout=out)
    assert "3 groups, 3 move" in out.getvalue() and not TierChange.objects.exists()
    out = StringIO()
    call_command("tiers", "--reason", "月度评定", stdout=out, stderr=StringIO())
    assert "written" in out.getvalue() and TierChange.objects.count() == 3
