from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "keycare.synth"
    label = "synth"
