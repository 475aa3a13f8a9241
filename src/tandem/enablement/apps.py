from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "tandem.enablement"
    label = "enablement"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # Content sent to a person follows them through a merge (crm/registry.py).
        person_reference_register(name="content_uses", model="enablement.ContentUse")
