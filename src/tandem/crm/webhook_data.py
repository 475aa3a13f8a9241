"""The `data` of crm's webhook messages (tandem.webhooks.catalog has their schemas), built from crm's rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def person_data(person: Any) -> dict[str, Any]:
    """A person as person.created / person.updated send it."""
    return {
        "id": person.pk,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "job_title": person.job_title,
        "phone": person.phone,
        "lifecycle_stage": person.lifecycle_stage,
        "owner_id": person.owner_id,
        "account_id": person.account_id,
        "consent_email": bool(person.consent_email),
        "consent_calls": bool(person.consent_calls),
        "created_at": person.created_at,
    }


def stage_change_data(change: Any) -> dict[str, Any]:
    """A StageChange as person.stage_changed sends it."""
    return {
        "person_id": change.person_id,
        "from_stage": change.from_stage or None,
        "to_stage": change.to_stage,
        "changed_at": change.changed_at,
        "rule": change.rule,
        "rule_version": change.rule_version,
        "by_user_id": change.by_user_id,
        "reason": change.reason,
    }


def deal_data(deal: Any, change: Any) -> dict[str, Any]:
    """A deal and its stage move as deal.stage_changed / won / lost send them."""
    return {
        "deal_id": deal.pk,
        "name": deal.name,
        "person_id": deal.person_id,
        "account_id": deal.account_id,
        "owner_id": deal.owner_id,
        "amount": f"{Decimal(deal.amount):.2f}",
        "pipeline_id": deal.pipeline_id,
        "from_stage_id": change.from_stage_id,
        "to_stage_id": change.to_stage_id,
        "to_stage_name": change.to_stage.name,
        "status": deal.stage,
        "lost_reason": getattr(deal.lost_reason, "name", None) if deal.lost_reason_id else None,
        "changed_at": change.changed_at,
    }


def activity_data(activity: Any) -> dict[str, Any]:
    """An activity as activity.logged sends it (its notes stay in Tandem)."""
    return {
        "activity_id": activity.pk,
        "kind": activity.kind_id,
        "outcome": activity.outcome,
        "person_id": activity.person_id,
        "deal_id": activity.deal_id,
        "account_id": activity.account_id,
        "user_id": activity.user_id,
        "occurred_at": activity.occurred_at,
        "subject": activity.subject,
    }
