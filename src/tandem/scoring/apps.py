from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "tandem.scoring"
    label = "scoring"

    def ready(self) -> None:
        from tandem.core.dataversion import data_version_source_register
        from tandem.scoring.models import PersonScore

        # Unit economics reads the scores' expected values (core/dataversion.py); updated_at is indexed.
        data_version_source_register(model=PersonScore, field="updated_at")
