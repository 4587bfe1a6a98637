from django.apps import AppConfig


class EffectsConfig(AppConfig):
    name = "keycare.effects"
    label = "effects"
