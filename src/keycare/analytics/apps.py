from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "keycare.analytics"
    label = "analytics"
