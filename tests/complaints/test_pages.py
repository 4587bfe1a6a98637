"""The complaint-text list: scoped, masked, filterable, paginated."""

import pytest

from factories import make_complaint, make_manager, make_user, numbered_customer
from keycare.access import roles
from keycare.web import complaints as page_module

pytestmark = pytest.mark.django_db


@pytest.fixture
def texts(customers, org):
    make_complaint(customers[0], "broadband_fault", "repair", text="宽带坏了，回电13812345678")
    make_complaint(customers[1], "roaming_charge", "refund", text="漫游费太贵", confidence=0.41)
    make_complaint(customers[2], "staff_attitude", "apology", text="态度差", resolved=False)
    far = numbered_customer(org, 9, make_manager(org["C0512"], "M009"), city="C0512")
    make_complaint(far, "slow_data", "repair", text="网速慢")


def test_manager_sees_their_customers_texts_masked(client, manager, texts):
    client.force_login(make_user("m", roles.ROLE_MANAGER, manager=manager))
    page = client.get("/complaints/")
    assert page.status_code == 200
    html = page.content.decode()
    assert len(page.context["rows"]) == 3 and "网速慢" not in html
    assert "13812345678" not in html and "宽带坏了" in html
    assert "家庭宽带 / 宽带故障" in html and "故障修复" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cause=roaming_charge", ["漫游费太贵"]),
        ("group=service", ["态度差"]),
        ("need=repair", ["宽带坏了，回电138****5678", "网速慢"]),
        ("resolved=no", ["态度差"]),
        ("low=1", ["漫游费太贵"]),
        ("q=漫游", ["漫游费太贵"]),
        ("cause=nonsense", ["宽带坏了，回电138****5678", "漫游费太贵", "态度差", "网速慢"]),
    ],
)
def test_filters(client, texts, query, expected):
    client.force_login(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    rows = client.get(f"/complaints/?{query}").context["rows"]
    assert sorted(r["text"] for r in rows) == sorted(expected)


def test_list_is_paginated(client, customers, monkeypatch):
    monkeypatch.setattr(page_module, "PAGE_SIZE", 2)
    for n in range(5):
        make_complaint(customers[0], "slow_data", "repair", text=f"网速慢{n}")
    client.force_login(make_user("p", roles.ROLE_PROVINCE_ADMIN))
    page = client.get("/complaints/?page=3").context["page"]
    assert page.number == 3 and len(page.object_list) == 1


def test_auditor_is_refused(client, texts):
    client.force_login(make_user("a", roles.ROLE_AUDITOR))
    assert client.get("/complaints/").status_code == 403
