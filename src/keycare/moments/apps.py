from django.apps import AppConfig


class MomentsConfig(AppConfig):
    name = "keycare.moments"
    label = "moments"
