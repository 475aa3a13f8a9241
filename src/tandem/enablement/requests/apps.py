from django.apps import AppConfig


class CollateralConfig(AppConfig):
    name = "tandem.enablement.requests"
    label = "collateral"
    verbose_name = "Collateral requests"
