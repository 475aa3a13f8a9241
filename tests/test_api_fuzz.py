"""schemathesis fuzzes every API operation from the OpenAPI schema with all its checks: no 500, every status
declared, every body and content type as documented, invalid input refused, valid input not refused for its
shape (docs/api.md#errors). As an admin (the widest rights) and as a sales rep (refused the most)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from tandem.api import api
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tandem.wsgi import application
from tests.users.factories import UserFactory

# Bounded so the whole fuzz stays within a few minutes per database; raise it to dig deeper.
MAX_EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "10"))

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api"))
schema.app = application
# Both modes: data the schema allows, and data it does not (which must answer a declared 4xx).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
# Every check runs. Valid-looking data may still be refused by a rule a JSON schema cannot state (a date range
# in the wrong order, an e-mail without a domain, a name already taken): that is a declared 400/422 naming the
# field, not a broken contract.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses,
    "400",
    "422",
]

EXAMPLES: Counter[tuple[str, str]] = Counter()


def _token(role: str) -> str:
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    return api_token_create(user=UserFactory(role=role), name="fuzz")[1]  # type: ignore[arg-type]


@pytest.fixture
def admin_token(db) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    yield _token(Role.ADMIN)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def rep_token(db) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    yield _token(Role.SALES_REP)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


_SETTINGS = hypothesis_settings(
    max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@schema.parametrize()
@_SETTINGS
def test_every_operation_keeps_its_contract_for_an_admin(case, admin_token, settings):  # type: ignore[no-untyped-def]
    # given an admin's token (the widest rights, so the handlers run deepest) and inline capture processing
    settings.CAPTURE_PROCESSING = "inline"
    EXAMPLES["admin", case.operation.label] += 1
    # when schemathesis sends what the schema allows and what it does not
    # then every check holds: no 500, a declared status, the documented body and content type
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"})


@schema.parametrize()
@_SETTINGS
def test_every_operation_keeps_its_contract_for_a_sales_rep(case, rep_token, settings):  # type: ignore[no-untyped-def]
    # given a sales rep's token: refused far more often, so the refusals' contract is fuzzed too
    settings.CAPTURE_PROCESSING = "inline"
    EXAMPLES["rep", case.operation.label] += 1
    # when / then: as for the admin
    case.call_and_validate(headers={"Authorization": f"Bearer {rep_token}"})


def test_fuzz_summary(capsys):  # type: ignore[no-untyped-def]
    # given the fuzz above (this test comes last in the module, so it has run)
    # when it is summed up / then the count of operations and examples shows in the output, even with -q
    operations = {label for _, label in EXAMPLES}
    with capsys.disabled():
        for role in ("admin", "rep"):
            ran = {label: n for (who, label), n in EXAMPLES.items() if who == role}
            print(
                f"\nschemathesis ({role}): {len(ran)} operations, {sum(ran.values())} examples, "
                f"all checks, positive and negative data, at most {MAX_EXAMPLES} fuzzed per operation"
            )
    assert len(operations) <= len(list(schema.get_all_operations()))
