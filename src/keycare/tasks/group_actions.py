"""Work on a group task (集团预警任务): the group's manager starts it and records the result.
Each change runs in one transaction, is checked against the task's current state and audited."""

from __future__ import annotations

from django.db import transaction

from keycare.core.audit import record
from keycare.core.workflow import StaleTaskError, WorkflowError
from keycare.tasks.models import GroupTask, TaskState

# state -> the states a manager may move it to
MOVES = {
    TaskState.UNHANDLED: (TaskState.IN_PROGRESS, TaskState.HANDLED_NO_CHANGE),
    TaskState.IN_PROGRESS: (TaskState.HANDLED_NO_CHANGE,),
}


def move_group_task(actor, task: GroupTask, to: str, *, note: str = "") -> GroupTask:
    """Move ``task`` to state ``to`` if it is still in the state the caller saw."""
    if to not in MOVES.get(task.state, ()):
        raise WorkflowError("该任务当前状态下不能进行这一操作")
    with transaction.atomic():
        updated = GroupTask.objects.filter(pk=task.pk, state=task.state).update(state=to)
        if not updated:
            raise StaleTaskError("这个任务已被他人处理，请刷新后重试")
        record(
            actor,
            "grouptask.state",
            task,
            moment=task.moment.code,
            key_account=task.key_account.key_account_id,
            from_state=task.state,
            to_state=to,
            note=note.strip()[:200],
        )
    task.state = to
    return task
