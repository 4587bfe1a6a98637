"""The tactics library (保有36式 and the key-moment strategies): validation of the shipped YAML,
the matrix lookup, the versioned import, outcomes recording the tactic used."""

import copy

import pytest

from factories import make_customer, make_moment, make_org, make_tactics, make_task, make_user
from keycare.core.models import AuditEvent
from keycare.core.workflow import WorkflowError
from keycare.moments import actions, tactic_services
from keycare.moments.models import Tactic, TacticLibraryVersion
from keycare.moments.tactics import (
    TacticLibraryError,
    parse_library,
    read_builtin_document,
    risk_band,
    suggest,
)
from keycare.tasks import actions as task_actions
from keycare.tasks.models import Outcome, TaskMoment
from keycare.tasks.payload import payload_queryset, task_payload

MOMENTS = {"A03": "anomaly", "A05": "anomaly", "A11": "anomaly", "F01": "first", "N01": "no_service",
           "S01": "special"}  # fmt: skip
TIERS = ("mid_high", "mass")


def parse(document):
    return parse_library(document, moment_categories=MOMENTS | _builtin(), tiers=TIERS)


def _builtin():
    from keycare.moments import services

    return {
        e["code"]: e["category"] for e in services.moment_entries(services.read_builtin_document())
    }


@pytest.fixture
def library():
    return parse(read_builtin_document())


# --- the YAML ---------------------------------------------------------------------------


def test_shipped_library_is_valid_and_holds_the_seed_tactics(library):
    assert list(library.tactics)[:4] == ["T01", "T02", "T03", "T04"]
    assert library.tactics["T01"].zh == "产品捆绑法"
    assert library.tactics["T04"].zh == "话费优惠捆绑法"
    assert "集团V网" in library.tactics["T01"].description
    assert library.tactics["K05"].zh == "冲突化解"
    assert [name for name, _ in library.bands] == ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["matrix"].append({"when": {"moments": ["X99"]}, "tactics": ["T01"]}),
         "未知的关键时刻 X99"),
        (lambda d: d["tactics"].append(dict(d["tactics"][0])), "战术编码重复 T01"),
        (lambda d: d["matrix"].append({"when": {"categories": ["first"]}, "tactics": ["T99"]}),
         "未知的战术 T99"),
        (lambda d: d["matrix"].append({"when": {"tiers": ["vip"]}, "tactics": []}),
         "未知的客户层级 vip"),
        (lambda d: d["matrix"].append({"when": {"bands": ["extreme"]}, "tactics": []}),
         "未知的风险档 extreme"),
        (lambda d: d["risk_bands"].update(high=1.5), "风险档 high 的下限"),
        (lambda d: d["tactics"][0].update(group="nope"), "分组 nope 未定义"),
    ],
)  # fmt: skip
def test_invalid_documents_are_refused_with_a_clear_message(mutate, message):
    document = copy.deepcopy(read_builtin_document())
    mutate(document)
    with pytest.raises(TacticLibraryError, match=message):
        parse(document)


# --- the matrix lookup ------------------------------------------------------------------


def test_risk_bands_follow_the_thresholds(library):
    assert risk_band(library, 0.0) == "low"
    assert risk_band(library, 0.29) == "low"
    assert risk_band(library, 0.3) == "medium"
    assert risk_band(library, 0.6) == "high"
    assert risk_band(library, None) is None


def test_lookup_by_moment_tier_and_band(library):
    # A high-value customer in arrears at high risk: the seed's example plus call credit.
    assert suggest(library, [("A05", "anomaly")], "mid_high", 0.8) == ["K07", "K08", "T04"]
    assert suggest(library, [("A05", "anomaly")], "mid_high", 0.1) == ["K07", "K08", "K06"]
    # Call-circle churn: value-network bundling for high-value customers at risk only.
    assert suggest(library, [("A11", "anomaly")], "mid_high", 0.7) == ["T02", "T01", "T04"]
    assert suggest(library, [("A11", "anomaly")], "mass", 0.7) == ["K05", "K06", "K07"]
    # Any other anomaly falls to the category rules.
    assert suggest(library, [("A03", "anomaly")], "mid_high", 0.9) == ["K05", "T04", "T01"]
    assert suggest(library, [("A03", "anomaly")], "mid_high", 0.4) == ["K05", "K06", "T04"]
    # No probability: only rules without a band match.
    assert suggest(library, [("A03", "anomaly")], "mid_high", None) == ["K05", "K06", "K07"]
    assert suggest(library, [("S01", "special")], "mass", 0.9) == ["K09", "K10", "K11"]
    assert suggest(library, [("N01", "no_service")], "mid_high", 0.9) == []


def test_several_moments_merge_in_order_without_repeats(library):
    moments = [("A04", "anomaly"), ("A03", "anomaly")]
    assert suggest(library, moments, "mid_high", 0.8, limit=5) == [
        "K07",
        "K08",
        "T04",
        "K05",
        "T01",
    ]
    assert suggest(library, moments, "mid_high", 0.8, active={"K08", "K05"}) == ["K08", "K05"]


# --- import and versions ----------------------------------------------------------------


@pytest.mark.django_db
def test_sync_is_idempotent_and_a_changed_document_is_a_new_audited_version():
    first = actions.sync_builtin_tactics()
    assert first["created"] and first["version"] == 1
    assert actions.sync_builtin_tactics() == {"created": False, "version": 1, "changes": {}}
    assert TacticLibraryVersion.objects.count() == 1
    assert Tactic.objects.filter(active=True).count() == 16

    admin = make_user("admin1")
    document = copy.deepcopy(read_builtin_document())
    document["tactics"] = [t for t in document["tactics"] if t["code"] != "K12"]
    document["matrix"][-1]["tactics"] = ["K09", "K10", "K11"]
    result = actions.save_tactic_library(admin, document, note="去掉有惊喜")
    assert result["version"] == 2
    assert result["changes"] == {"removed": ["K12"], "matrix": True}
    assert not Tactic.objects.get(code="K12").active  # kept for the outcomes pointing at it
    event = AuditEvent.objects.filter(action="tactics.update").latest("id")
    assert event.actor == admin and event.detail["version"] == 2


@pytest.mark.django_db
def test_an_invalid_document_writes_nothing():
    document = copy.deepcopy(read_builtin_document())
    document["matrix"].append({"when": {"moments": ["Z01"]}, "tactics": ["T01"]})
    with pytest.raises(TacticLibraryError):
        actions.save_tactic_library(None, document)
    assert not TacticLibraryVersion.objects.exists() and not Tactic.objects.exists()


# --- tasks: payload and outcomes ------------------------------------------------------------


@pytest.fixture
def task(db):
    place = make_org()["C025"]
    customer = make_customer(place, "S0001", value_tier="mid_high")
    task = make_task(customer, risk_probability=0.8)
    TaskMoment.objects.create(task=task, moment=make_moment("A05", category="anomaly"), priority=90)
    make_tactics()
    return task


def test_payload_suggests_the_top_three_with_descriptions(task):
    payload = task_payload(payload_queryset([task]).get())
    suggested = payload["suggested_tactics"]
    assert [t["code"] for t in suggested] == ["K07", "K08", "T04"]
    assert suggested[2]["name"] == "话费优惠捆绑法" and "送话费" in suggested[2]["description"]


def test_payload_without_a_library_suggests_nothing(db):
    place = make_org()["C025"]
    task = make_task(make_customer(place, "S0002"))
    assert task_payload(payload_queryset([task]).get())["suggested_tactics"] == []
    assert tactic_services.current_library() is None


def test_outcome_records_the_tactic_and_audits_it(task):
    user = make_user("mgr1")
    task_actions.claim_task(user, task)
    outcome = task_actions.record_outcome(
        user, task, contact_result="reached", recommendation="accepted", tactic="T04"
    )
    assert Outcome.objects.get(pk=outcome.pk).tactic.code == "T04"
    event = AuditEvent.objects.filter(action="task.outcome").latest("id")
    assert event.detail["tactic"] == "T04"

    task_actions.complete_task(user, task, outcome={"contact_result": "reached", "tactic": "K07"})
    assert Outcome.objects.filter(task=task, tactic__code="K07").exists()
    event = AuditEvent.objects.filter(action="task.complete").latest("id")
    assert event.detail["outcome"]["tactic"] == "K07"


@pytest.mark.parametrize("code", ["T99", "K12x", "<script>"])
def test_an_unknown_or_retired_tactic_is_refused(task, code):
    user = make_user("mgr1")
    task_actions.claim_task(user, task)
    with pytest.raises(WorkflowError, match="保有战术无效"):
        task_actions.record_outcome(user, task, contact_result="reached", tactic=code)
    Tactic.objects.filter(code="K12").update(active=False)
    with pytest.raises(WorkflowError, match="保有战术无效"):
        task_actions.record_outcome(user, task, contact_result="reached", tactic="K12")
    assert not Outcome.objects.exists()
