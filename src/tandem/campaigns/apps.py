from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "tandem.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from tandem.core.lazy import deferred_function
        from tandem.crm.registry import (
            account_detail_part_register,
            person_detail_part_register,
            person_merge_step_register,
            person_reference_register,
        )

        # crm sits below campaigns: it learns of touchpoints through its registry (see crm/registry.py).
        person_reference_register(name="touchpoints", model="campaigns.Touchpoint")
        person_merge_step_register(
            name="channels", step=deferred_function("tandem.campaigns.services", "person_merge_channels")
        )
        person_detail_part_register(
            name="journey", load=deferred_function("tandem.campaigns.selectors", "person_journey")
        )
        account_detail_part_register(
            name="touchpoints", load=deferred_function("tandem.campaigns.selectors", "account_touchpoints")
        )

        from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
        from tandem.core.dataversion import data_version_source_register

        # What the reports read of campaigns (core/dataversion.py): touchpoints are only appended (erasure and
        # merges bump the version), campaigns carry their cost total and updated_at.
        data_version_source_register(model=Touchpoint, field="id")
        data_version_source_register(model=Campaign, field="updated_at")
        data_version_source_register(model=CampaignCost, field="id")
