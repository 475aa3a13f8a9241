from __future__ import annotations

import factory

from tandem.users.models import Role, Team, User


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Rep{n}")
    role = Role.SALES_REP
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def with_group(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            from tandem.users.services import user_set_role

            self.save()
            user_set_role(user=self, role=self.role)
