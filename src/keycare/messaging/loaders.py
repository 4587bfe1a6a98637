"""Loading a published run puts its SMS tasks into the outbox (a step of
``keycare.runs.loaders``, registered in ``MessagingConfig.ready()`` after the tasks app's)."""

from __future__ import annotations

from keycare.messaging.actions import queue_task_messages
from keycare.tasks.models import ServiceTask, TaskChannel, TaskState


def load_sms_outbox(loader) -> None:
    tasks = ServiceTask.objects.filter(
        business_date=loader.date, channel=TaskChannel.SMS, state=TaskState.UNHANDLED
    )
    loader.summary["sms"] = queue_task_messages(None, tasks)
