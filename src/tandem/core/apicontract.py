"""The API's error contract: one `Error` body, the rule that declares which statuses each operation can answer,
and the JSON answers for unknown routes, refused methods and server errors under /api/ (docs/api.md#errors)."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import re
import types
import typing
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

import pydantic
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound, JsonResponse
from django.template import loader
from django.views import defaults
from ninja.errors import ValidationError as NinjaValidationError
from ninja.params.models import BodyModel, ParamModel
from pydantic import BaseModel

API_PREFIX = "/api/"
ERROR_REF = "#/components/schemas/Error"

# Every 4xx and 5xx body the API writes: TandemError.as_dict, the 422 of schema validation (`errors`), bundle and
# CSV row refusals (`file`, `line`, `column`), capture's journaled refusals (`submission_id`) and django-ninja's
# own `{"detail"}`. Closed (no other keys), so the fuzz test notices a body that drifts from it.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Why the request was refused: `detail` in words, and what was at fault where it is one field.",
    "required": ["detail"],
    "additionalProperties": False,
    "properties": {
        "detail": {"type": "string", "description": "What was wrong, in words a person can act on"},
        "field": {"type": "string", "description": "The field, parameter or header at fault"},
        "value": {"type": "string", "description": "The refused value, as text"},
        "errors": {
            "type": "array",
            "description": "422 from schema validation: every invalid field, not only the first",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "additionalProperties": False,
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "Dotted path of the field (empty: the whole body)",
                    },
                    "message": {"type": "string"},
                },
            },
        },
        "file": {"type": "string", "description": "Bundle imports: the CSV file at fault"},
        "line": {"type": "integer", "description": "Bundle and CSV imports: the line at fault"},
        "column": {"type": "string", "description": "Bundle and CSV imports: the column at fault"},
        "submission_id": {
            "type": "integer",
            "description": "Capture endpoints: the journal row that kept the request",
        },
    },
}

# What each declared status means when the operation does not say more itself.
STATUS_MEANING: dict[int, str] = {
    400: "The body is not valid JSON or a well-formed upload",
    401: "Not signed in, or the token is missing, wrong or revoked",
    403: "Your role (or the record's owner) does not allow it, or the session still owes a sign-in step",
    404: "No such record (or not one you may see)",
    409: "The action conflicts with the current state",
    422: "Invalid input: `field` and `value` name it; `errors` lists every invalid field",
    429: "Too many requests: see the Retry-After header",
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_HTTP_METHODS = frozenset({"get", "head", "options", *WRITE_METHODS})
_STANDARD_PHRASES = {s.value: s.phrase for s in HTTPStatus} | {0: "Unknown Status Code"}


def _ref(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (`#/components/schemas/X`) from the document's root."""
    seen = 0
    while (
        isinstance(node, dict)
        and isinstance(node.get("$ref"), str)
        and node["$ref"].startswith("#/")
        and seen < 20
    ):
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    return node


def _names_an_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids"))


def _body_property_names(document: dict[str, Any], body: dict[str, Any]) -> set[str]:
    """The top-level property names of a request body, whatever its media type (one level of allOf/anyOf)."""
    names: set[str] = set()
    for media in (body.get("content") or {}).values():
        node = _ref(document, media.get("schema") or {})
        nodes = [node]
        for key in ("allOf", "anyOf", "oneOf"):
            nodes += [_ref(document, sub) for sub in node.get(key, [])] if isinstance(node, dict) else []
        for sub in nodes:
            if isinstance(sub, dict):
                for name, prop in (sub.get("properties") or {}).items():
                    names.add(name)
                    # A body wrapped in one property (ninja's `payload: FooIn` style): look one level in.
                    inner = _ref(document, prop)
                    if isinstance(inner, dict):
                        names.update((inner.get("properties") or {}).keys())
    return names


def error_statuses(document: dict[str, Any], method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the rule gives an operation (docs/api.md#errors), from what the document says of it."""
    parameters = [_ref(document, p) for p in operation.get("parameters") or []]
    body = _ref(document, operation.get("requestBody")) if operation.get("requestBody") else None
    statuses: set[int] = set()
    if operation.get("security"):
        # Any signed-in call: no or a bad credential (401); a role or a record refused, a session that still owes
        # a sign-in step, or a failed CSRF check on a session write (403).
        statuses |= {401, 403}
    names = {p.get("name", "") for p in parameters}
    if body:
        names |= _body_property_names(document, body)
        statuses.add(400)  # a body that is not JSON (or not a well-formed multipart upload)
    if any(p.get("in") == "path" for p in parameters) or any(_names_an_id(n) for n in names):
        statuses.add(404)  # the record a path id (or an id in the query or body) names does not exist
    if method in WRITE_METHODS:
        statuses.add(409)  # a write the current state forbids
    if parameters or body:
        statuses.add(422)  # an input the schema or the service refuses
    return statuses


def openapi_errors_declare(document: dict[str, Any]) -> dict[str, Any]:
    """Declare on every operation the error statuses it can answer, each with the one `Error` body.

    Statuses an operation declares itself (202, 413, 415, 429...) are kept with their descriptions; every 4xx
    and 5xx body is the `Error` schema, whatever model the handler named for it.
    """
    document = copy.deepcopy(dict(document))
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = copy.deepcopy(ERROR_SCHEMA)  # consumers may edit theirs
    for operations in (document.get("paths") or {}).values():
        for method, operation in operations.items():
            if method not in _HTTP_METHODS or not isinstance(operation, dict):
                continue
            # As JSON writes them: status codes as strings (ninja builds the dict with ints).
            responses = {str(code): answer for code, answer in (operation.get("responses") or {}).items()}
            wanted = error_statuses(document, method, operation)
            wanted |= {int(code) for code in responses if str(code).isdigit() and int(code) >= 400}
            for status in sorted(wanted):
                key = str(status)
                existing = responses.get(key) or {}
                description = existing.get("description", "")
                if not description or description == _STANDARD_PHRASES.get(status, ""):
                    description = STATUS_MEANING.get(status, _STANDARD_PHRASES.get(status, "Error"))
                responses[key] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
                }
            # Keep statuses in order: the documentation lists them as they are declared.
            operation["responses"] = dict(sorted(responses.items()))
    return document


# ---- inputs read as the schema states them ----

_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _types_in(annotation: Any) -> list[Any]:
    """The plain types an annotation admits (through Optional, unions, Annotated and list[...] items)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _types_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _types_in(arg)]
    return [annotation]


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _accepts(kind: Any, value: Any) -> bool:
    """Whether a JSON value is of a type the schema states for `kind` (True where pydantic's own check suffices)."""
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(kind, type) and issubclass(kind, int) and not issubclass(kind, enum.Enum):
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is decimal.Decimal:  # documented as a number or its text
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    if kind in (dt.date, dt.datetime):
        return isinstance(value, str) and not _NUMBER.match(value)
    if _is_model(kind):
        return isinstance(value, dict)
    if typing.get_origin(kind) in (list, set, frozenset, tuple) or kind in (list, set, tuple):
        return isinstance(value, list)
    if typing.get_origin(kind) is dict or kind is dict:
        return isinstance(value, dict)
    return True


_EXPECTED = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    decimal.Decimal: "a number",
    dt.date: "a date like 2026-01-31",
    dt.datetime: "a date and time like 2026-01-31T09:00:00Z",
}


def _value_problem(kinds: list[Any], value: Any, *, body: bool) -> str:
    """Why a value is none of these types as the schema states them ("" when it is one, or pydantic decides).

    In a JSON body every type is checked (pydantic's lax mode would take `0` for false and `"5"` for 5); in the
    query and path, where every value is text, only dates (never a number, which pydantic reads as a Unix time)
    and objects.
    """
    if not body and not any(k in (dt.date, dt.datetime) or _is_model(k) for k in kinds):
        return ""
    if not kinds or any(_accepts(kind, value) for kind in kinds):
        return ""
    named = [_EXPECTED.get(k) or ("an object" if _is_model(k) else "") for k in kinds if k is not type(None)]
    if _is_model(kinds[0]):
        # django-ninja's Schema reads any value by its attributes, so `[]` or `5` would pass as all defaults.
        named = ["an object"]
    return "Input should be " + (" or ".join(n for n in named if n) or "of the documented type")


def _shape_problems(
    model: type[BaseModel], data: Any, path: tuple[str | int, ...], *, body: bool
) -> list[dict[str, Any]]:
    """What in the input the schema refuses but pydantic's lax reading would take: validation errors to raise."""
    if not isinstance(data, dict):
        return []
    found: list[dict[str, Any]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in data:
            continue
        value, kinds = data[key], _types_in(info.annotation)
        problem = _value_problem(kinds, value, body=body)
        if problem:
            found.append({"loc": (*path, key), "msg": problem, "type": "type_error"})
            continue
        for kind in kinds:
            if _is_model(kind) and isinstance(value, dict):
                found += _shape_problems(kind, value, (*path, key), body=body)
            elif typing.get_origin(kind) is list and isinstance(value, list) and typing.get_args(kind):
                item_kinds = _types_in(typing.get_args(kind)[0])
                for i, item in enumerate(value):
                    problem = _value_problem(item_kinds, item, body=body)
                    if problem:
                        found.append({"loc": (*path, key, i), "msg": problem, "type": "type_error"})
                    for item_kind in item_kinds:
                        if _is_model(item_kind):
                            found += _shape_problems(item_kind, item, (*path, key, i), body=body)
    return found


def _strict_resolve(
    cls: type[ParamModel], request: HttpRequest, api: Any, path_params: dict[str, Any]
) -> Any:
    """ParamModel.resolve for an API whose inputs must be what its schema says (`strict_inputs`).

    django-ninja validates in pydantic's lax mode: a JSON body's `0` passes as `false`, `"5"` as 5, a date
    anywhere may be a number read as a Unix time, and a Schema reads `[]` or `5` as an object of defaults. The
    schema promises none of that, so those are refused first (422 naming the field); the rest is pydantic's.
    """
    if not getattr(api, "strict_inputs", False):
        return _lax_resolve(cls, request, api, path_params)
    data = cls.get_request_data(request, api, path_params)
    if data is None:
        return cls()
    data = cls._map_data_paths(data)
    # A body (each part of a multipart body too) was parsed from JSON: its values have JSON's types.
    wrong = _shape_problems(cls, data, (), body=issubclass(cls, BodyModel))
    if wrong:
        try:  # the 422 lists every invalid field: pydantic's findings on the other fields too
            cls.model_validate(data, context={"request": request})
        except pydantic.ValidationError as exc:
            seen = {error["loc"] for error in wrong}
            wrong += [
                {"loc": e["loc"], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
                if e["loc"] not in seen
            ]
        # Named as django-ninja names its own validation errors, so the 422 reads the same.
        reverse = getattr(cls, "__ninja_flatten_map_reverse__", {})
        for error in wrong:
            error["loc"] = (cls.__ninja_param_source__, *reverse.get(error["loc"], error["loc"]))
        raise NinjaValidationError(wrong)
    return cls.model_validate(data, context={"request": request})


_lax_resolve = ParamModel.resolve.__func__  # type: ignore[attr-defined]


def strict_inputs_install() -> None:
    """Route django-ninja's parameter reading through `_strict_resolve` (a no-op for APIs without the flag)."""
    ParamModel.resolve = classmethod(_strict_resolve)  # type: ignore[assignment,method-assign]


# ---- the JSON answers under /api/ ----


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(status: int, detail: str, **extra: str) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: JSON under /api/, the page elsewhere."""
    if is_api(request):
        return error_response(400, "bad request: the request could not be read")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: JSON under /api/ (the refusal's own words), the page elsewhere."""
    if is_api(request):
        return error_response(403, str(exception) or "forbidden")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/ no route matched (or a path id is not a number): JSON, never the HTML page."""
    if is_api(request):
        return error_response(
            404,
            f"no API operation at {request.path_info}; see /api/docs",
            field="path",
            value=request.path_info,
        )
    # Django's own handler shows the exception's class name ("Resolver404") when no route matched; the page says
    # a sentence instead, and keeps the message our views give (e.g. "No person with id 7").
    message = exception.args[0] if exception.args and isinstance(exception.args[0], str) else ""
    return HttpResponseNotFound(
        loader.render_to_string("404.html", {"request_path": request.path, "exception": message}, request)
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error is logged by Django (django.request) before this; the answer says nothing of it."""
    if is_api(request):
        return error_response(500, "server error: it was logged; try again later or tell your administrator")
    return defaults.server_error(request)


def json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an API view so a method its path does not offer answers 405 as JSON, keeping the Allow header."""

    @wraps(view)  # also copies `csrf_exempt`, which django-ninja's views carry
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response.get("Allow", "")
            answer = error_response(
                405,
                f"method {request.method} is not allowed here; allowed: {allowed}",
                field="method",
                value=str(request.method),
            )
            answer["Allow"] = allowed
            return answer
        return response

    return wrapped
