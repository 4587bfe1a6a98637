from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "keycare.workorders"
    label = "workorders"
