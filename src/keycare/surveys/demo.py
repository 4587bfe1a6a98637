"""Demo step of the surveys app: answers for part of the surveys the loaded run drew.

The run load drew the day's surveys (key accounts' key persons and members, served moments,
closed work orders); here about two in three are answered through the SMS link channel with
scores spread as real answers are (most satisfied, some not), so the satisfaction analysis,
the low-score follow-ups and the managers' open surveys all have something to show. A customer
with an unresolved complaint tends to answer low, as real customers do: the knowledge graph's
low-satisfaction prediction is then checked against these answers (`keycare knowledge
surveys`), not only against the synthetic truth.
"""

from __future__ import annotations

import random

from keycare.core.demo_steps import DemoContext, DemoStep

SEED = 19


def answer_some_surveys(context: DemoContext) -> None:
    from keycare.complaints.models import Complaint
    from keycare.surveys.actions import record_answer
    from keycare.surveys.models import SurveyState, SurveyTask

    rng = random.Random(SEED)
    tasks = list(
        SurveyTask.objects.filter(state=SurveyState.OPEN).select_related("template", "customer")
    )
    unresolved = set(Complaint.objects.filter(resolved=False).values_list("customer_id", flat=True))
    answered = low = 0
    for task in tasks:
        if rng.random() > 0.66:
            continue  # left open for the managers
        moods = (5, 4, 3, 7, 8) if task.customer_id in unresolved else (9, 9, 8, 8, 7, 5, 3)
        mood = rng.choice(moods)
        top = task.template.scale_max
        answers = {
            q["code"]: max(0, min(top, mood + rng.randint(-2, 1))) for q in task.template.questions
        }
        response = record_answer(None, task, answers, "sms")
        answered += 1
        low += bool(response.follow_up_id)
    print(f"   满意度调查 {len(tasks)} 份，已回答 {answered}，低分跟进 {low}", flush=True)


DEMO_STEPS = [DemoStep("after_loadrun", "满意度调查 surveys", answer_some_surveys)]
