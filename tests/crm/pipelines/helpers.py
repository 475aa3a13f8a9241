"""What the pipeline tests share: the default pipeline's stages by name, and counts of what a refusal must not touch."""

from __future__ import annotations

from tandem.core.models import Event
from tandem.crm.models import (
    Deal,
    DealContact,
    DealStageChange,
    LostReason,
    Pipeline,
    PipelineStage,
    StageChange,
)


def sales_stages() -> dict[str, PipelineStage]:
    """The default "Sales" pipeline's stages (New, Qualified, Proposal, Negotiation, Won, Lost) by name."""
    return {s.name: s for s in PipelineStage.objects.filter(pipeline__is_default=True)}


def counts() -> tuple[int, ...]:
    return (
        Deal.objects.count(),
        DealStageChange.objects.count(),
        DealContact.objects.count(),
        Event.objects.count(),
        StageChange.objects.count(),
        LostReason.objects.count(),
        Pipeline.objects.count(),
        PipelineStage.objects.count(),
    )


def deal_state(deal: Deal) -> tuple[object, ...]:
    deal.refresh_from_db()
    return (
        deal.stage,
        deal.pipeline_id,
        deal.pipeline_stage_id,
        deal.stage_entered_at,
        deal.closed_at,
        deal.lost_reason_id,
        deal.amount,
        deal.expected_close_on,
        deal.account_id,
        deal.owner_id,
        deal.name,
    )
