"""/api/key-accounts/ and its members/, key-persons/ and products/: scoped, masked, in the schema."""

import pytest
from rest_framework.test import APIClient

from factories import (
    make_customer,
    make_key_account,
    make_key_account_archive,
    make_manager,
    make_org,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.keyaccounts.models import KeyAccountMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups():
    org = make_org()
    mine = make_manager(org["C025"], "KM1", role="key_account_manager")
    other = make_manager(org["C0512"], "KM2", role="key_account_manager")
    group = make_key_account(org["C025"], "K001", mine, tier="A1", value_score=81.5, points=3200,
                             credit_rating="AA")  # fmt: skip
    make_key_account_archive(group)
    member = make_customer(org["C025"], "S001", msisdn="13812345678", name="欧阳修文")
    KeyAccountMember.objects.create(key_account=group, customer=member, role="member",
                                    joined_date="2020-01-01")  # fmt: skip
    far = make_key_account(org["C0512"], "K002", other)
    return {"group": group, "far": far, "mine": mine}


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_key_account_manager_reads_their_groups_with_tier_score_credit_and_points(groups):
    client = _client(make_user("km", roles.ROLE_MANAGER, manager=groups["mine"]))

    body = client.get("/api/key-accounts/").json()

    assert [r["key_account_id"] for r in body["results"]] == ["K001"]
    row = body["results"][0]
    assert (row["tier"], row["value_score"], row["credit_rating"], row["points_balance"]) == (
        "A1", 81.5, "AA", 3200,
    )  # fmt: skip
    assert row["member_count"] == 1
    assert client.get(f"/api/key-accounts/{groups['far'].pk}/").status_code == 404
    assert client.get(f"/api/key-accounts/{groups['far'].pk}/key-persons/").status_code == 404


def test_members_and_key_persons_are_masked_and_products_carry_their_sla(groups):
    client = _client(make_user("admin", roles.ROLE_PROVINCE_ADMIN))
    pk = groups["group"].pk

    members = client.get(f"/api/key-accounts/{pk}/members/").json()["results"]
    persons = client.get(f"/api/key-accounts/{pk}/key-persons/").json()["results"]
    products = client.get(f"/api/key-accounts/{pk}/products/").json()["results"]

    assert members[0]["subscriber_id"] == "S001" and members[0]["msisdn"] == "138****5678"
    assert members[0]["name"] != "欧阳修文"
    boss, finance = persons
    assert boss["name"] != "张建国" and boss["mobile"] == "139****5678"
    assert boss["birth_date"] == "1970-**-**" and finance["reports_to"] == boss["person_id"]
    line = next(p for p in products if p["product_type"] == "data_line")
    assert (line["sla_availability"], line["sla_restore_hours"]) == (99.95, 4.0)
    assert AuditEvent.objects.filter(action="keyaccount.view", object_id=str(pk)).exists()


def test_the_filters_and_the_schema(groups):
    client = _client(make_user("admin", roles.ROLE_PROVINCE_ADMIN))
    assert [
        r["key_account_id"] for r in client.get("/api/key-accounts/?tier=A1").json()["results"]
    ] == ["K001"]
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/key-accounts/", "/api/key-accounts/{id}/members/",
                 "/api/key-accounts/{id}/key-persons/", "/api/key-accounts/{id}/products/"):  # fmt: skip
        assert path in schema["paths"], path


def test_credit_rating_and_points_balance_are_what_keycare_computes(groups):
    from keycare.keyaccounts.actions import apply_rule, earn_points, redeem_points

    apply_rule(None, "credit", reason="评定")
    apply_rule(None, "definition", reason="界定")
    earn_points(None)
    group = groups["group"]
    group.refresh_from_db()
    redeem_points(None, group, "200", reason="兑换")
    client = _client(make_user("km", roles.ROLE_MANAGER, manager=groups["mine"]))
    row = client.get(f"/api/key-accounts/{group.pk}/").json()
    group.refresh_from_db()
    assert row["credit_rating"] == group.credit_rating != "AA"  # rated, not as delivered
    assert (
        row["points_balance"]
        == group.points
        == sum(group.points_entries.values_list("points", flat=True))
    )
    assert (row["key_customer"], row["key_level"]) == (True, "city")


def test_potential_key_accounts_are_scoped_and_their_contact_masked(groups):
    org_city = groups["group"].city
    from keycare.keyaccounts.models import PotentialKeyAccount

    contact = KeyAccountMember.objects.get().customer
    PotentialKeyAccount.objects.create(
        candidate_id="vpmn-1", source="vpmn", name="VPX00001", city=org_city,
        manager=groups["mine"], subscribers=9, monthly_spend=1800, score=30, contact=contact,
        rule_version=0,
    )  # fmt: skip
    client = _client(make_user("km", roles.ROLE_MANAGER, manager=groups["mine"]))
    body = client.get("/api/potential-key-accounts/").json()
    assert [r["candidate_id"] for r in body["results"]] == ["vpmn-1"]
    row = body["results"][0]
    assert row["contact_name"] != "欧阳修文" and row["contact_msisdn"] != "13812345678"
    assert row["stage"] == "candidate"
    other = _client(make_user("km2", roles.ROLE_MANAGER, manager=make_manager(org_city, "KM3")))
    assert other.get("/api/potential-key-accounts/").json()["count"] == 0
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/potential-key-accounts/" in schema["paths"]
