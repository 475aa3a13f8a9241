from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "tandem.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from tandem.campaigns.selectors import account_touchpoints, person_journey
        from tandem.campaigns.services import person_merge_channels
        from tandem.crm.registry import (
            account_detail_part_register,
            person_detail_part_register,
            person_merge_step_register,
            person_reference_register,
        )

        # crm sits below campaigns: it learns of touchpoints through its registry (see crm/registry.py).
        person_reference_register(name="touchpoints", model="campaigns.Touchpoint")
        person_merge_step_register(name="channels", step=person_merge_channels)
        person_detail_part_register(name="journey", load=person_journey)
        account_detail_part_register(name="touchpoints", load=account_touchpoints)
