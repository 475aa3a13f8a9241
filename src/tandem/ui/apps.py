from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "tandem.ui"
    label = "ui"
    verbose_name = "Pages"
