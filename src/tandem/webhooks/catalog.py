"""The event types Tandem sends as webhooks, each with a JSON schema of its `data` (plain values, no ORM).

Every message is a Standard Webhooks envelope: {"type": <event type>, "timestamp": <ISO 8601>, "data": {...}}.
The schemas list the keys each emitter sends (`required`); receivers should ignore keys they do not know, as
new keys may be added (never removed or retyped without a new event type). The OpenAPI document's `webhooks`
section is built from this catalog (`webhooks_openapi`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ID = {"type": "integer", "minimum": 1}
_ID_OR_NULL = {"type": ["integer", "null"], "minimum": 1}
_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "Decimal amount as text, two places"}
_STAGE = {
    "type": "string",
    "description": "Lifecycle stage: subscriber, lead, mql, sal, sql, opportunity, customer, recycled, disqualified",
}


def _object(
    description: str, properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": True,
    }


PERSON = {
    "id": _ID,
    "email": _TEXT,
    "first_name": _TEXT,
    "last_name": _TEXT,
    "job_title": _TEXT,
    "phone": _TEXT,
    "lifecycle_stage": _STAGE,
    "owner_id": _ID_OR_NULL,
    "account_id": _ID_OR_NULL,
    "consent_email": {"type": "boolean"},
    "consent_calls": {"type": "boolean"},
    "created_at": _TIME,
}
CHANGES = {
    "type": "object",
    "description": "Each changed field: [old value, new value]",
    "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
}
DEAL = {
    "deal_id": _ID,
    "name": _TEXT,
    "person_id": _ID_OR_NULL,
    "account_id": _ID_OR_NULL,
    "owner_id": _ID_OR_NULL,
    "amount": _MONEY,
    "pipeline_id": _ID,
    "from_stage_id": _ID_OR_NULL,
    "to_stage_id": _ID,
    "to_stage_name": _TEXT,
    "status": {"type": "string", "enum": ["open", "won", "lost"]},
    "lost_reason": _TEXT_OR_NULL,
    "changed_at": _TIME,
}
AUDIENCE_MEMBER = {
    "audience_id": _ID,
    "audience_name": _TEXT,
    "person_id": _ID,
    "email": _TEXT,
    "first_name": _TEXT,
    "last_name": _TEXT,
    "consent_email": {"type": "boolean"},
    "consent_calls": {"type": "boolean"},
}
COLLATERAL = {
    "request_id": _ID,
    "kind": {**_TEXT, "description": "What was asked for: a case study, a deck, a one-pager..."},
    "purpose": _TEXT,
    "status": _TEXT,
    "quantity": {"type": "integer", "minimum": 1},
    "due_on": {"type": "string", "format": "date"},
    "deal_id": _ID_OR_NULL,
    "account_id": _ID_OR_NULL,
    "requested_by_id": _ID_OR_NULL,
    "assignee_id": _ID_OR_NULL,
    "delivered_at": _TIME_OR_NULL,
    "delivery_note": _TEXT,
}


@dataclass(frozen=True)
class EventType:
    name: str
    summary: str
    schema: dict[str, Any]


EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("person.created", "A person was created", _object("The new person", PERSON)),
        EventType(
            "person.updated",
            "A person's profile fields or consent changed",
            _object("The person as it is now, and what changed", {**PERSON, "changes": CHANGES}),
        ),
        EventType(
            "person.merged",
            "A duplicate was folded into a survivor (the duplicate's id no longer exists)",
            _object("The two ids", {"survivor_id": _ID, "duplicate_id": _ID}),
        ),
        EventType(
            "person.erased",
            "A person's personal data was erased; only the id is sent",
            _object("The erased person's id", {"id": _ID}),
        ),
        EventType(
            "person.stage_changed",
            "A person moved to another lifecycle stage",
            _object(
                "The move",
                {
                    "person_id": _ID,
                    "from_stage": {**_STAGE, "type": ["string", "null"]},
                    "to_stage": _STAGE,
                    "changed_at": _TIME,
                    "rule": {**_TEXT, "description": "The rule that moved it (blank: a person did)"},
                    "rule_version": {"type": ["integer", "null"]},
                    "by_user_id": _ID_OR_NULL,
                    "reason": _TEXT,
                },
            ),
        ),
        EventType(
            "mql.handed_over",
            "A lead met the MQL definition and was handed to sales (routed to an owner)",
            _object(
                "The hand-over",
                {
                    "person_id": _ID,
                    "owner_id": _ID_OR_NULL,
                    "definition_version": {"type": ["integer", "null"]},
                    "handed_over_at": _TIME,
                },
            ),
        ),
        EventType(
            "mql.accepted",
            "Sales accepted an MQL (it became a SAL)",
            _object("Who accepted it", {"person_id": _ID, "by_user_id": _ID_OR_NULL, "at": _TIME}),
        ),
        EventType(
            "mql.rejected",
            "Sales rejected an MQL back to marketing (it became recycled)",
            _object(
                "Who rejected it and why",
                {
                    "person_id": _ID,
                    "by_user_id": _ID_OR_NULL,
                    "at": _TIME,
                    "reason_code": _TEXT,
                    "reason": _TEXT,
                },
            ),
        ),
        EventType(
            "sla.breached",
            "An MQL was not touched within the first-touch SLA",
            _object(
                "The breach",
                {
                    "person_id": _ID,
                    "owner_id": _ID_OR_NULL,
                    "handed_over_at": _TIME,
                    "deadline": _TIME,
                    "sla_version": {"type": ["integer", "null"]},
                },
            ),
        ),
        EventType(
            "deal.stage_changed",
            "A deal moved to another pipeline stage",
            _object("The deal and its move", DEAL),
        ),
        EventType("deal.won", "A deal was won", _object("The deal and its move", DEAL)),
        EventType("deal.lost", "A deal was lost", _object("The deal and its move", DEAL)),
        EventType(
            "activity.logged",
            "A call, e-mail, meeting or note was logged",
            _object(
                "The activity",
                {
                    "activity_id": _ID,
                    "kind": _TEXT,
                    "outcome": _TEXT,
                    "person_id": _ID_OR_NULL,
                    "deal_id": _ID_OR_NULL,
                    "account_id": _ID_OR_NULL,
                    "user_id": _ID_OR_NULL,
                    "occurred_at": _TIME,
                    "subject": _TEXT,
                },
            ),
        ),
        EventType(
            "task.due",
            "An open task passed its due time (sent once per task)",
            _object(
                "The task",
                {"task_id": _ID, "title": _TEXT, "owner_id": _ID, "due_at": _TIME, "person_id": _ID_OR_NULL},
            ),
        ),
        EventType(
            "question.recorded",
            "A question heard from a prospect was recorded",
            _object(
                "The question",
                {
                    "question_id": _ID,
                    "text": _TEXT,
                    "person_id": _ID_OR_NULL,
                    "theme_id": _ID_OR_NULL,
                    "heard_at": _TIME,
                },
            ),
        ),
        EventType(
            "theme.changed",
            "Question themes were mined again, renamed, merged or split",
            _object(
                "What happened to which themes",
                {
                    "change": {"type": "string", "enum": ["mined", "renamed", "merged", "split"]},
                    "theme_ids": {"type": "array", "items": _ID},
                    "label": _TEXT_OR_NULL,
                },
            ),
        ),
        EventType(
            "content.requested", "Sales filed a collateral request", _object("The request", COLLATERAL)
        ),
        EventType(
            "content.delivered", "A collateral request was delivered", _object("The request", COLLATERAL)
        ),
        EventType(
            "audience.member_added",
            "A person entered an audience (only people with the audience's consent)",
            _object("The audience and the person", AUDIENCE_MEMBER),
        ),
        EventType(
            "audience.member_removed",
            "A person left an audience (no longer matching, or consent withdrawn)",
            _object("The audience and the person", AUDIENCE_MEMBER),
        ),
    )
}

# The message an admin's "test ping" sends; not subscribable, delivered to the one endpoint asked.
PING = EventType(
    "webhook.ping", "A test message sent from the endpoint's page", _object("A greeting", {"message": _TEXT})
)


def event_type_names() -> list[str]:
    """Every subscribable event type, in catalog order."""
    return list(EVENT_TYPES)


def envelope_schema(event: EventType) -> dict[str, Any]:
    """The whole message body's schema: the Standard Webhooks envelope around the event's data."""
    return {
        "type": "object",
        "description": event.summary,
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "const": event.name},
            "timestamp": {**_TIME, "description": "When it happened"},
            "data": event.schema,
        },
    }


SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The message id (msg_...); the same on every retry and replay: deduplicate by it",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Seconds since the epoch when this attempt was signed",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures (two while a rotated secret overlaps)",
        "schema": {"type": "string"},
    },
]


def webhooks_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks` map: one POST per event type, its body the envelope's schema."""
    out: dict[str, Any] = {}
    for event in EVENT_TYPES.values():
        out[event.name] = {
            "post": {
                "summary": event.summary,
                "operationId": "webhook_" + event.name.replace(".", "_"),
                "tags": ["webhooks"],
                "parameters": SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": envelope_schema(event)}},
                },
                "responses": {"2XX": {"description": "Received; any other answer is retried with back-off"}},
            }
        }
    return out
