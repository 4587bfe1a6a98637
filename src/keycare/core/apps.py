from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "keycare.core"
    label = "core"
