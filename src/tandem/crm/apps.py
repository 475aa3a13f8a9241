from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "tandem.crm"
    label = "crm"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # crm's own tables that point at a person; apps above crm register theirs in their ready().
        person_reference_register(name="deals", model="crm.Deal")
        person_reference_register(name="activities", model="crm.Activity")
        person_reference_register(name="tasks", model="crm.Task")
        person_reference_register(name="deal_roles", model="crm.DealContact")
        person_reference_register(name="external_ids", model="crm.ExternalId")
        person_reference_register(name="consent_records", model="crm.ConsentRecord")
        person_reference_register(name="stage_changes", model="crm.StageChange")
        person_reference_register(name="events", model="core.Event", column="subject_id", subject_type="crm.person")

        from tandem.core.dataversion import data_version_source_register
        from tandem.crm.models import Account, Activity, Deal, DealStageChange, Person, StageChange

        # What the reports read of crm: their cached copies are keyed on these (core/dataversion.py); the
        # updated_at columns have indexes for it (migration 0011).
        data_version_source_register(model=Person, field="updated_at")
        data_version_source_register(model=Account, field="updated_at")
        data_version_source_register(model=Deal, field="updated_at")
        data_version_source_register(model=StageChange, field="id")
        data_version_source_register(model=Activity, field="id")
        data_version_source_register(model=DealStageChange, field=None)
