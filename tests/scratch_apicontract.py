import re
from hypothesis import Phase
from tests.test_api_fuzz import *  # noqa
from tests.test_api_fuzz import schema, _token, Role
from hypothesis import settings as hs, HealthCheck
import pytest


@pytest.fixture
def tok(db):
    yield _token(Role.ADMIN)


@schema.parametrize()
@hs(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_scratch(case, tok, settings):
    settings.CAPTURE_PROCESSING = "inline"
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {tok}"})
    except BaseException as exc:
        text = str(exc)
        kinds = sorted(set(re.findall(r"^- (ST\d+ [^\n]+)", text, re.M)))
        with open("/tmp/apicontract_failures.txt", "a") as f:
            f.write(f"=== {case.method} {case.path} {kinds}\n{text[:2500]}\n")
        raise
