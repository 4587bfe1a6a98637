"""Satisfaction surveys: templates, survey tasks, answers and the satisfaction index."""

from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "keycare.surveys"
    label = "surveys"

    def ready(self):
        from keycare.runs.loaders import register_load_step
        from keycare.surveys.actions import draw_after_load

        register_load_step(draw_after_load)
