from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "tandem.users"
    label = "users"

    def ready(self) -> None:
        from tandem.core.operations import PROBE_PATHS
        from tandem.users.middleware import gate_token_path_register

        # A probe or a scrape never owes a sign-in step, whoever's cookie it carries.
        for prefix in PROBE_PATHS:
            gate_token_path_register(prefix=prefix)
