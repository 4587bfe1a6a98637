from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "keycare.campaigns"
    label = "campaigns"
