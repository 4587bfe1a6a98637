"""预约: the list by status for managers (their own) and admins (their scope), and the "done"
action from the list and from the workbench (audited, refused twice, 404 outside scope)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from factories import make_appointment, make_customer, make_manager, make_org, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks.models import Appointment

pytestmark = pytest.mark.django_db


def at(days: int, hour: int = 10):
    """A moment ``days`` from today, local time."""
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def world(db):
    places = make_org()
    nanjing, suzhou = places["C025"], places["C0512"]
    own = make_manager(nanjing, "M001")
    colleague = make_manager(nanjing, "M002")
    elsewhere = make_manager(suzhou, "M003")
    customers = {
        "own": make_customer(nanjing, "S001", own, name="欧阳修文", msisdn="13812345671"),
        "colleague": make_customer(nanjing, "S002", colleague),
        "elsewhere": make_customer(suzhou, "S003", elsewhere),
    }
    c = customers["own"]
    appointments = {
        "overdue": make_appointment(c, at(-2), notes="回访 13812345671"),
        "due": make_appointment(c, at(0, 23)),
        "upcoming": make_appointment(c, at(3)),
        "done": make_appointment(c, at(-1), done_at=timezone.now()),
        "colleague": make_appointment(customers["colleague"], at(0, 23)),
        "elsewhere": make_appointment(customers["elsewhere"], at(-1)),
    }
    return {"places": places, "managers": (own, colleague, elsewhere), "a": appointments}


def login(client, role, **scope):
    user = make_user(f"u_{role}", role, **scope)
    client.force_login(user)
    return user


def listed(response) -> set[int]:
    return {row["pk"] for row in response.context["rows"]}


def test_manager_sees_their_own_by_status(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["managers"][0])
    a = world["a"]
    response = client.get("/appointments/")
    assert response.status_code == 200
    assert listed(response) == {a["overdue"].pk, a["due"].pk, a["upcoming"].pk}
    counts = {value: n for value, _label, n in response.context["tabs"]}
    assert counts == {"": 3, "overdue": 1, "due": 1, "upcoming": 1, "done": 1}
    for status in ("overdue", "due", "upcoming", "done"):
        assert listed(client.get(f"/appointments/?status={status}")) == {a[status].pk}
    html = response.content.decode()
    assert "欧阳修文" not in html and "13812345671" not in html  # masked, notes too
    assert listed(client.get("/appointments/?status=nonsense")) == listed(response)


def test_admins_see_their_scope(client, world):
    a = world["a"]
    login(client, roles.ROLE_CITY_ADMIN, city=world["places"]["C025"].city)
    city = listed(client.get("/appointments/"))
    assert city == {a["overdue"].pk, a["due"].pk, a["upcoming"].pk, a["colleague"].pk}
    client.logout()
    login(client, roles.ROLE_PROVINCE_ADMIN)
    assert listed(client.get("/appointments/")) == city | {a["elsewhere"].pk}


@pytest.mark.parametrize("role", [roles.ROLE_AUDITOR, roles.ROLE_ANALYST])
def test_other_roles_are_refused(client, world, role):
    login(client, role)
    assert client.get("/appointments/").status_code == 403
    assert client.post(f"/appointments/{world['a']['due'].pk}/done/").status_code == 403


def test_done_from_the_list_is_audited_and_refused_twice(client, world):
    user = login(client, roles.ROLE_MANAGER, manager=world["managers"][0])
    appointment = world["a"]["overdue"]
    url = f"/appointments/{appointment.pk}/done/"
    response = client.post(url, {"next": "/appointments/?status=overdue"})
    assert response.status_code == 302 and response["Location"] == "/appointments/?status=overdue"
    appointment.refresh_from_db()
    assert appointment.done_at is not None
    event = AuditEvent.objects.get(action="appointment.complete")
    assert event.actor == user and event.object_id == str(appointment.pk)
    again = client.post(url, follow=True)
    assert any("已被处理" in str(m) for m in again.context["messages"])
    assert AuditEvent.objects.filter(action="appointment.complete").count() == 1
    assert client.get(url).status_code == 405  # only a POST completes


def test_done_outside_scope_is_404(client, world):
    a = world["a"]
    login(client, roles.ROLE_MANAGER, manager=world["managers"][0])
    assert client.post(f"/appointments/{a['colleague'].pk}/done/").status_code == 404
    client.logout()
    login(client, roles.ROLE_CITY_ADMIN, city=world["places"]["C025"].city)
    assert client.post(f"/appointments/{a['elsewhere'].pk}/done/").status_code == 404
    assert client.post(f"/appointments/{a['colleague'].pk}/done/").status_code == 302
    assert Appointment.objects.filter(done_at__isnull=False).count() == 2
    assert not AuditEvent.objects.filter(object_id=str(a["elsewhere"].pk)).exists()


def test_an_unsafe_next_falls_back_to_the_list(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["managers"][0])
    response = client.post(
        f"/appointments/{world['a']['due'].pk}/done/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/appointments/"


def test_done_from_the_workbench(client, world):
    login(client, roles.ROLE_MANAGER, manager=world["managers"][0])
    due = world["a"]["overdue"]
    page = client.get("/workbench/")
    assert due.pk in [row["pk"] for row in page.context["appointments"]["due_rows"]]
    html = page.content.decode()
    assert f'action="/appointments/{due.pk}/done/"' in html and 'href="/appointments/"' in html
    response = client.post(f"/appointments/{due.pk}/done/", {"next": "/workbench/"})
    assert response["Location"] == "/workbench/"
    rows = client.get("/workbench/").context["appointments"]["due_rows"]
    assert due.pk not in [row["pk"] for row in rows]
