"""The API's outcome takes the tactic used: recorded and audited; an unknown one is a 400."""

import pytest
from test_role_matrix import MANAGER_A1, build_world, client_for

from factories import make_tactics
from keycare.core.models import AuditEvent
from keycare.tasks.models import Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = build_world()
    make_tactics()
    return world


@pytest.fixture
def claimed(world):
    client = client_for(world.users[MANAGER_A1])
    task = next(pk for pk in world.rows["tasks"] if world.tags[("tasks", pk)][1] == "A1")
    assert client.post(f"/api/tasks/{task}/claim/", {}, format="json").status_code == 200
    return client, task


def test_outcome_with_a_tactic_is_recorded_and_audited(claimed):
    client, task = claimed
    response = client.post(
        f"/api/tasks/{task}/outcome/",
        {"result": "reached", "recommendation": "accepted", "tactic": "T02"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Outcome.objects.get(task_id=task).tactic.code == "T02"
    assert AuditEvent.objects.filter(action="task.outcome").latest("id").detail["tactic"] == "T02"


def test_outcome_without_a_tactic_still_works(claimed):
    client, task = claimed
    response = client.post(f"/api/tasks/{task}/outcome/", {"result": "reached"}, format="json")
    assert response.status_code == 200, response.content
    assert Outcome.objects.get(task_id=task).tactic is None


@pytest.mark.parametrize("tactic", ["T99", "TOOLONGCODE"])
def test_an_unknown_tactic_is_a_400_and_nothing_is_recorded(claimed, tactic):
    client, task = claimed
    response = client.post(
        f"/api/tasks/{task}/outcome/", {"result": "reached", "tactic": tactic}, format="json"
    )
    assert response.status_code == 400, response.content
    assert not Outcome.objects.filter(task_id=task).exists()
