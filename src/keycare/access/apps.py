from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "keycare.access"
    label = "access"
