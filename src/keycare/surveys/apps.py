from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "keycare.surveys"
    label = "surveys"
