from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "tandem.audiences"
    label = "audiences"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # crm sits below audiences: a merge moves the duplicate's memberships to the survivor, dropping those
        # the survivor already has (one row per audience and person).
        person_reference_register(
            name="audience_members", model="audiences.AudienceMember", unique_with=("audience_id",)
        )
