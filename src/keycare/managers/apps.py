from django.apps import AppConfig


class ManagersConfig(AppConfig):
    name = "keycare.managers"
    label = "managers"
