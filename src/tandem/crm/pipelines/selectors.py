"""Reads for the board, the deal page, stage history, the forecast and the deal-stage conversion.

Every read aggregates in the database and runs a fixed number of queries, however many deals there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.utils import timezone

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.crm.models import (
    Account,
    Activity,
    Deal,
    DealContact,
    DealStage,
    DealStageChange,
    LostReason,
    Pipeline,
    PipelineStage,
)
from tandem.users.access import access_seen
from tandem.users.models import User

# Cards a column shows before its "more" button; the rest load a page at a time.
COLUMN_CAP = 20
COLUMN_PAGE = 50
# Without a month filter the won and lost columns show what closed lately, so they stay short drop targets.
CLOSED_RECENT_DAYS = 30
FORECAST_MONTHS = 6
CENT = Decimal("0.01")
ZERO = Decimal("0")


def _one(queryset: QuerySet[Any], row_id: int, what: str, field_name: str = "id") -> Any:
    row = queryset.filter(pk=row_id).first() if 0 < row_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no {what} with id {row_id}", field=field_name, value=row_id)
    return row


def pipelines_list(*, include_inactive: bool = False, with_stages: bool = True) -> list[Pipeline]:
    """Pipelines in their order, each with its stages (`stages.all()` in order) prefetched: two queries (one without)."""
    qs = Pipeline.objects.order_by("position", "name", "id")
    if with_stages:
        qs = qs.prefetch_related(Prefetch("stages", queryset=PipelineStage.objects.order_by("position", "id")))
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return list(qs)


def lost_reasons_offered() -> list[LostReason]:
    """The active lost reasons by name, as the lost dialog offers them."""
    return list(LostReason.objects.filter(is_active=True).order_by("name"))


def pipeline_get(*, pipeline_id: int) -> Pipeline:
    """One pipeline with its stages prefetched, or NotFound naming the id."""
    qs = Pipeline.objects.prefetch_related(Prefetch("stages", queryset=PipelineStage.objects.order_by("position", "id")))
    pipeline: Pipeline = _one(qs, pipeline_id, "pipeline")
    return pipeline


def pipeline_default_get() -> Pipeline:
    """The default pipeline, or NotFound when an admin left none."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        raise NotFound("No default pipeline: an admin must mark one as the default.", field="pipeline", value=None)
    return pipeline


def pipeline_stage_get(*, stage_id: int, pipeline_id: int | None = None, field_name: str = "stage_id") -> PipelineStage:
    """One stage (of the given pipeline, when given), or NotFound naming the field."""
    qs = PipelineStage.objects.select_related("pipeline")
    if pipeline_id is not None:
        qs = qs.filter(pipeline_id=pipeline_id)
    stage: PipelineStage = _one(qs, stage_id, "stage", field_name)
    return stage


def _owner_id(owner: str) -> int | None:
    # "none" picks the unassigned; a numeric id must name a user, so a typo is an error, not an empty board.
    if owner == "none":
        return None
    if not owner.isdigit() or not 0 < int(owner) <= MAX_ID or not User.objects.filter(pk=int(owner)).exists():
        raise ValidationFailed(f"owner must be a user id or 'none', got {owner!r}", field="owner", value=owner)
    return int(owner)


def month_parse(text: str, *, field_name: str = "month") -> dt.date | None:
    """A "YYYY-MM" month as its first day (None when empty), or ValidationFailed naming the field."""
    if not text:
        return None
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationFailed(f"{field_name} must be a month as YYYY-MM, got {text!r}", field=field_name, value=text) from None


def month_after(day: dt.date, months: int = 1) -> dt.date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day))


def _money(value: Any) -> Decimal:
    # Sums come back as the database gives them (SQLite drops trailing zeros): always in cents.
    return Decimal(value or 0).quantize(CENT)


def _weighted(amount: Decimal, probability: int) -> Decimal:
    return (amount * probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)


# ---- the board ----


@dataclass
class Card:
    deal: Deal
    days_in_stage: int


@dataclass
class Column:
    stage: PipelineStage
    count: int = 0
    amount: Decimal = ZERO
    weighted: Decimal = ZERO
    cards: list[Card] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    owner: str
    month: dt.date | None
    closed_since: dt.datetime | None


def _active_stage_ids(pipeline: Pipeline) -> Any:
    return PipelineStage.objects.filter(pipeline=pipeline, is_active=True).values("id")


def _entered() -> Coalesce:
    return Coalesce("stage_entered_at", "created_at")


def _visible(
    *, pipeline: Pipeline, owner: str, month: dt.date | None, now: dt.datetime, user: Any = None
) -> tuple[QuerySet[Deal], dt.datetime | None]:
    # Open deals by their expected close month; won and lost ones by when they closed (lately, without a month).
    # The board is a list of deals: a user sees the cards and column totals of the deals they reach.
    qs = access_seen(Deal.objects.filter(pipeline=pipeline, pipeline_stage_id__in=_active_stage_ids(pipeline)), user=user)
    if owner:
        owner_id = _owner_id(owner)
        qs = qs.filter(owner__isnull=True) if owner_id is None else qs.filter(owner_id=owner_id)
    since = None
    if month is not None:
        start, end = _month_start(month), _month_start(month_after(month))
        qs = qs.filter(
            Q(stage=DealStage.OPEN, expected_close_on__gte=month, expected_close_on__lt=month_after(month))
            | (~Q(stage=DealStage.OPEN) & Q(closed_at__gte=start, closed_at__lt=end))
        )
    else:
        since = now - dt.timedelta(days=CLOSED_RECENT_DAYS)
        qs = qs.filter(Q(stage=DealStage.OPEN) | Q(closed_at__gte=since))
    return qs, since


def _card(deal: Deal, now: dt.datetime) -> Card:
    entered = deal.stage_entered_at or deal.created_at
    return Card(deal=deal, days_in_stage=max((now - entered).days, 0))


def _cursor_of(deal: Deal) -> str:
    entered = deal.stage_entered_at or deal.created_at
    return cursor_encode(Cursor("board", entered.isoformat(), deal.pk))


def board_get(
    *,
    pipeline: Pipeline,
    owner: str = "",
    month: str = "",
    now: dt.datetime | None = None,
    cap: int = COLUMN_CAP,
    user: Any = None,
) -> Board:
    """A pipeline's board: per active stage the count, amount and weighted amount, and its newest cards.

    Four queries whatever the number of deals: the stages, one aggregate, the cards ranked per stage, then read.
    """
    now = now or timezone.now()
    first_day = month_parse(month)
    stages = list(PipelineStage.objects.filter(pipeline=pipeline, is_active=True).order_by("position", "id"))
    qs, since = _visible(pipeline=pipeline, owner=owner, month=first_day, now=now, user=user)
    columns = {s.pk: Column(stage=s) for s in stages}
    for row in qs.values("pipeline_stage_id").annotate(n=Count("id"), total=Sum("amount")).order_by():
        column = columns[row["pipeline_stage_id"]]
        column.count, column.amount = row["n"], _money(row["total"])
        column.weighted = _weighted(column.amount, column.stage.probability)
    # The window ranks narrow rows (id, stage, time) only; the few cards it keeps are then read whole. Ranking
    # whole rows with their joins cost ten times more at 10,000 open deals.
    top = (
        qs.annotate(
            entered=_entered(),
            rank=Window(RowNumber(), partition_by=[F("pipeline_stage_id")], order_by=[F("entered").desc(), F("id").desc()]),
        )
        .filter(rank__lte=cap)
        .values_list("id", flat=True)
    )
    ids = list(top)
    ranked = (
        Deal.objects.filter(pk__in=ids)
        .annotate(entered=_entered())
        .select_related("account", "owner", "person")
        .order_by("pipeline_stage_id", "-entered", "-id")
    )
    for deal in ranked if ids else []:
        columns[deal.pipeline_stage_id].cards.append(_card(deal, now))
    for column in columns.values():
        if column.count > len(column.cards) and column.cards:
            column.next_cursor = _cursor_of(column.cards[-1].deal)
    return Board(pipeline=pipeline, columns=list(columns.values()), owner=owner, month=first_day, closed_since=since)


def board_column_page(
    *,
    pipeline: Pipeline,
    stage: PipelineStage,
    owner: str = "",
    month: str = "",
    cursor: str,
    now: dt.datetime | None = None,
    limit: int = COLUMN_PAGE,
    user: Any = None,
) -> Column:
    """The next cards of one board column after a cursor (newest in stage first), one keyset page."""
    now = now or timezone.now()
    boundary = cursor_decode(cursor, order="board")
    try:
        key = dt.datetime.fromisoformat(boundary.key)
    except ValueError:
        raise ValidationFailed(f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor) from None
    if stage.pipeline_id != pipeline.pk:
        raise ValidationFailed(
            f"stage {stage.name!r} is not in pipeline {pipeline.name!r}", field="stage_id", value=stage.pk
        )
    qs, _ = _visible(pipeline=pipeline, owner=owner, month=month_parse(month), now=now, user=user)
    rows = list(
        qs.filter(pipeline_stage=stage)
        .annotate(entered=_entered())
        .filter(Q(entered__lt=key) | Q(entered=key, id__lt=boundary.id))
        .select_related("account", "owner", "person")
        .order_by("-entered", "-id")[: limit + 1]
    )
    column = Column(stage=stage, cards=[_card(d, now) for d in rows[:limit]])
    if len(rows) > limit:
        column.next_cursor = _cursor_of(rows[limit - 1])
    return column


# ---- a deal: its page, its history ----


@dataclass
class HistoryRow:
    """One stage a deal entered, and how long it stayed (until the next move, or until now)."""

    change: DealStageChange
    seconds: float
    current: bool

    @property
    def duration(self) -> str:
        return duration_text(self.seconds)


def duration_text(seconds: float) -> str:
    """A time in stage as people say it: "3 days", "5 hours", "12 minutes"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "under a minute"


def deal_history(*, deal_id: int, now: dt.datetime | None = None) -> list[HistoryRow]:
    """A deal's stage moves, oldest first, each with its time in stage; one query."""
    now = now or timezone.now()
    changes = list(
        DealStageChange.objects.filter(deal_id=deal_id)
        .select_related("from_stage", "to_stage", "by_user")
        .order_by("changed_at", "id")
    )
    rows = []
    for i, change in enumerate(changes):
        last = i == len(changes) - 1
        until = now if last else changes[i + 1].changed_at
        rows.append(HistoryRow(change=change, seconds=max((until - change.changed_at).total_seconds(), 0.0), current=last))
    return rows


def deal_get(*, deal_id: int, user: Any = None) -> Deal:
    """One deal with its pipeline, stage, account, person, owner and lost reason (one `user` may see, when given),
    or NotFound naming the id."""
    qs = access_seen(
        Deal.objects.select_related("pipeline", "pipeline_stage", "account", "person", "owner", "lost_reason"), user=user
    )
    deal: Deal = _one(qs, deal_id, "deal")
    return deal


def deal_contacts(*, deal_id: int) -> list[DealContact]:
    """The people on a deal's buying team with their roles, in the order they joined."""
    return list(
        DealContact.objects.filter(deal_id=deal_id).select_related("person", "person__account").order_by("created_at", "id")
    )


ACTIVITY_LIMIT = 50


@dataclass
class DealDetail:
    deal: Deal
    contacts: list[DealContact]
    activities: list[Activity]
    history: list[HistoryRow]
    stages: list[PipelineStage]


def deal_detail(*, deal_id: int, now: dt.datetime | None = None, user: Any = None) -> DealDetail:
    """Everything the deal page shows: the deal, its people with roles, activities, stage history and the stages."""
    deal = deal_get(deal_id=deal_id, user=user)
    return DealDetail(
        deal=deal,
        contacts=deal_contacts(deal_id=deal.pk),
        activities=list(
            Activity.objects.filter(deal_id=deal.pk).select_related("user", "person", "kind").order_by("-occurred_at", "-id")[
                :ACTIVITY_LIMIT
            ]
        ),
        history=deal_history(deal_id=deal.pk, now=now),
        stages=list(PipelineStage.objects.filter(pipeline_id=deal.pipeline_id, is_active=True).order_by("position", "id")),
    )


# ---- the forecast: amount × probability by expected close month, by owner and by pipeline ----


@dataclass
class ForecastRow:
    """Open deals expected in a period weighted by their stage's probability, plus what was won in it."""

    key: Any
    label: str
    deals: int = 0
    amount: Decimal = Decimal("0.00")
    weighted: Decimal = Decimal("0.00")
    won: Decimal = Decimal("0.00")
    won_deals: int = 0

    @property
    def forecast(self) -> Decimal:
        return self.weighted + self.won


@dataclass
class Forecast:
    month_from: dt.date
    month_to: dt.date  # exclusive: the first day after the range
    months: list[ForecastRow]
    by_owner: list[ForecastRow]
    by_pipeline: list[ForecastRow]
    overdue: ForecastRow
    undated: ForecastRow
    total: ForecastRow


def _weighted_sum() -> Sum:
    product = ExpressionWrapper(
        F("amount") * F("pipeline_stage__probability"), output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    return Sum(product)


def _cents(raw: Any) -> Decimal:
    # Sum(amount × percent) is exact in cents-percent; dividing by 100 here keeps SQLite's float sums out of it.
    return (Decimal(raw or 0).quantize(CENT, rounding=ROUND_HALF_UP) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _owner_label(first: str | None, last: str | None, username: str | None) -> str:
    name = f"{first or ''} {last or ''}".strip()
    return name or username or "Unassigned"


def forecast_get(
    *,
    pipeline_id: int | None = None,
    owner: str = "",
    month_from: str = "",
    months: int = FORECAST_MONTHS,
    now: dt.datetime | None = None,
) -> Forecast:
    """The forecast over `months` months from `month_from` (this month by default), aggregated in the database.

    Per month: open deals expected to close then, their amount and amount × stage probability, and the amount
    won (by close date); the same per owner and per pipeline over the whole range, and open deals expected
    before the range (overdue) or with no date. Seven queries, whatever the number of deals.
    """
    if not 1 <= months <= 36:
        raise ValidationFailed(f"months must be from 1 to 36, got {months}", field="months", value=months)
    now = now or timezone.now()
    start = month_parse(month_from, field_name="month_from") or timezone.localdate(now).replace(day=1)
    end = month_after(start, months)
    deals = Deal.objects.all()
    if pipeline_id is not None:
        pipeline_get(pipeline_id=pipeline_id)
        deals = deals.filter(pipeline_id=pipeline_id)
    if owner:
        owner_id = _owner_id(owner)
        deals = deals.filter(owner__isnull=True) if owner_id is None else deals.filter(owner_id=owner_id)
    open_in = deals.filter(stage=DealStage.OPEN, expected_close_on__gte=start, expected_close_on__lt=end)
    won_in = deals.filter(stage=DealStage.WON, closed_at__gte=_month_start(start), closed_at__lt=_month_start(end))

    by_month = {
        m: ForecastRow(key=m, label=m.strftime("%b %Y"))
        for m in (month_after(start, i) for i in range(months))
    }
    # Grouped by day, then the few day rows summed into months here: SQLite truncates a date to its month with a
    # Python function called per row, ten times slower at 10,000 deals than grouping by the stored date.
    raw: dict[dt.date, Decimal] = {}
    for row in open_in.values("expected_close_on").annotate(n=Count("id"), total=Sum("amount"), w=_weighted_sum()).order_by():
        day = row["expected_close_on"]
        assert day is not None  # the range filtered on it
        r = by_month[day.replace(day=1)]
        r.deals += row["n"]
        r.amount = _money(r.amount + _money(row["total"]))
        raw[r.key] = raw.get(r.key, Decimal(0)) + Decimal(row["w"] or 0).quantize(CENT)
    for key, product in raw.items():
        by_month[key].weighted = _cents(product)
    won_rows = won_in.annotate(month=TruncMonth("closed_at")).values("month").annotate(n=Count("id"), won=Sum("amount"))
    for won_row in won_rows.order_by():
        r = by_month[_as_date(won_row["month"])]
        r.won_deals, r.won = won_row["n"], _money(won_row["won"])

    def grouped(key: str, label_fields: tuple[str, ...], label: Any) -> list[ForecastRow]:
        out: dict[Any, ForecastRow] = {}
        for row in open_in.values(key, *label_fields).annotate(n=Count("id"), total=Sum("amount"), w=_weighted_sum()).order_by():
            r = out.setdefault(row[key], ForecastRow(key=row[key], label=label(row)))
            r.deals, r.amount, r.weighted = row["n"], _money(row["total"]), _cents(row["w"])
        for row in won_in.values(key, *label_fields).annotate(n=Count("id"), won=Sum("amount")).order_by():
            r = out.setdefault(row[key], ForecastRow(key=row[key], label=label(row)))
            r.won_deals, r.won = row["n"], _money(row["won"])
        return sorted(out.values(), key=lambda r: (-r.forecast, r.label))

    by_owner = grouped(
        "owner_id",
        ("owner__first_name", "owner__last_name", "owner__username"),
        lambda row: _owner_label(row["owner__first_name"], row["owner__last_name"], row["owner__username"]),
    )
    by_pipeline = grouped("pipeline_id", ("pipeline__name",), lambda row: row["pipeline__name"])
    rest = deals.filter(stage=DealStage.OPEN).aggregate(
        overdue_n=Count("id", filter=Q(expected_close_on__lt=start)),
        overdue_amount=Sum("amount", filter=Q(expected_close_on__lt=start)),
        undated_n=Count("id", filter=Q(expected_close_on__isnull=True)),
        undated_amount=Sum("amount", filter=Q(expected_close_on__isnull=True)),
    )
    overdue = ForecastRow(key="overdue", label=f"Expected before {start:%b %Y}, still open", deals=rest["overdue_n"],
                          amount=_money(rest["overdue_amount"]))
    undated = ForecastRow(key="undated", label="No expected close date", deals=rest["undated_n"],
                          amount=_money(rest["undated_amount"]))
    rows = list(by_month.values())
    total = ForecastRow(
        key="total",
        label="Total",
        deals=sum(r.deals for r in rows),
        amount=sum((r.amount for r in rows), ZERO),
        weighted=sum((r.weighted for r in rows), ZERO),
        won=sum((r.won for r in rows), ZERO),
        won_deals=sum(r.won_deals for r in rows),
    )
    return Forecast(
        month_from=start, month_to=end, months=rows, by_owner=by_owner, by_pipeline=by_pipeline,
        overdue=overdue, undated=undated, total=total,
    )


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value  # type: ignore[no-any-return]


# ---- conversion between a pipeline's stages (the funnel report shows it beside the lifecycle funnel) ----


@dataclass
class StageStep:
    stage: PipelineStage
    reached: int
    # Share of the deals that reached the step before that reached this one (None for the first step).
    conversion: float | None
    lost_here: int
    now_here: int


@dataclass
class Conversion:
    pipeline: Pipeline
    deals: int
    steps: list[StageStep]
    lost: int


def pipeline_conversion(
    *, pipeline: Pipeline, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> Conversion:
    """How many of a pipeline's deals (created in the period) reached each stage, and the conversion between them.

    The steps are the open stages in order, then the won stage(s); a deal that reached a later step passed the
    earlier ones even if it skipped them on the board. Lost deals count where they were lost from. Four queries.
    """
    stages = list(PipelineStage.objects.filter(pipeline=pipeline).order_by("position", "id"))
    chain = [s for s in stages if s.kind == DealStage.OPEN] + [s for s in stages if s.kind == DealStage.WON]
    won_ids = [s.pk for s in stages if s.kind == DealStage.WON]
    cohort = Deal.objects.filter(pipeline=pipeline)
    if date_from is not None:
        cohort = cohort.filter(created_at__gte=_month_start(date_from))
    if date_to is not None:
        cohort = cohort.filter(created_at__lt=_month_start(date_to + dt.timedelta(days=1)))
    # A step is reached when the deal entered it or any step after it; won stages all end the chain.
    open_chain = [s for s in chain if s.kind == DealStage.OPEN]
    aggregates: dict[str, Any] = {"deals": Count("id")}
    for i, step in enumerate(chain):
        later = [s.pk for s in open_chain[i:]] + won_ids if step.kind == DealStage.OPEN else won_ids
        entered = DealStageChange.objects.filter(deal_id=OuterRef("pk"), to_stage_id__in=later)
        aggregates[f"s{i}"] = Count("id", filter=Q(Exists(entered)))
    counts = cohort.aggregate(**aggregates)
    lost_from = dict(
        DealStageChange.objects.filter(deal__in=cohort, to_stage__kind=DealStage.LOST)
        .values("from_stage_id")
        .annotate(n=Count("deal_id", distinct=True))
        .values_list("from_stage_id", "n")
    )
    here = dict(cohort.values("pipeline_stage_id").annotate(n=Count("id")).values_list("pipeline_stage_id", "n").order_by())
    steps: list[StageStep] = []
    for i, stage in enumerate(chain):
        reached = counts[f"s{i}"]
        before = steps[-1].reached if steps else None
        steps.append(
            StageStep(
                stage=stage,
                reached=reached,
                conversion=(reached / before) if before else None,
                lost_here=lost_from.get(stage.pk, 0),
                now_here=here.get(stage.pk, 0),
            )
        )
    lost = sum(n for sid, n in here.items() if sid in {s.pk for s in stages if s.kind == DealStage.LOST})
    return Conversion(pipeline=pipeline, deals=counts["deals"], steps=steps, lost=lost)


def account_get(*, account_id: int, field_name: str = "account_id", user: Any = None) -> Account:
    """One account by id (one `user` may see, when given), or NotFound naming the field it was given in."""
    account: Account = _one(access_seen(Account.objects.all(), user=user), account_id, "account", field_name)
    return account
