from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "tandem.lifecycle"
    label = "lifecycle"
