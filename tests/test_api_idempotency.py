"""Every create in the API takes an Idempotency-Key (docs/api.md#idempotency): read from the OpenAPI document, so
a new create that forgets `@idempotent` (tandem.core.idempotency) fails here."""

from __future__ import annotations

from tandem.api import api
from tandem.core.idempotency import PARAMETER

DOCUMENT = api.get_openapi_schema(path_prefix="/api")

# POSTs that answer 201 but create nothing a retry could duplicate; each with its reason. (POSTs that act on a
# record, e.g. a stage move or a merge, answer 200 and are not checked.)
NOT_CREATES: dict[str, str] = {
    "/api/calendar/feed": "replaces the caller's one feed address: a retry replaces it again, nothing is doubled; "
    "a stored answer would keep the secret address in clear text, where the feed itself keeps only its hash",
}


def _posts_answering_201() -> list[tuple[str, dict]]:
    return [
        (path, operations["post"])
        for path, operations in DOCUMENT["paths"].items()
        if "post" in operations and "201" in operations["post"]["responses"]
    ]


def test_every_create_documents_the_idempotency_key_header():
    # given every POST in the OpenAPI document that answers 201 Created
    creates = _posts_answering_201()
    # when its parameters are read
    missing = [
        path
        for path, operation in creates
        if path not in NOT_CREATES
        and not any(
            p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])
        )
    ]
    # then each one takes the optional Idempotency-Key header
    assert len(creates) >= 30
    assert missing == []


def test_the_idempotency_key_header_is_optional_and_bounded_everywhere():
    # given the header as the creates document it (the capture endpoints have their own, older text)
    documented = [
        parameter
        for _, operation in _posts_answering_201()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "Idempotency-Key"
    ]
    # then it is never required, and the creates that use tandem.core.idempotency say exactly the same
    assert {p["required"] for p in documented} == {False}
    assert sum(p == PARAMETER for p in documented) >= 28


def test_the_allow_list_names_only_posts_that_exist():
    # given the allow-list of non-create POSTs answering 201
    # then each entry is still such an operation (a stale entry would hide nothing, but misleads)
    assert set(NOT_CREATES) <= {path for path, _ in _posts_answering_201()}
