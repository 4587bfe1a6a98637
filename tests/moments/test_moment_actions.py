"""Moment definitions in the database: sync, versioned updates, restore, engine validation."""

import pytest

from factories import make_city, make_user
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.moments import actions, services
from keycare.moments.models import CityThreshold, MomentDefinition, RuleVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(db):
    actions.sync_builtin_definitions(actor=None)
    return MomentDefinition.objects.get(code="A07")


@pytest.fixture
def admin_user(db):
    return make_user("admin1")


@pytest.fixture
def nanjing(db):
    return make_city("C025", "南京市")


def test_sync_is_idempotent_and_starts_at_version_1():
    first = actions.sync_builtin_definitions(actor=None)
    assert first["created"] == 37  # the 29 customer moments and the 8 group moments
    assert actions.sync_builtin_definitions(actor=None) == {
        "created": 0,
        "existing": 37,
        "codes": [],
    }
    assert MomentDefinition.objects.count() == 37
    assert MomentDefinition.objects.filter(category="group").count() == 8
    assert set(RuleVersion.objects.values_list("number", flat=True)) == {1}
    assert RuleVersion.objects.count() == 37
    assert AuditEvent.objects.filter(action="moments.sync").count() == 1
    a07 = MomentDefinition.objects.get(code="A07")
    assert a07.threshold_defaults()["spend_drop_pct"] == 30 and a07.category == "anomaly"


def test_database_definitions_round_trip_through_the_engine(synced):
    definitions, overrides = services.current_definitions()
    assert len(definitions.moments) == 29 and overrides == {}
    assert definitions.by_code["A07"].thresholds == synced.threshold_defaults()


def test_update_creates_a_version_with_who_and_what(synced, admin_user, nanjing):
    version = actions.update_moment(
        admin_user,
        synced,
        {"thresholds": {"spend_drop_pct": "35"}, "priority": 90},
        {"C025": {"spend_drop_pct": 40}},
        note="南京加严",
    )
    assert version.number == 2 and version.changed_by == admin_user
    assert version.changes == {
        "priority": [synced.priority, 90],
        "thresholds.spend_drop_pct.default": [30, 35],
        "city.C025.spend_drop_pct": [None, 40],
    }
    assert version.snapshot["city_thresholds"] == {"C025": {"spend_drop_pct": 40}}
    synced.refresh_from_db()
    assert synced.current_version == 2 and synced.threshold_defaults()["spend_drop_pct"] == 35
    assert CityThreshold.objects.get().value == 40
    event = AuditEvent.objects.get(action="moments.update")
    assert event.actor == admin_user and event.detail["version"] == 2
    definitions, overrides = services.current_definitions()
    assert overrides == {"C025": {"A07": {"spend_drop_pct": 40}}}
    assert definitions.by_code["A07"].thresholds_for("C025")["spend_drop_pct"] == 40
    assert definitions.by_code["A07"].thresholds_for("C0512")["spend_drop_pct"] == 35


@pytest.mark.parametrize(
    "changes, cities, message",
    [
        ({"thresholds": {"spend_drop_pct": 500}}, None, "spend_drop_pct"),
        ({"thresholds": {"spend_drop_pct": "lots"}}, None, "必须是数字"),
        ({"thresholds": {"no_such": 1}}, None, "no_such"),
        ({"priority": 0}, None, "priority"),
        ({"channel": "fax"}, None, "channel"),
        ({"code": "Z99"}, None, "不可修改"),
        ({}, {"C025": {"spend_drop_pct": 2}}, "spend_drop_pct"),
        ({}, {"C999": {"spend_drop_pct": 40}}, "未知地市"),
    ],
)
def test_invalid_change_is_refused_and_nothing_is_written(
    synced, admin_user, nanjing, changes, cities, message
):
    with pytest.raises(UserError, match=message):
        actions.update_moment(admin_user, synced, changes, cities)
    synced.refresh_from_db()
    assert synced.current_version == 1 and synced.threshold_defaults()["spend_drop_pct"] == 30
    assert RuleVersion.objects.filter(moment=synced).count() == 1
    assert not CityThreshold.objects.exists()
    assert not AuditEvent.objects.filter(action="moments.update").exists()


def test_no_change_makes_no_version(synced, admin_user):
    assert actions.update_moment(admin_user, synced, {"priority": synced.priority}) is None
    assert RuleVersion.objects.filter(moment=synced).count() == 1


def test_restore_brings_back_an_old_version_as_a_new_one(synced, admin_user, nanjing):
    actions.update_moment(
        admin_user,
        synced,
        {"enabled": False, "thresholds": {"spend_drop_pct": 50}},
        {nanjing: {"minutes_drop_pct": 25}},
    )
    first = RuleVersion.objects.get(moment=synced, number=1)
    restored = actions.restore_version(admin_user, first)
    assert restored.number == 3 and "恢复至版本 1" in restored.note
    synced.refresh_from_db()
    assert synced.enabled is True and synced.threshold_defaults()["spend_drop_pct"] == 30
    assert not CityThreshold.objects.exists()
    assert restored.changes["city.C025.minutes_drop_pct"] == [25, None]
    assert restored.snapshot == first.snapshot


def test_city_override_removed_with_none(synced, admin_user, nanjing):
    actions.update_moment(admin_user, synced, {}, {"C025": {"spend_drop_pct": 40}})
    version = actions.update_moment(admin_user, synced, {}, {"C025": {"spend_drop_pct": None}})
    assert version.changes == {"city.C025.spend_drop_pct": [40, None]}
    assert not CityThreshold.objects.exists()


def test_update_with_a_stale_expected_version_is_refused_and_writes_nothing(
    synced, admin_user, nanjing
):
    actions.update_moment(admin_user, synced, {"priority": 90}, expected_version=1)
    with pytest.raises(actions.StaleVersionError, match="已被他人修改"):
        actions.update_moment(
            admin_user, synced, {"priority": 91}, {"C025": {"spend_drop_pct": 40}},
            expected_version=1,
        )  # fmt: skip
    synced.refresh_from_db()
    assert synced.current_version == 2 and synced.priority == 90
    assert not CityThreshold.objects.exists()
    assert AuditEvent.objects.filter(action="moments.update").count() == 1


def test_restore_with_a_stale_expected_version_is_refused(synced, admin_user):
    actions.update_moment(admin_user, synced, {"priority": 90})
    first = RuleVersion.objects.get(moment=synced, number=1)
    with pytest.raises(actions.StaleVersionError):
        actions.restore_version(admin_user, first, expected_version=1)
    assert MomentDefinition.objects.get(pk=synced.pk).current_version == 2


def test_candidate_definitions_is_a_dry_run_of_the_update(synced, admin_user, nanjing):
    current, changed = actions.candidate_definitions(
        synced, {"thresholds": {"spend_drop_pct": "35"}}, {"C025": {"spend_drop_pct": 40}}
    )
    assert current.by_code["A07"].thresholds["spend_drop_pct"] == 30
    assert changed.by_code["A07"].thresholds["spend_drop_pct"] == 35
    assert changed.by_code["A07"].thresholds_for("C025")["spend_drop_pct"] == 40
    assert current.version != changed.version
    synced.refresh_from_db()
    assert synced.current_version == 1 and not CityThreshold.objects.exists()
    assert not AuditEvent.objects.filter(action="moments.update").exists()
    with pytest.raises(UserError):
        actions.candidate_definitions(synced, {"thresholds": {"spend_drop_pct": 1000}})
