from django.apps import AppConfig


class SignallingConfig(AppConfig):
    name = "keycare.signalling"
    label = "signalling"
