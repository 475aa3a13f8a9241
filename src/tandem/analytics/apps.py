from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tandem.analytics"
    label = "analytics"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # A person's experiment arms follow them through a merge (crm/registry.py).
        person_reference_register(name="experiment_assignments", model="analytics.ExperimentAssignment")

        from tandem.analytics.dashboard.models import Goal
        from tandem.core.dataversion import data_version_source_register

        # The dashboard reads the KPI goals (a new version is a new row) (core/dataversion.py).
        data_version_source_register(model=Goal, field="id")
