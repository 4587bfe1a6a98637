from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keycare.web"
    label = "web"
