from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tandem.analytics"
    label = "analytics"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # A person's experiment arms follow them through a merge (crm/registry.py).
        person_reference_register(name="experiment_assignments", model="analytics.ExperimentAssignment")
