from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "keycare.complaints"
    label = "complaints"
