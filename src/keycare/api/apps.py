from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "keycare.api"
    label = "api"
