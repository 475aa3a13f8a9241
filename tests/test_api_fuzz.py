"""schemathesis fuzzes every API operation from the OpenAPI schema with all its checks: no 500, every status
declared, every body and content type as documented, invalid input refused, valid input not refused for its
shape (docs/api.md#errors). As an admin (the widest rights) and as a sales rep (refused the most)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

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
# Pinned, so `make test` is repeatable (a failure shows again on the next run); set another seed to explore.
SEED = int(os.environ.get("TANDEM_FUZZ_SEED", "15"))

DOCUMENT = api.get_openapi_schema(path_prefix="/api")


def _schema(*, phases: list[str]) -> Any:
    loaded = schemathesis.openapi.from_dict(DOCUMENT)
    loaded.app = application
    loaded.config.seed = SEED
    loaded.config.phases.update(phases=phases)
    # Both modes: data the schema allows, and data it does not (which must answer a declared 4xx).
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    # Every check runs. Valid-looking data may still be refused by a rule a JSON schema cannot state (a date
    # range in the wrong order, an e-mail without a domain, a name already taken): that is a declared 400/422
    # naming the field, not a broken contract.
    acceptance = loaded.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "400", "422"]
    return loaded


# The admin reaches deepest: the schema's examples, the coverage phase (every boundary, missing and wrong-typed
# value the schema implies) and random fuzzing. The rep is refused early on most operations: random fuzzing
# checks the refusals keep the contract too, at a fraction of the time.
schema = _schema(phases=["examples", "coverage", "fuzzing"])
rep_schema = _schema(phases=["fuzzing"])

EXAMPLES: Counter[tuple[str, str, str]] = Counter()


def _count(role: str, case: Any) -> None:
    phase = case.meta.phase.name.value if case.meta is not None else "explicit"
    EXAMPLES[role, case.operation.label, phase] += 1


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
    _count("admin", case)
    # when schemathesis sends what the schema allows and what it does not
    # then every check holds: no 500, a declared status, the documented body and content type
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"})


@rep_schema.parametrize()
@_SETTINGS
def test_every_operation_keeps_its_contract_for_a_sales_rep(case, rep_token, settings):  # type: ignore[no-untyped-def]
    # given a sales rep's token: refused far more often, so the refusals' contract is fuzzed too
    settings.CAPTURE_PROCESSING = "inline"
    _count("rep", case)
    # when / then: as for the admin
    case.call_and_validate(headers={"Authorization": f"Bearer {rep_token}"})


def test_fuzz_summary(capsys):  # type: ignore[no-untyped-def]
    # given the fuzz above (this test comes last in the module, so it has run)
    # when it is summed up / then the count of operations and examples shows in the output, even with -q
    if not EXAMPLES:
        pytest.skip("the fuzz tests above did not run in this session")
    with capsys.disabled():
        for role in ("admin", "rep"):
            ran = {(label, phase): n for (who, label, phase), n in EXAMPLES.items() if who == role}
            phases = Counter[str]()
            for (_, phase), n in ran.items():
                phases[phase] += n
            print(
                f"\nschemathesis as {role}: {len({label for label, _ in ran})} operations, "
                f"{sum(ran.values())} examples ({', '.join(f'{p} {n}' for p, n in sorted(phases.items()))}), "
                f"all checks, positive and negative data, fuzzing at most {MAX_EXAMPLES} per operation, seed {SEED}"
            )
    assert {label for _, label, _ in EXAMPLES} <= {op.ok().label for op in schema.get_all_operations()}
