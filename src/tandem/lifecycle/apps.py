from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "tandem.lifecycle"
    label = "lifecycle"

    def ready(self) -> None:
        from tandem.core.lazy import deferred_function
        from tandem.webhooks.registry import admin_notifier_register

        # A webhook endpoint disabled after repeated failures is reported to admins in their notifications.
        admin_notifier_register(
            name="in-app", notify=deferred_function("tandem.lifecycle.services", "admins_notify")
        )

        from tandem.core.dataversion import data_version_source_register
        from tandem.lifecycle.models import SlaPolicyVersion

        # The SLA scorecard reads the policy in force (core/dataversion.py).
        data_version_source_register(model=SlaPolicyVersion, field="id")
