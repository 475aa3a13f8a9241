"""Reads for the funnel and attribution reports: a few flat `values_list` queries turned into numpy arrays.

Period filters (docs/reports.md says the same):
- funnel: a person is in the report when they reached "lead" within [date_from, date_to];
- attribution: a journey is in the report when it ends within [date_from, date_to]; it ends at the close of
  the person's first won deal, or at their last touchpoint if they never won.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import CharField, F, FloatField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from tandem.analytics.reports.options import ATTRIBUTION_BY, REPORT_MODELS, SEGMENT_FIELDS  # re-exported
from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.core.periods import day_bounds
from tandem.core.reportcache import report_cached_get
from tandem.crm.models import Account, Deal, DealStage, Person, StageChange
from tandem.stats.attribution import DEFAULT_HALF_LIFE, Journeys, attribute, markov_with_counts
from tandem.stats.funnel import DAY, PERIODS, STAGES, funnel_report, funnel_report_of_counts, reach_times

PROFILE_FIELDS: tuple[str, ...] = ("account__industry", "account__size_band", "account__country")
NO_CAMPAIGN = "(no campaign)"
UNKNOWN = "(unknown)"


def _seconds(value: dt.datetime | None) -> float:
    return float("nan") if value is None else value.timestamp()


def when(field: str) -> Any:
    """The expression to select a datetime column by: on SQLite its stored UTC text (seconds_of parses all of
    it at once, ~3× faster than Django converting each row to an aware datetime), elsewhere the column."""
    if connection.vendor == "sqlite":
        return Cast(field, output_field=CharField())
    return F(field)


def seconds_of(values: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Seconds since the epoch of the values `when` selected."""
    if connection.vendor == "sqlite":
        micros = np.array(values, dtype="datetime64[us]").astype(np.int64)
        out: np.ndarray[Any, np.dtype[np.float64]] = micros / 1e6
        return out
    return np.fromiter((v.timestamp() for v in values), dtype=np.float64, count=len(values))


def _day_bounds(date_from: dt.date | None, date_to: dt.date | None) -> tuple[float, float]:
    """[date_from 00:00, date_to + 1 day 00:00) in the company's time zone, as epoch seconds (core.periods)."""
    low, high = day_bounds(date_from, date_to, tz=timezone.get_current_timezone())
    return (-np.inf if low is None else low.timestamp()), (np.inf if high is None else high.timestamp())


def _segment_check(by: str) -> None:
    if by != "none" and by not in SEGMENT_FIELDS:
        choices = ", ".join((*SEGMENT_FIELDS, "none"))
        raise ValidationFailed(f"by must be one of {choices}, got {by!r}", field="by", value=by)


@dataclass(frozen=True)
class FunnelData:
    """Per person (rows aligned): reach times of the funnel stages and the segment label."""

    person_ids: list[int]
    reached: np.ndarray[Any, np.dtype[np.float64]]
    segments: list[str] | None


def stage_reach_get() -> tuple[list[int], np.ndarray[Any, np.dtype[np.float64]]]:
    """Everyone with a funnel stage change (ids ascending) and the seconds they reached each stage (one query)."""
    if connection.vendor != "sqlite":
        return _stage_reach_numbers()
    rows = list(
        StageChange.objects.filter(to_stage__in=STAGES)
        .order_by()
        .annotate(at_=when("changed_at"))
        .values_list("person_id", "to_stage", "at_")
    )
    ids = sorted({r[0] for r in rows})
    index = {pid: i for i, pid in enumerate(ids)}
    reached = reach_times(
        person=[index[r[0]] for r in rows],
        to_stage=[r[1] for r in rows],
        times=seconds_of([r[2] for r in rows]),
        n_people=len(ids),
    )
    return ids, reached


def _stage_reach_numbers() -> tuple[list[int], np.ndarray[Any, np.dtype[np.float64]]]:
    """stage_reach_get with the times read as exact microseconds through a plain cursor (PostgreSQL).

    Django turning 1.4 M rows into aware datetimes was most of the time (2.7x faster at a million people,
    docs/benchmarks.md); on SQLite the text path above stays faster.
    """
    sql = (
        f"SELECT person_id, to_stage, CAST(EXTRACT(EPOCH FROM changed_at) * 1000000 AS bigint)"
        f" FROM {StageChange._meta.db_table} WHERE to_stage IN ({', '.join(['%s'] * len(STAGES))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(STAGES))
        rows = cursor.fetchall()
    if not rows:
        return [], reach_times(person=[], to_stage=[], times=[], n_people=0)
    person, to_stage, micros = zip(*rows, strict=True)
    ids, index = np.unique(np.array(person, dtype=np.int64), return_inverse=True)
    # Microseconds / 1e6 is correctly rounded, as datetime.timestamp() is: the same seconds as before.
    seconds = np.array(micros, dtype=np.int64) / 1e6
    reached = reach_times(person=index.ravel(), to_stage=to_stage, times=seconds, n_people=int(ids.size))
    return [int(i) for i in ids.tolist()], reached


def funnel_data_get(*, by: str = "none", date_from: dt.date | None = None, date_to: dt.date | None = None) -> FunnelData:
    """Reach times of every person who reached "lead" (in the period) and their segment (two queries)."""
    _segment_check(by)
    ids, reached = stage_reach_get()
    low, high = _day_bounds(date_from, date_to)
    lead = reached[:, 0]
    keep = ~np.isnan(lead) & (lead >= low) & (lead < high)
    reached = reached[keep]
    ids = [pid for pid, k in zip(ids, keep.tolist(), strict=True) if k]
    segments: list[str] | None = None
    if by != "none":
        labels = dict(Person.objects.values_list("id", SEGMENT_FIELDS[by]))
        segments = [str(labels.get(pid) or UNKNOWN) for pid in ids]
    return FunnelData(person_ids=ids, reached=reached, segments=segments)


# ---- the funnel report counted by the database ----
# Per person the moment each stage was reached (the earliest change to it or past it), then per (month of
# reaching lead, segment) the people per stage, and per step the days between: only counts come back, so
# a million people cost two grouped queries instead of 1.4 M rows turned into datetimes.

_SEGMENT_SQL: dict[str, tuple[str, str]] = {
    # by → (column expression, join): tables and columns are the models'.
    "channel": ("p.original_channel", ""),
    "campaign": ("c.name", "LEFT JOIN {campaign} c ON c.id = p.original_campaign_id"),
    "industry": ("a.industry", "LEFT JOIN {account} a ON a.id = p.account_id"),
    "size_band": ("a.size_band", "LEFT JOIN {account} a ON a.id = p.account_id"),
    "country": ("a.country", "LEFT JOIN {account} a ON a.id = p.account_id"),
    "job_title": ("p.job_title", ""),
    "owner": ("u.username", "LEFT JOIN {user} u ON u.id = p.owner_id"),
}


def _funnel_reach_sql(date_from: dt.date | None, date_to: dt.date | None) -> tuple[str, list[Any]]:
    """SELECT person_id, r0..r5 (the moment each stage was reached) of the people who reached lead in the period."""
    stage_of = " ".join(f"WHEN '{s}' THEN {k}" for k, s in enumerate(STAGES))
    reach = ", ".join(f"MIN(CASE WHEN k >= {k} THEN changed_at END) AS r{k}" for k in range(len(STAGES)))
    params: list[Any] = list(STAGES)
    where = []
    for moment, op in zip(day_bounds(date_from, date_to, tz=timezone.get_current_timezone()), (">=", "<"), strict=True):
        if moment is not None:
            where.append(f"r0 {op} %s")
            params.append(connection.ops.adapt_datetimefield_value(moment))
    sql = (
        f"SELECT person_id, {reach} FROM (SELECT person_id, changed_at, CASE to_stage {stage_of} END AS k"
        f" FROM {StageChange._meta.db_table} WHERE to_stage IN ({', '.join(['%s'] * len(STAGES))})) ch"
        " GROUP BY person_id"
    )
    if where:
        sql = f"SELECT * FROM ({sql}) g WHERE {' AND '.join(where)}"
    return sql, params


def _funnel_sql_parts(by: str) -> tuple[str, str, str]:
    """The expressions of the lead month (months since January 1970, UTC) and the segment label, and the joins."""
    if connection.vendor == "sqlite":
        # Stored UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]".
        month = "(CAST(substr(r.r0, 1, 4) AS INTEGER) * 12 + CAST(substr(r.r0, 6, 2) AS INTEGER) - 23641)"
    else:
        month = (
            "CAST(EXTRACT(YEAR FROM r.r0 AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM r.r0 AT TIME ZONE 'UTC')"
            " - 23641 AS integer)"
        )
    if by == "none":
        return month, "''", ""
    column, join = _SEGMENT_SQL[by]
    tables = {
        "campaign": Campaign._meta.db_table,
        "account": Account._meta.db_table,
        "user": Person._meta.get_field("owner").related_model._meta.db_table,
    }
    joins = f"JOIN {Person._meta.db_table} p ON p.id = r.person_id " + join.format(**tables)
    # Empty and missing values are one label, as funnel_data_get writes it.
    return month, f"COALESCE(NULLIF({column}, ''), '{UNKNOWN}')", joins


def _epoch_seconds_sql(column: str) -> str:
    """Seconds since the epoch of a reach time as a double, rounded as seconds_of / datetime.timestamp() round it."""
    if connection.vendor == "sqlite":
        # Whole seconds from the text cut before the fraction (strftime rounds to milliseconds: .9997 s would
        # become the next second), plus the microseconds as written.
        whole = f"CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER)"
        micros = f"({whole} * 1000000 + CAST(substr({column} || '.000000', 21, 6) AS INTEGER))"
        return f"({micros} / 1000000.0)"
    # EXTRACT gives the exact decimal; its conversion to double is correctly rounded, as timestamp() is.
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS double precision)"


def funnel_counts_get(
    *, by: str = "none", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The funnel's counts (two grouped queries): cells (month, segment, people per stage) and step rows
    (month, segment, step, days between, people); months count from January 1970, segment None without `by`."""
    _segment_check(by)
    _day_bounds(date_from, date_to)
    cells_sql, steps_sql, params = _funnel_queries(by, date_from, date_to)
    with connection.cursor() as cursor:
        cursor.execute(cells_sql, params)
        cells = cursor.fetchall()
        cursor.execute(steps_sql, params)
        steps = cursor.fetchall()
    return cells, steps


def _funnel_queries(by: str, date_from: dt.date | None, date_to: dt.date | None) -> tuple[str, str, list[Any]]:
    """The SQL of the cells and of the step rows, and their parameters."""
    reach, params = _funnel_reach_sql(date_from, date_to)
    month, segment, joins = _funnel_sql_parts(by)
    stages = len(STAGES)
    counted = ", ".join(f"COUNT(r.r{k})" for k in range(stages))
    cells_sql = (
        f"SELECT {month} AS m, {segment} AS s, {counted} FROM ({reach}) r {joins} GROUP BY 1, 2"
    )
    # One row per person and step reached at both ends; the days are computed exactly as funnel_group does
    # (difference of the two times in seconds, then / 86,400) so the medians match to the last bit.
    seconds = [_epoch_seconds_sql(f"r.r{k}") for k in range(stages)]
    day = "86400.0" if connection.vendor == "sqlite" else "CAST(86400 AS double precision)"  # a double, not numeric
    days = " ".join(f"WHEN {k} THEN ({seconds[k + 1]} - {seconds[k]}) / {day}" for k in range(stages - 1))
    reached_next = " ".join(f"WHEN {k} THEN r.r{k + 1}" for k in range(stages - 1))
    steps_values = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(stages - 1))
    steps_sql = (
        f"SELECT m, s, k, d, COUNT(*) FROM (SELECT {month} AS m, {segment} AS s, st.k AS k,"
        f" CASE st.k {days} END AS d FROM ({reach}) r {joins} CROSS JOIN ({steps_values}) st"
        f" WHERE r.r1 IS NOT NULL AND (CASE st.k {reached_next} END) IS NOT NULL) x GROUP BY m, s, k, d"
    )
    return cells_sql, steps_sql, params


@dataclass(frozen=True)
class AttributionData:
    """The journeys of the report and, aligned with them, the person ids."""

    journeys: Journeys
    person_ids: list[int]


def attribution_journeys_get(
    *,
    by: str = "channel",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    with_profile: bool = False,
) -> AttributionData:
    """Every person's journey (touchpoints up to the close of their first won deal) keyed by channel or campaign.

    Converted = has a won deal; revenue = the amount of the first won deal. W-shaped milestones: the lead
    was created at the first stage change to lead or beyond (else the person's created_at), the opportunity
    at the first change to opportunity or customer (else the first deal's created_at); the milestone touch
    is the first touch at or after that moment. Profile (with_profile): one-hot industry, size band, country.
    """
    if by not in ATTRIBUTION_BY:
        raise ValidationFailed(f"by must be one of {', '.join(ATTRIBUTION_BY)}, got {by!r}", field="by", value=by)
    # Touchpoint's default order (occurred_at, id) is kept: it breaks ties between touches at the same time.
    touches = list(
        Touchpoint.objects.annotate(at_=when("occurred_at")).values_list("person_id", "channel", "campaign_id", "at_")
    )
    won: dict[int, tuple[float, float]] = {}
    for pid, amount, closed_at in (
        Deal.objects.filter(stage=DealStage.WON, person__isnull=False, closed_at__isnull=False)
        .order_by("closed_at", "id")
        .values_list("person_id", "amount", "closed_at")
    ):
        if pid not in won:
            won[pid] = (_seconds(closed_at), float(amount or 0))
    ids = sorted({t[0] for t in touches} | set(won))
    index = {pid: i for i, pid in enumerate(ids)}
    n = len(ids)
    jid = np.fromiter((index[t[0]] for t in touches), dtype=np.int64, count=len(touches))
    times = seconds_of([t[3] for t in touches])
    if by == "channel":
        raw = [t[1] or UNKNOWN for t in touches]
    else:
        names = dict(Campaign.objects.values_list("id", "name"))
        raw = [names.get(t[2], NO_CAMPAIGN) if t[2] else NO_CAMPAIGN for t in touches]
    keys = sorted(set(raw))
    key_code = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((key_code[k] for k in raw), dtype=np.int64, count=len(raw))
    cutoff = np.full(n, np.nan)
    revenue = np.zeros(n)
    for pid, (closed, value) in won.items():
        cutoff[index[pid]] = closed
        revenue[index[pid]] = value
    converted = ~np.isnan(cutoff)

    # A journey ends at its conversion, or at its last touch when it never converted.
    last_touch = np.full(n, -np.inf)
    np.maximum.at(last_touch, jid, times)
    end = np.where(converted, cutoff, last_touch)
    low, high = _day_bounds(date_from, date_to)
    keep = (end >= low) & (end < high)

    # The first change to lead-or-beyond and to opportunity-or-beyond: minima over each person's changes.
    changes = list(
        StageChange.objects.filter(to_stage__in=STAGES)
        .order_by()
        .annotate(at_=when("changed_at"))
        .values_list("person_id", "to_stage", "at_")
    )
    change_at = seconds_of([c[2] for c in changes])
    change_row = np.fromiter((index.get(c[0], -1) for c in changes), dtype=np.int64, count=len(changes))
    late = np.fromiter((c[1] in ("opportunity", "customer") for c in changes), dtype=bool, count=len(changes))
    known = change_row >= 0
    lead_at = np.full(n, np.inf)
    opp_at = np.full(n, np.inf)
    np.minimum.at(lead_at, change_row[known], change_at[known])
    np.minimum.at(opp_at, change_row[known & late], change_at[known & late])
    lead_at[np.isinf(lead_at)] = np.nan
    opp_at[np.isinf(opp_at)] = np.nan
    profile_rows: dict[int, tuple[Any, ...]] = {}
    missing_lead = [ids[i] for i in np.flatnonzero(np.isnan(lead_at) & keep).tolist()]
    need_people = bool(missing_lead) or with_profile
    if need_people:
        people = list(Person.objects.order_by().annotate(at_=when("created_at")).values_list("id", "at_", *PROFILE_FIELDS))
        created_at = seconds_of([p[1] for p in people])
        for (pid, _, *fields), created in zip(people, created_at.tolist(), strict=True):
            i = index.get(pid)
            if i is None:
                continue
            if np.isnan(lead_at[i]):
                lead_at[i] = created
            profile_rows[pid] = tuple(fields)
    if np.isnan(opp_at[keep]).any():
        for pid, created in Deal.objects.filter(person__isnull=False).order_by("created_at", "id").values_list(
            "person_id", "created_at"
        ):
            i = index.get(pid)
            if i is not None and np.isnan(opp_at[i]):
                opp_at[i] = _seconds(created)

    # Renumber the kept journeys 0..m-1 and drop the touches of the others.
    kept = np.flatnonzero(keep)
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[kept] = np.arange(kept.size)
    touch_keep = renumber[jid] >= 0 if jid.size else np.zeros(0, dtype=bool)
    tj = renumber[jid[touch_keep]]
    tt = times[touch_keep]
    profile = None
    if with_profile:
        profile = _one_hot([profile_rows.get(ids[i], ("", "", "")) for i in kept.tolist()])
    # Times in days, so the time-decay half-life is in days.
    journeys = Journeys.from_touches(
        keys=keys,
        journey=tj,
        codes=codes[touch_keep],
        times=tt / DAY,
        converted=converted[kept],
        revenue=revenue[kept],
        cutoff=cutoff[kept] / DAY,
        lead_touch=tt >= lead_at[kept][tj],
        opportunity_touch=tt >= opp_at[kept][tj],
        profile=profile,
    )
    return AttributionData(journeys=journeys, person_ids=[ids[i] for i in kept.tolist()])


def _one_hot(rows: list[tuple[Any, ...]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One column per (field, value) seen, dropping each field's most common value (the baseline)."""
    columns: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for f in range(len(PROFILE_FIELDS)):
        values = np.asarray([str(r[f] or "") for r in rows], dtype=object)
        if not values.size:
            continue
        unique, inverse, counts = np.unique(values.astype(str), return_inverse=True, return_counts=True)
        baseline = int(np.argmax(counts))
        for u in range(unique.size):
            if u != baseline:
                columns.append((inverse == u).astype(np.float64))
    if not columns:
        return np.zeros((len(rows), 0))
    return np.column_stack(columns)


# ---- attribution aggregated in the database: what attribution_report_get reads ----
# attribution_journeys_get above reads every touch (10M at scale); the report reads only the touches of
# the journeys that converted (a small minority) and lets the database count what the data-driven models
# need of the others: Markov their transitions, Shapley and incremental their key sets (and profiles).
# The models give exactly the same figures either way (tests/analytics/test_attribution_aggregated.py).

RULE_BASED_MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "time_decay", "position", "w_shaped")
# Key sets travel as bitmasks in a 64-bit integer; with more keys the report falls back to reading every touch.
_MASK_KEYS = 62


@dataclass(frozen=True)
class _KeyCodes:
    """The report's keys (named as attribution_journeys_get names them), each campaign id's key, and the SQL
    expression that codes a touch `tp` by them."""

    keys: list[str]
    campaign_keys: dict[int, str]
    sql: str
    params: list[Any]


def _key_codes(by: str) -> _KeyCodes:
    """Every key some touch has (one query): channels by a loose index scan, campaigns by EXISTS."""
    table = Touchpoint._meta.db_table
    with connection.cursor() as cursor:
        if by == "channel":
            # One index probe per distinct channel instead of reading 10M rows for a dozen values.
            cursor.execute(
                f"WITH RECURSIVE seen(value) AS (SELECT MIN(channel) FROM {table} UNION ALL "
                f"SELECT (SELECT MIN(channel) FROM {table} WHERE channel > seen.value) FROM seen "
                "WHERE seen.value IS NOT NULL) SELECT value FROM seen WHERE value IS NOT NULL"
            )
            raw = [r[0] for r in cursor.fetchall()]
            keys = sorted({v or UNKNOWN for v in raw})
            code = {k: i for i, k in enumerate(keys)}
            cases = " ".join("WHEN %s THEN " + str(code[v or UNKNOWN]) for v in raw)
            sql = f"CASE tp.channel {cases} END" if raw else "0"
            return _KeyCodes(keys=keys, campaign_keys={}, sql=sql, params=list(raw))
        campaigns = Campaign._meta.db_table
        cursor.execute(
            f"SELECT c.id, c.name FROM {campaigns} c WHERE EXISTS (SELECT 1 FROM {table} t WHERE t.campaign_id = c.id) "
            f"UNION ALL SELECT NULL, NULL WHERE EXISTS (SELECT 1 FROM {table} t WHERE t.campaign_id IS NULL)"
        )
        pairs = cursor.fetchall()
    keys = sorted({NO_CAMPAIGN if pid is None else name for pid, name in pairs})
    code = {k: i for i, k in enumerate(keys)}
    # Campaign ids are integers from the database: written into the SQL, they spare thousands of parameters.
    cases = " ".join(f"WHEN {int(pid)} THEN {code[name]}" for pid, name in pairs if pid is not None)
    fallback = code.get(NO_CAMPAIGN, 0)
    sql = f"CASE tp.campaign_id {cases} ELSE {fallback} END" if cases else str(fallback)
    return _KeyCodes(
        keys=keys, campaign_keys={int(pid): name for pid, name in pairs if pid is not None}, sql=sql, params=[]
    )


def _of_people(queryset: Any, column: str, ids: list[int]) -> Any:
    """queryset restricted to rows whose `column` is one of ids, passed as one parameter: 50k ids would exceed
    SQLite's limit on parameters, and one array keeps PostgreSQL's plan an index lookup per id."""
    where = f'"{queryset.model._meta.db_table}"."{column}"'
    if connection.vendor == "postgresql":
        return queryset.extra(where=[f"{where} = ANY(%s)"], params=[ids])
    return queryset.extra(where=[f"{where} IN (SELECT value FROM json_each(%s))"], params=[json.dumps(ids)])


def _db_time(seconds: float) -> Any:
    return connection.ops.adapt_datetimefield_value(dt.datetime.fromtimestamp(seconds, dt.UTC))


def _epoch(model: Any, field: str) -> Any:
    """A datetime column as seconds since the epoch: on PostgreSQL computed by the database (a float, exactly
    what datetime.timestamp() gives: both round the exact microseconds once), sparing psycopg's slow
    timestamptz parsing; on SQLite its stored text, which _epochs_of parses all at once."""
    if connection.vendor == "postgresql":
        column = f'"{model._meta.db_table}"."{model._meta.get_field(field).column}"'
        return RawSQL(f"EXTRACT(EPOCH FROM {column})::float8", (), output_field=FloatField())
    return Cast(field, output_field=CharField())


def _epochs_of(values: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Seconds since the epoch of the values _epoch selected."""
    if connection.vendor == "postgresql":
        return np.asarray(values, dtype=np.float64)
    # Micro-seconds as integers, divided once: the same rounding as datetime.timestamp().
    micros = np.array(values, dtype="datetime64[us]").astype(np.int64)
    out: np.ndarray[Any, np.dtype[np.float64]] = micros / 1e6
    return out


def _epoch_of(value: Any) -> float:
    return float(_epochs_of([value])[0])


def _converted_journeys_get(
    *, codes: _KeyCodes, by: str, low: float, high: float, with_profile: bool
) -> tuple[Journeys, list[tuple[Any, ...]]]:
    """The journeys of the people whose first won deal closed in [low, high) (person ids ascending), built as
    attribution_journeys_get builds them (same times, cut-off and milestones), and their profile rows when
    asked (3–6 queries)."""
    won: dict[int, tuple[float, float]] = {}
    for pid, amount, closed_at in (
        Deal.objects.filter(stage=DealStage.WON, person__isnull=False, closed_at__isnull=False)
        .order_by("closed_at", "id")
        .annotate(at_=_epoch(Deal, "closed_at"))
        .values_list("person_id", "amount", "at_")
    ):
        if pid not in won:
            won[pid] = (_epoch_of(closed_at), float(amount or 0))
    ids = sorted(pid for pid, (closed, _) in won.items() if low <= closed < high)
    n = len(ids)
    index = {pid: i for i, pid in enumerate(ids)}
    cutoff = np.array([won[pid][0] for pid in ids], dtype=np.float64)
    revenue = np.array([won[pid][1] for pid in ids], dtype=np.float64)
    key_code = {k: i for i, k in enumerate(codes.keys)}
    touches = list(
        _of_people(Touchpoint.objects.order_by("person_id", "occurred_at", "id"), "person_id", ids)
        .annotate(at_=_epoch(Touchpoint, "occurred_at"))
        .values_list("person_id", "channel", "campaign_id", "at_")
    )
    jid = np.fromiter((index[t[0]] for t in touches), dtype=np.int64, count=len(touches))
    times = _epochs_of([t[3] for t in touches])
    if by == "channel":
        raw = [t[1] or UNKNOWN for t in touches]
    else:
        raw = [codes.campaign_keys[t[2]] if t[2] else NO_CAMPAIGN for t in touches]
    code = np.fromiter((key_code[k] for k in raw), dtype=np.int64, count=len(raw))
    changes = list(
        _of_people(StageChange.objects.filter(to_stage__in=STAGES).order_by(), "person_id", ids)
        .annotate(at_=_epoch(StageChange, "changed_at"))
        .values_list("person_id", "to_stage", "at_")
    )
    change_at = _epochs_of([c[2] for c in changes])
    change_row = np.fromiter((index[c[0]] for c in changes), dtype=np.int64, count=len(changes))
    late = np.fromiter((c[1] in ("opportunity", "customer") for c in changes), dtype=bool, count=len(changes))
    lead_at = np.full(n, np.inf)
    opp_at = np.full(n, np.inf)
    np.minimum.at(lead_at, change_row, change_at)
    np.minimum.at(opp_at, change_row[late], change_at[late])
    lead_at[np.isinf(lead_at)] = np.nan
    opp_at[np.isinf(opp_at)] = np.nan
    profile_rows: list[tuple[Any, ...]] = [("", "", "")] * n
    missing = [ids[i] for i in np.flatnonzero(np.isnan(lead_at)).tolist()]
    if missing or with_profile:
        people = list(
            _of_people(Person.objects.order_by(), "id", ids if with_profile else missing)
            .annotate(at_=_epoch(Person, "created_at"))
            .values_list("id", "at_", *PROFILE_FIELDS)
        )
        created_at = _epochs_of([p[1] for p in people])
        for (pid, _, *fields), created in zip(people, created_at.tolist(), strict=True):
            i = index[pid]
            if np.isnan(lead_at[i]):
                lead_at[i] = created
            profile_rows[i] = tuple(fields)
    without_opp = [ids[i] for i in np.flatnonzero(np.isnan(opp_at)).tolist()]
    if without_opp:
        for pid, created in (
            _of_people(Deal.objects.order_by("created_at", "id"), "person_id", without_opp)
            .annotate(at_=_epoch(Deal, "created_at"))
            .values_list("person_id", "at_")
        ):
            i = index[pid]
            if np.isnan(opp_at[i]):
                opp_at[i] = _epoch_of(created)
    journeys = Journeys.from_touches(
        keys=codes.keys,
        journey=jid,
        codes=code,
        times=times / DAY,
        converted=np.ones(n, dtype=bool),
        revenue=revenue,
        cutoff=cutoff / DAY,
        lead_touch=times >= lead_at[jid],
        opportunity_touch=times >= opp_at[jid],
    )
    return journeys, profile_rows


def _unconverted_source(codes: _KeyCodes, low: float, high: float) -> tuple[str, list[Any], str, list[Any]]:
    """FROM clause of the touches of people who never won (coded `c`), and the period condition on `last_at`."""
    touch, deal = Touchpoint._meta.db_table, Deal._meta.db_table
    source = (
        f"(SELECT tp.person_id, tp.occurred_at, tp.id, {codes.sql} AS c FROM {touch} tp WHERE NOT EXISTS "
        f"(SELECT 1 FROM {deal} d WHERE d.person_id = tp.person_id AND d.stage = %s AND d.closed_at IS NOT NULL))"
    )
    conditions, params = [], []
    if np.isfinite(low):
        conditions.append("last_at >= %s")
        params.append(_db_time(low))
    if np.isfinite(high):
        conditions.append("last_at < %s")
        params.append(_db_time(high))
    return source, [*codes.params, DealStage.WON.value], " AND ".join(conditions) or "1 = 1", params


def _unconverted_transitions(codes: _KeyCodes, low: float, high: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Markov transition counts of the journeys that never converted and end in the period (one query)."""
    k = len(codes.keys)
    source, params, period, period_params = _unconverted_source(codes, low, high)
    if connection.vendor == "sqlite":
        return _unconverted_transitions_sqlite(k, source, params, period, period_params)
    last_at = ", MAX(occurred_at) OVER (PARTITION BY person_id) AS last_at" if period_params else ""
    sql = (
        "SELECT prev, c, is_last, COUNT(*) FROM (SELECT c, LAG(c) OVER w AS prev, "
        f"CASE WHEN LEAD(id) OVER w IS NULL THEN 1 ELSE 0 END AS is_last{last_at} FROM {source} AS s "
        f"WINDOW w AS (PARTITION BY person_id ORDER BY occurred_at, id)) AS t WHERE {period} GROUP BY prev, c, is_last"
    )
    counts = np.zeros((k + 1, k + 3))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *period_params])
        for prev, c, is_last, n in cursor.fetchall():
            counts[0 if prev is None else prev + 1, c + 1] += n
            if is_last:
                counts[c + 1, k + 2] += n
    return counts


def _unconverted_transitions_sqlite(
    k: int, source: str, params: list[Any], period: str, period_params: list[Any]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The same counts on SQLite, whose window functions are several times slower than reading the coded touches
    (two integers each, in the journey index's order: no sort) and pairing neighbours in numpy."""
    kept = ""
    if period_params:
        kept = (
            f" AND s.person_id IN (SELECT person_id FROM {source} AS g GROUP BY person_id "
            f"HAVING {period.replace('last_at', 'MAX(occurred_at)')})"
        )
        params = [*params, *params, *period_params]
    sql = f"SELECT s.person_id, s.c FROM {source} AS s WHERE 1 = 1{kept} ORDER BY s.person_id, s.occurred_at, s.id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    person, code = rows[:, 0], rows[:, 1]
    counts = np.zeros((k + 1, k + 3))
    if not person.size:
        return counts
    same = person[1:] == person[:-1]
    first = np.concatenate([[True], ~same])
    last = np.concatenate([~same, [True]])
    counts[0, 1 : k + 1] = np.bincount(code[first], minlength=k)
    pairs = code[:-1][same] * k + code[1:][same]
    counts[1 : k + 1, 1 : k + 1] = np.bincount(pairs, minlength=k * k).reshape(k, k)
    counts[1 : k + 1, k + 2] = np.bincount(code[last], minlength=k)
    return counts


def _unconverted_sets(
    codes: _KeyCodes, low: float, high: float, with_profile: bool
) -> list[tuple[int, int, tuple[Any, ...]]]:
    """(key-set bitmask, journeys, profile) of the journeys that never converted and end in the period (one query)."""
    source, params, period, period_params = _unconverted_source(codes, low, high)
    one = "CAST(1 AS BIGINT)" if connection.vendor == "postgresql" else "1"
    grouped = (
        f"SELECT person_id, SUM(DISTINCT {one} << c) AS mask, MAX(occurred_at) AS last_at FROM {source} AS s "
        "GROUP BY person_id"
    )
    if with_profile:
        person, account = Person._meta.db_table, Account._meta.db_table
        sql = (
            f"SELECT j.mask, a.industry, a.size_band, a.country, COUNT(*) FROM ({grouped}) AS j "
            f"JOIN {person} p ON p.id = j.person_id LEFT JOIN {account} a ON a.id = p.account_id "
            f"WHERE {period} GROUP BY j.mask, a.industry, a.size_band, a.country"
        )
    else:
        sql = f"SELECT mask, COUNT(*) FROM ({grouped}) AS j WHERE {period} GROUP BY mask"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *period_params])
        rows = cursor.fetchall()
    if with_profile:
        return [(int(r[0]), int(r[4]), (r[1], r[2], r[3])) for r in rows]
    return [(int(r[0]), int(r[1]), ("", "", "")) for r in rows]


def _one_hot_weighted(
    rows: list[tuple[Any, ...]], counts: np.ndarray[Any, np.dtype[np.float64]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """_one_hot of rows that stand for counts[i] identical rows each (each field's baseline counts them all)."""
    columns: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for f in range(len(PROFILE_FIELDS)):
        values = np.asarray([str(r[f] or "") for r in rows], dtype=object)
        if not values.size:
            continue
        unique, inverse = np.unique(values.astype(str), return_inverse=True)
        inverse = inverse.ravel()
        baseline = int(np.argmax(np.bincount(inverse, weights=counts, minlength=unique.size)))
        for u in range(unique.size):
            if u != baseline:
                columns.append((inverse == u).astype(np.float64))
    if not columns:
        return np.zeros((len(rows), 0))
    return np.column_stack(columns)


def attribution_inputs_get(
    *, model: str, by: str = "channel", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> tuple[Journeys, np.ndarray[Any, np.dtype[np.float64]] | None]:
    """What `model` needs, aggregated in the database (4–8 queries; the same results as from
    attribution_journeys_get): journeys, for the rule-based models the converted ones only, for Shapley and
    incremental also the others grouped by key set (and profile) with counts; for Markov the converted
    journeys and the others' transition counts."""
    if by not in ATTRIBUTION_BY:
        raise ValidationFailed(f"by must be one of {', '.join(ATTRIBUTION_BY)}, got {by!r}", field="by", value=by)
    low, high = _day_bounds(date_from, date_to)
    codes = _key_codes(by)
    with_profile = model == "incremental"
    if model in ("shapley", "incremental") and len(codes.keys) > _MASK_KEYS:
        data = attribution_journeys_get(by=by, date_from=date_from, date_to=date_to, with_profile=with_profile)
        return data.journeys, None
    conv, profile_rows = _converted_journeys_get(codes=codes, by=by, low=low, high=high, with_profile=with_profile)
    if model in RULE_BASED_MODELS:
        return conv, None
    if model == "markov":
        return conv, _unconverted_transitions(codes, low, high)
    groups = _unconverted_sets(codes, low, high, with_profile)
    bits = np.arange(len(codes.keys), dtype=np.int64)
    group_codes = [bits[((mask >> bits) & 1) == 1] for mask, _, _ in groups]
    lengths = np.concatenate([conv.lengths, np.array([c.size for c in group_codes], dtype=np.int64)])
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    counts = np.concatenate([conv.count, np.array([g[1] for g in groups], dtype=np.int64)])
    profile = None
    if with_profile:
        profile = _one_hot_weighted([*profile_rows, *(g[2] for g in groups)], counts.astype(np.float64))
    journeys = Journeys(
        keys=tuple(codes.keys),
        codes=np.concatenate([conv.codes, *group_codes]).astype(np.int64),
        offsets=offsets,
        converted=np.concatenate([conv.converted, np.zeros(len(groups), dtype=bool)]),
        revenue=np.concatenate([conv.revenue, np.zeros(len(groups))]),
        count=counts,
        profile=profile,
    )
    return journeys, None


# ---------------------------------------------------------------------------------------------------------
# Whole reports (the shapes the CLI, the API and the pages share)

MODEL_LABELS: dict[str, str] = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position": "Position-based (40/20/40)",
    "w_shaped": "W-shaped",
    "markov": "Markov (removal effect)",
    "shapley": "Shapley",
    "incremental": "Incremental (model-based)",
}
_ENGINE_NAME = {"position": "position_based"}


def _funnel_options_check(*, by: str, period: str, date_from: dt.date | None, date_to: dt.date | None) -> None:
    """Refuse bad funnel options before any query (both funnel paths take the same ones)."""
    _segment_check(by)
    _day_bounds(date_from, date_to)
    if period not in PERIODS:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}, got {period!r}", field="period", value=period)


def funnel_report_get(
    *, by: str = "none", period: str = "month", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """The funnel report dict (total, per cohort period, per segment) for the CLI, API and page."""
    _funnel_options_check(by=by, period=period, date_from=date_from, date_to=date_to)
    if connection.vendor != "postgresql":
        # SQLite's per-person grouping took 1.5-5x the time of numpy over the changes read as text
        # (docs/benchmarks.md, "Funnel at scale"): there the report keeps the numpy path; the results are equal.
        data = funnel_data_get(by=by, date_from=date_from, date_to=date_to)
        return funnel_report(data.reached, segments=data.segments, period=period, by=by)
    return funnel_report_counted(by=by, period=period, date_from=date_from, date_to=date_to)


def funnel_report_counted(
    *, by: str = "none", period: str = "month", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """The funnel report from the database's counts (two grouped queries), equal to the numpy report to the bit."""
    _funnel_options_check(by=by, period=period, date_from=date_from, date_to=date_to)
    cells, steps = funnel_counts_get(by=by, date_from=date_from, date_to=date_to)
    split = by != "none"
    return funnel_report_of_counts(
        period=period,
        by=by,
        cell_month=[c[0] for c in cells],
        cell_segment=[c[1] for c in cells] if split else None,
        cell_counts=np.array([c[2:] for c in cells], dtype=np.int64).reshape(-1, len(STAGES)),
        step_month=[r[0] for r in steps],
        step_segment=[r[1] for r in steps] if split else None,
        step=[r[2] for r in steps],
        step_days=[r[3] for r in steps],
        step_people=[r[4] for r in steps],
    )


def attribution_report_get(
    *,
    model: str,
    by: str = "channel",
    half_life: float | None = None,
    bootstrap: int = 200,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    journeys: Journeys | None = None,
) -> dict[str, Any]:
    """The attribution report dict: model, by, totals and rows (the issue's JSON shape)."""

    if model not in REPORT_MODELS:
        raise ValidationFailed(
            f"unknown attribution model {model!r}; choose one of {', '.join(REPORT_MODELS)}", field="model", value=model
        )
    transitions = None
    if journeys is None:
        journeys, transitions = attribution_inputs_get(model=model, by=by, date_from=date_from, date_to=date_to)
    options: dict[str, Any] = {}
    if model == "time_decay" and half_life is not None:
        options["half_life"] = half_life
    if model == "incremental":
        options["bootstrap"] = bootstrap
    try:
        if transitions is not None:
            result = markov_with_counts(journeys, transitions)
        else:
            result = attribute(journeys, _ENGINE_NAME.get(model, model), **options)
    except ValidationFailed as exc:
        if model != "shapley":
            raise
        # The exact Shapley enumeration is bounded (63 keys overall, 20 per journey): say what to change.
        raise ValidationFailed(
            f"Shapley values cannot be computed by {by}: {exc.message}; or choose another model.",
            field="by",
            value=by,
        ) from exc
    out = result.to_dict(by=by)
    out["model"] = model
    if model == "time_decay":
        out["half_life"] = DEFAULT_HALF_LIFE if half_life is None else half_life
    if model == "incremental":
        out["bootstrap"] = bootstrap
    return out


def report_cached(kind: str, **params: Any) -> dict[str, Any]:
    """The funnel or attribution report, from the report cache while the data version stands (core/reportcache.py)."""
    compute = funnel_report_get if kind == "funnel" else attribution_report_get
    return report_cached_get(kind=kind, params=params, compute=lambda: compute(**params))


# Bootstrap resamples behind a page's intervals: enough for a stable interval, fast enough to open in a second.
PAGE_BOOTSTRAP = 20


# ---- the reports' rows, as pages, CSV downloads and `tandem report funnel|attribution` show them ----

ATTRIBUTION_COLUMNS = ("key", "conversions", "revenue", "conversions_low", "conversions_high", "removal_effect")


def attribution_columns(report: dict[str, Any]) -> list[str]:
    """The columns the report's rows carry (interval and removal-effect columns only where the model has them)."""
    present = set().union(*(r.keys() for r in report["rows"])) if report["rows"] else {"key"}
    return [c for c in ATTRIBUTION_COLUMNS if c in present or c in ("key", "conversions", "revenue")]


FUNNEL_CSV_COLUMNS = (
    "group", "key", "from", "to", "n", "converted", "rate", "rate_low", "rate_high", "days_median", "days_p80",
)


def funnel_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (group, step): the total, then the cohorts, then the segments."""
    groups = [("total", report["total"])]
    groups += [("cohort", g) for g in report["cohorts"]]
    groups += [("segment", g) for g in report["segments"]]
    return [{"group": kind, "key": g["key"], **step} for kind, g in groups for step in g["steps"]]
