"""Reads of the capture app: who may move bundles, what a bundle's ids refer to, the database as a bundle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.capture.backup import SEEDED, TABLES, TEAM, USER, Table, table_columns, table_model
from tandem.capture.bundle import (
    ACTIVITIES,
    CAMPAIGN_COSTS,
    CAMPAIGNS,
    DEALS,
    PEOPLE,
    QUESTIONS,
    TOUCHPOINTS,
    ActivityRow,
    Bundle,
    CampaignRow,
    CostRow,
    DealRow,
    PersonRow,
    QuestionRow,
    TouchpointRow,
    export_id,
)
from tandem.core.bulk import chunked
from tandem.crm.models import Activity, Deal, Person
from tandem.feedback.models import Question
from tandem.users.models import Role, Team, User


def bundle_access_allowed(*, user: Any) -> bool:
    """Whether a user may import and export whole bundles (admins and superusers only)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or getattr(user, "role", "") == Role.ADMIN)


def campaign_pks_by_bundle_id() -> dict[str, int]:
    """Every id a bundle may use for a stored campaign: its external id, or 'tandem-<pk>' when it has none."""
    rows = list(Campaign.objects.values_list("pk", "external_id"))
    out = {external: pk for pk, external in rows if external}
    for pk, external in rows:
        if not external:
            # An external id that happens to read 'tandem-<n>' keeps its meaning.
            out.setdefault(export_id(external_id=None, pk=pk), pk)
    return out


def person_pks_by_email(*, emails: Iterable[str]) -> dict[str, int]:
    """The stored people with these normalised emails, as email → primary key."""
    wanted = sorted(set(emails))
    out: dict[str, int] = {}
    for chunk in chunked(wanted):
        for email, pk in Person.objects.filter(email_normalized__in=chunk).values_list(
            "email_normalized", "pk"
        ):
            out[email or ""] = pk
    return out


def campaign_cost_keys(*, campaign_pks: Iterable[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The stored cost entries of these campaigns as (spent_on, spent_until, amount, note), per campaign."""
    out: dict[int, list[tuple[Any, ...]]] = {}
    for chunk in chunked(sorted(set(campaign_pks))):
        for pk, *rest in CampaignCost.objects.filter(campaign_id__in=chunk).values_list(
            "campaign_id", "spent_on", "spent_until", "amount", "note"
        ):
            out.setdefault(pk, []).append(tuple(rest))
    return out


def bundle_table_counts() -> dict[str, int]:
    """How many rows an export would write, file by file."""
    with_email = {"person__email_normalized__isnull": False}
    return {
        CAMPAIGNS: Campaign.objects.count(),
        CAMPAIGN_COSTS: CampaignCost.objects.count(),
        PEOPLE: Person.objects.filter(email_normalized__isnull=False).count(),
        TOUCHPOINTS: Touchpoint.objects.filter(**with_email).count(),
        DEALS: Deal.objects.filter(**with_email).count(),
        ACTIVITIES: Activity.objects.filter(**with_email).count(),
        QUESTIONS: Question.objects.filter(**with_email).count(),
    }


def bundle_load() -> Bundle:
    """Every campaign, person (with an email), touchpoint, deal, activity and question in the database as bundle
    rows."""
    # Dependents are read before what they refer to: rows are only ever added while an export runs, so every
    # person and campaign a touchpoint, deal or question names is in the later reads.
    with_email = {"person__email_normalized__isnull": False}
    touchpoints = list(
        Touchpoint.objects.filter(**with_email).values_list(
            "person__email",
            "person__email_normalized",
            "occurred_at",
            "channel",
            "campaign_id",
            "kind",
            "custom_fields",
        )
    )
    questions = [
        QuestionRow(email, key or "", asked_at, text, custom or {})
        for email, key, asked_at, text, custom in Question.objects.filter(**with_email).values_list(
            "person__email", "person__email_normalized", "asked_at", "text", "custom_fields"
        )
    ]
    activities = [
        ActivityRow(
            activity_id=export_id(external_id=external, pk=pk),
            email=email,
            email_key=key or "",
            kind=str(kind),
            occurred_at=at,
            outcome=outcome,
            direction=direction,
            duration_minutes=minutes,
            subject=subject,
            notes=notes,
            deal_id=export_id(external_id=deal_external, pk=deal) if deal else "",
            user=username or "",
        )
        for pk, external, email, key, kind, at, outcome, direction, minutes, subject, notes, deal, deal_external, username in (
            Activity.objects.filter(**with_email).values_list(
                "pk",
                "external_id",
                "person__email",
                "person__email_normalized",
                "kind_id",
                "occurred_at",
                "outcome",
                "direction",
                "duration_minutes",
                "subject",
                "notes",
                "deal_id",
                "deal__external_id",
                "user__username",
            )
        )
    ]
    deals = [
        DealRow(
            export_id(external_id=external, pk=pk),
            email,
            key or "",
            amount,
            stage,
            created_at,
            closed_at,
            reason or "",
            custom or {},
        )
        for pk, external, email, key, amount, stage, created_at, closed_at, reason, custom in Deal.objects.filter(
            **with_email
        ).values_list(
            "pk",
            "external_id",
            "person__email",
            "person__email_normalized",
            "amount",
            "stage",
            "created_at",
            "closed_at",
            "lost_reason__name",
            "custom_fields",
        )
    ]
    people = [
        _person_row(values)
        for values in Person.objects.filter(email_normalized__isnull=False).values_list(
            "email",
            "email_normalized",
            "first_name",
            "last_name",
            "account__name",
            "account__domain",
            "account__industry",
            "account__size_band",
            "account__country",
            "job_title",
            "created_at",
            "custom_fields",
        )
    ]
    # Before the campaigns, as the other dependents: an entry added meanwhile raises its campaign's total above
    # the entries exported, which an import reads as one more entry, never as a total below its entries.
    costs = list(CampaignCost.objects.values_list("campaign_id", "spent_on", "spent_until", "amount", "note"))
    campaigns: list[CampaignRow] = []
    campaign_ids: dict[int, str] = {}
    for c in Campaign.objects.values_list(
        "pk",
        "external_id",
        "name",
        "channel",
        "started_on",
        "ended_on",
        "actual_cost",
        "kind",
        "offer",
        "offer_ends_on",
        "talking_points",
        "custom_fields",
        named=True,
    ):
        campaign_ids[c.pk] = export_id(external_id=c.external_id, pk=c.pk)
        campaigns.append(
            CampaignRow(
                campaign_id=campaign_ids[c.pk],
                name=c.name,
                channel=c.channel,
                started_on=c.started_on,
                ended_on=c.ended_on,
                cost=c.actual_cost,
                kind=c.kind,
                offer=c.offer,
                offer_ends_on=c.offer_ends_on,
                talking_points=c.talking_points,
                custom=c.custom_fields or {},
            )
        )
    campaign_costs = [
        CostRow(campaign_ids[campaign], spent_on, spent_until, amount, note)
        for campaign, spent_on, spent_until, amount, note in costs
    ]
    return Bundle(
        campaigns=campaigns,
        campaign_costs=campaign_costs,
        people=people,
        touchpoints=[
            TouchpointRow(
                email,
                key or "",
                at,
                channel,
                campaign_ids.get(campaign, "") if campaign else "",
                kind,
                custom or {},
            )
            for email, key, at, channel, campaign, kind, custom in touchpoints
        ],
        deals=deals,
        activities=activities,
        questions=questions,
    )


def _person_row(values: tuple[Any, ...]) -> PersonRow:
    email, key, first, last, company, domain, industry, size, country, title, created_at, custom = values
    return PersonRow(
        email=email,
        email_key=key,
        first_name=first,
        last_name=last,
        # An account named after its domain was created from an email alone: the bundle said no company.
        company="" if company is None or company == domain else company,
        industry=industry or "",
        company_size=size or "",
        country=country or "",
        job_title=title,
        created_at=created_at,
        custom=custom or {},
    )


def backup_tables_load() -> list[Table]:
    """Every table a version-2 bundle holds, rows sorted by id (users by username, teams by name), references
    to users and teams as usernames and team names."""
    usernames = dict(User.objects.values_list("pk", "username"))
    team_names = dict(Team.objects.values_list("pk", "name"))
    names = {"user": usernames, "team": team_names}
    out: list[Table] = []
    for file, label in TABLES:
        columns = table_columns(file, label)
        model = table_model(label)
        order = "username" if label == USER else "name" if label == TEAM else "pk"
        query = model._base_manager.order_by(order).values_list(*(c.attname for c in columns))
        mapped = [(i, names[c.refers]) for i, c in enumerate(columns) if c.refers != "id"]
        rows: list[list[Any]] = []
        for values in query.iterator(chunk_size=5000):
            row = list(values)
            for i, by_pk in mapped:
                if row[i] is not None:
                    row[i] = by_pk[row[i]]
            rows.append(row)
        out.append(Table(file=file, label=label, columns=columns, rows=rows))
    return out


def backup_tables_in_use() -> list[tuple[str, int]]:
    """The tables of a version-2 bundle that already hold rows, with their row count: users, teams and the rows
    Tandem installs itself (backup.SEEDED) aside."""
    out: list[tuple[str, int]] = []
    for file, label in TABLES:
        if label in (USER, TEAM) or label in SEEDED:
            continue
        model = table_model(label)
        if model._base_manager.exists():
            out.append((file, model._base_manager.count()))
    return out
