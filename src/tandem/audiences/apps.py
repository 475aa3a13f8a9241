from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "tandem.audiences"
    label = "audiences"
