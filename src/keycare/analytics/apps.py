"""The indicator layer, the analyses, the analyst's workbench and reports."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "keycare.analytics"
    label = "analytics"

    def ready(self):
        from keycare.analytics.loaders import (
            load_indicator_values,
            load_survey_indicators_step,
        )
        from keycare.runs.loaders import register_load_step

        register_load_step(load_indicator_values)
        register_load_step(load_survey_indicators_step)
