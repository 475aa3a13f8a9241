from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "tandem.enablement"
    label = "enablement"
