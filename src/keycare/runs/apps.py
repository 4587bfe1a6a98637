from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "keycare.runs"
    label = "runs"
