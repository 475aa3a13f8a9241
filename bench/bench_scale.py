"""Every report page at scale: builds a company of 1M people / 10M touchpoints, then times each report cold and warm.

Build: a realistic company shaped like the demo company (src/tandem/demo: its channels, industries, size bands,
countries, names, teams and users), at any size: ~1 account per 10 people, campaigns per channel and quarter
with monthly cost entries, people with channel, campaign, owner and account, ~10 touchpoints a person on average
over three years (skewed: many with 1-3, some with 50+), stage changes through the funnel (lead → MQL → SAL →
SQL → opportunity → customer, ~1.5 a person), deals for the opportunities (won, lost, open) and the reps' first
touches after each hand-off (activities, which the SLA scorecard reads). Rows are written with their keys by
COPY on PostgreSQL and by plain INSERTs on raw sqlite3 on SQLite (the product's `rows_copy` cannot take keys,
and its adapters build a datetime per value: minutes at 10M rows), then the id sequences are reset and, on
PostgreSQL, ANALYZE refreshes the planner statistics (SQLite gets none, as after any product bulk load: see
tandem.core.bulk). Deterministic for a given --seed and --end. The build is recorded in the table
`bench_scale_build`; a rerun on a database that holds the same build skips building.

Time: every report page through Django's test Client as the demo's marketing user, the matching API endpoints,
the people list and global search. Cold = every report cache emptied before each request; warm = after one
warm-up request. Median of --runs (3 cold, 5 warm). Targets: cold 1 s on PostgreSQL, 2 s on SQLite; warm 0.1 s.
Exits non-zero if a target is missed or a page fails (reported as ERROR).

Run: .venv/bin/python bench/bench_scale.py --database-url postgres://postgres@127.0.0.1:5432/tandem_scale_pg
     [--people 1000000] [--touchpoints 10000000] [--only TEXT] [--runs-cold 3] [--runs-warm 5] [--build-only]
A PostgreSQL database that does not exist is created (through the `postgres` database). --keep is accepted for
symmetry with the other benchmarks: the database is always kept, so reruns reuse it. --rebuild empties it first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

MARKER = "bench_scale_build"
CHUNK = 50_000  # people generated and written at a time
YEARS = 3
TARGET_COLD = {"postgresql": 1.0, "sqlite": 2.0}
TARGET_WARM = 0.1

# Base log-odds of each funnel step for a person of average quality (the demo company's, a little lower at the
# top so that a person has ~1.5 stage changes). Measured at 200,000 people: 23% reach MQL, 54% of those are
# accepted, 57% of SALs qualify, 80% of SQLs get a deal, 49% of closed deals are won.
MQL_BASE, SAL_BASE, SQL_BASE, OPP_BASE, WIN_BASE = -1.5, -0.6, -0.8, 0.2, -1.6
# Share of the MQLs that sales does not accept which it sends back (recycled) or disqualifies.
RETURN_SHARE = 0.3
# Spread of the touchpoint counts: log-normal weights with this sigma make many people with 1-3 touchpoints
# and a few per cent with 50 or more, around a mean of touchpoints / people.
TOUCH_SIGMA = 1.6
SENIOR_TITLES = ("Marketing Manager", "Head of Sales", "CTO", "VP Engineering", "Director of Operations",
                 "Software Engineer", "Data Analyst", "CFO", "Product Manager", "Account Executive",
                 "Growth Lead", "IT Administrator", "Student")  # fmt: skip
TOUCH_KINDS = {"email": "email_click", "webinar": "webinar", "events": "event_visit", "content": "content_download"}
LOGIN = "marketing"


# ---------------------------------------------------------------------------------------------------------
# Setup


def database_point(url: str, var_dir: Path) -> str:
    """Point Django at `url` (creating a missing PostgreSQL database) and set it up; returns the vendor."""
    if url.startswith(("postgres://", "postgresql://")):
        _pg_database_ensure(url)
    os.environ["TANDEM_DATABASE_URL"] = url
    os.environ.setdefault("TANDEM_VAR_DIR", str(var_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    os.environ.setdefault("TANDEM_ALLOWED_HOSTS", "testserver,localhost")
    # This process's own report cache: emptying a shared Redis (TANDEM_CACHE_URL=redis://…) for every cold
    # request would flush it for everyone using it; set TANDEM_CACHE_URL to time with Redis on purpose.
    os.environ.setdefault("TANDEM_CACHE_URL", "locmem://")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    return connection.vendor


def _pg_database_ensure(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


# ---------------------------------------------------------------------------------------------------------
# Writing rows with their keys


@dataclass
class Table:
    """A table and the columns written to it; the model's other columns get their defaults."""

    model: Any
    columns: Sequence[str]  # attnames, the primary key first
    fixed_names: list[str]
    fixed: list[Any]

    @classmethod
    def of(cls, model: Any, columns: Sequence[str], now: str) -> Table:
        from django.db import models

        names, values = [], []
        for f in model._meta.concrete_fields:
            if f.attname in columns:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value: Any = now
            elif f.null and not f.has_default():
                value = None
            else:
                value = f.get_default()
                if isinstance(f, models.JSONField):
                    value = json.dumps(value)
            names.append(f.column)
            values.append(value)
        return cls(model, columns, names, values)

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        """INSERT the rows (tuples of `columns`); returns how many."""
        from django.db import connection

        meta = self.model._meta
        fields = {f.attname: f for f in meta.concrete_fields}
        quote = connection.ops.quote_name
        names = ", ".join(quote(c) for c in [*(fields[c].column for c in self.columns), *self.fixed_names])
        table = quote(meta.db_table)
        fixed = tuple(self.fixed)
        n = 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *fixed))
                    n += 1
            return n
        raw = connection.connection.cursor()
        width = len(self.columns) + len(fixed)
        # Tables with search triggers (FTS5) take multi-row statements: FTS5 flushes its pending rows at every
        # statement, so executemany made each row a segment of its own (see tandem.core.bulk.rows_copy).
        if meta.db_table in ("crm_person", "crm_account", "crm_deal", "campaigns_campaign"):
            per = max(1, 10_000 // width)
            marks = "(" + ", ".join("?" * width) + ")"
            batch: list[Any] = []
            for row in rows:
                batch.extend(row)
                batch.extend(fixed)
                n += 1
                if n % per == 0:
                    raw.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * per)}", batch)
                    batch = []
            if batch:
                raw.execute(
                    f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * (len(batch) // width))}", batch
                )
            return n
        counted = _counting((*row, *fixed) for row in rows)
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * width)})", counted)
        return counted.n


class _counting:
    def __init__(self, items: Iterable[Any]) -> None:
        self.items = iter(items)
        self.n = 0

    def __iter__(self) -> _counting:
        return self

    def __next__(self) -> Any:
        item = next(self.items)
        self.n += 1
        return item


def stamps(seconds: np.ndarray, vendor: str) -> list[str]:
    """Whole-second UTC moments as each database stores them: text in Django's SQLite format, or timestamptz."""
    text = np.datetime_as_string(seconds.astype("int64").astype("datetime64[s]"), unit="s").tolist()
    if vendor == "postgresql":
        return [s + "+00" for s in text]
    return [s.replace("T", " ") for s in text]


def _stamp(moment: dt.datetime, vendor: str) -> str:
    return stamps(np.array([moment.timestamp()]), vendor)[0]


# ---------------------------------------------------------------------------------------------------------
# The company


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _weights(values: dict[str, Any], index: int = 0) -> tuple[list[str], np.ndarray]:
    names = list(values)
    w = np.array([float(v[index] if isinstance(v, tuple) else v) for v in values.values()])
    return names, w / w.sum()


def company_build(*, people: int, touchpoints: int, seed: int, end: dt.date, log: Callable[[str], None] = print) -> dict[str, int]:
    """Write the company into the (empty) database in one transaction; returns the row counts written."""
    from django.db import connection, transaction

    from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
    from tandem.crm.models import (
        Account,
        Activity,
        Deal,
        LostReason,
        Person,
        Pipeline,
        PipelineStage,
        StageChange,
    )
    from tandem.crm.services import crm_defaults_ensure
    from tandem.demo import company as demo
    from tandem.demo.lifecycle import demo_calendars_set
    from tandem.demo.services import demo_users_create

    if touchpoints < people:
        raise SystemExit(f"--touchpoints ({touchpoints}) must be at least --people ({people}): everyone has one")
    vendor = connection.vendor
    rng = np.random.default_rng(seed)
    end_s = float(dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC).timestamp())
    start_day = end - dt.timedelta(days=365 * YEARS)
    start_s = end_s - 365 * YEARS * 86400.0
    now = _stamp(dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC), vendor)
    counts: dict[str, int] = {}
    started = time.perf_counter()

    def step(label: str, n: int) -> None:
        counts[label] = counts.get(label, 0) + n

    with transaction.atomic():
        if vendor == "postgresql":
            # Foreign keys checked as each COPY ends, not all at COMMIT: a queue of deferred checks for 10M
            # rows holds memory and made the commit of 2M touchpoints take minutes without a word of progress.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        crm_defaults_ensure()
        users = demo_users_create()
        demo_calendars_set(years=range(start_day.year, end.year + 2))
        reps = {
            territory: np.array([users[u].pk for u, _, _, t, _ in demo.REPS if t == territory])
            for territory in ("americas", "emea")
        }
        lost_reasons = [LostReason.objects.get_or_create(name=name)[0].pk for name in demo.LOST_REASONS]
        _, lost_p = _weights(demo.LOST_REASONS)
        pipeline = Pipeline.objects.get(is_default=True)
        pstages = dict(PipelineStage.objects.filter(pipeline=pipeline).values_list("name", "id"))
        open_stages = np.array([pstages[n] for n in ("New", "Qualified", "Proposal", "Negotiation")])

        def next_id(model: Any) -> int:
            from django.db.models import Max

            return int(model.objects.aggregate(m=Max("id"))["m"] or 0) + 1

        # --- campaigns: per channel, k per quarter (k grows with the company), monthly cost entries ------------
        channels = list(demo.CHANNEL_PROFILES)
        shares = np.array([demo.CHANNEL_PROFILES[c].share for c in channels])
        shares /= shares.sum()
        quarters = YEARS * 4
        per_quarter = np.array(
            [0 if c in demo.CAMPAIGNLESS else max(1, round(shares[i] * people / 25_000)) for i, c in enumerate(channels)]
        )
        base = np.full((len(channels), quarters), -1, dtype=np.int64)
        campaign_rows, cost_rows = [], []
        cid, cost_id = next_id(Campaign), next_id(CampaignCost)
        for ci, channel in enumerate(channels):
            profile = demo.CHANNEL_PROFILES[channel]
            for q in range(quarters):
                if not per_quarter[ci]:
                    continue
                base[ci, q] = cid
                first = start_day + dt.timedelta(days=round(q * 365 / 4))
                last = start_day + dt.timedelta(days=round((q + 1) * 365 / 4) - 1)
                for k in range(int(per_quarter[ci])):
                    leads = people * shares[ci] / quarters / per_quarter[ci]
                    total = profile.fixed_cost / 4 + profile.cost_per_lead * leads * float(rng.uniform(0.7, 1.3))
                    months = [first + dt.timedelta(days=30 * m) for m in range(3)]
                    parts = [round(total / 3, 2)] * 3
                    for m, amount in enumerate(parts):
                        until = min(months[m] + dt.timedelta(days=29), last)
                        cost_rows.append((cost_id, cid, months[m].isoformat(), until.isoformat(), f"{amount:.2f}",
                                          "bench invoice", now))  # fmt: skip
                        cost_id += 1
                    name = f"{channel.replace('_', ' ').title()} Q{(first.month - 1) // 3 + 1} {first.year} #{k + 1}"
                    slug = f"{channel}-{first.year}q{(first.month - 1) // 3 + 1}-{k + 1}"
                    campaign_rows.append((cid, name, channel, "archived" if last < end else "active",
                                          first.isoformat(), last.isoformat(), f"{total:.2f}",
                                          f"{sum(parts):.2f}", channel, slug, now, now))  # fmt: skip
                    cid += 1
        step("campaigns", Table.of(Campaign, ("id", "name", "channel", "status", "started_on", "ended_on", "budget",
                                               "actual_cost", "utm_source", "utm_campaign", "created_at",
                                               "updated_at"), now).write(campaign_rows))  # fmt: skip
        step("campaign costs", Table.of(CampaignCost, ("id", "campaign_id", "spent_on", "spent_until", "amount", "note",
                                                       "entered_at"), now).write(cost_rows))  # fmt: skip
        log(f"  campaigns: {len(campaign_rows):,} ({time.perf_counter() - started:.1f} s)")

        # --- accounts ------------------------------------------------------------------------------------
        n_acc = max(1, people // 10)
        industries, ind_p = _weights(demo.INDUSTRIES)
        sizes, size_p = _weights(demo.SIZE_BANDS)
        countries, country_p = _weights(demo.COUNTRIES)
        acc_ind = rng.choice(len(industries), n_acc, p=ind_p)
        acc_size = rng.choice(len(sizes), n_acc, p=size_p)
        acc_country = rng.choice(len(countries), n_acc, p=country_p)
        acc_stem = rng.integers(0, len(demo.NAME_STEMS), n_acc)
        acc_end = rng.integers(0, len(demo.NAME_ENDINGS), n_acc)
        acc0 = next_id(Account)
        acc_created = stamps(start_s + rng.uniform(0, end_s - start_s, n_acc) * 0.5, vendor)

        def account_rows() -> Iterable[tuple[Any, ...]]:
            for i in range(n_acc):
                word = demo.INDUSTRIES[industries[acc_ind[i]]][2][i % 5]
                stem = demo.NAME_STEMS[acc_stem[i]] + demo.NAME_ENDINGS[acc_end[i]]
                yield (acc0 + i, f"{stem} {word} {i}", f"{stem.lower()}{i}.example", industries[acc_ind[i]],
                       sizes[acc_size[i]], countries[acc_country[i]], acc_created[i], acc_created[i])  # fmt: skip

        step("accounts", Table.of(Account, ("id", "name", "domain", "industry", "size_band", "country", "created_at",
                                             "updated_at"), now).write(account_rows()))  # fmt: skip
        log(f"  accounts: {n_acc:,} ({time.perf_counter() - started:.1f} s)")
        acc_quality = (
            np.array([demo.INDUSTRIES[i][1] for i in industries])[acc_ind]
            + np.array([demo.SIZE_BANDS[s][1] for s in sizes])[acc_size]
        )
        acc_territory = np.array([demo.COUNTRIES[c][2] == "emea" for c in countries])[acc_country]
        acc_deal = np.array([demo.SIZE_BANDS[s][3] for s in sizes])[acc_size]
        acc_cycle = np.array([demo.SIZE_BANDS[s][4] for s in sizes])[acc_size]
        # Bigger companies bring more people.
        acc_weight = np.array([demo.SIZE_BANDS[s][2] for s in sizes])[acc_size]
        acc_weight = acc_weight / acc_weight.sum()

        # --- people and their funnel, all at once in arrays (8 bytes a person a column) -----------------------
        span = end_s - start_s
        created = np.sort(start_s + span * rng.power(1.35, people))  # growth: more people lately
        created = np.floor(created)
        channel_of = rng.choice(len(channels), people, p=shares)
        account = rng.choice(n_acc, people, p=acc_weight)
        quality = (
            np.array([demo.CHANNEL_PROFILES[c].quality for c in channels])[channel_of]
            + acc_quality[account]
            + rng.normal(0, 0.8, people)
        )
        quality -= quality.mean()  # the base log-odds above are for a person of average quality
        quarter = np.minimum(((created - start_s) // (span / quarters)).astype(np.int64), quarters - 1)
        k_of = per_quarter[channel_of]
        campaign = np.where(
            k_of > 0, base[channel_of, quarter] + (rng.random(people) * np.maximum(k_of, 1)).astype(np.int64), 0
        )
        emea = acc_territory[account]
        days = 86400.0

        def later(frm: np.ndarray, mean_days: float, reached: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            at = np.floor(frm + rng.exponential(mean_days * days, people) + 3600)
            return at, reached & (at < end_s)

        mql_at, mql = later(created, 9, rng.random(people) < _sigmoid(MQL_BASE + quality))
        # EMEA accepts within hours, the Americas in a day (the demo's speed to lead).
        accept_days = np.where(emea, 4 / 24, 20 / 24)
        sal_at = np.floor(mql_at + rng.exponential(1.0, people) * accept_days * days + 600)
        sal = mql & (sal_at < end_s) & (rng.random(people) < _sigmoid(SAL_BASE + quality))
        sql_at, sql = later(sal_at, 12, sal & (rng.random(people) < _sigmoid(SQL_BASE + quality)))
        opp_at, opp = later(sql_at, 8, sql & (rng.random(people) < _sigmoid(OPP_BASE + quality)))
        close_at = np.floor(opp_at + rng.gamma(2.0, acc_cycle[account] / 2, people) * days)
        closed = opp & (close_at < end_s)
        won = closed & (rng.random(people) < _sigmoid(WIN_BASE + quality))
        lost = closed & ~won
        back = mql & ~sal & (rng.random(people) < RETURN_SHARE)
        back_at = np.floor(mql_at + rng.exponential(3.0, people) * days + 3600)
        back = back & (back_at < end_s)
        back_disq = rng.random(people) < 0.4  # else recycled
        stage = np.full(people, "lead", dtype=object)
        for mask, name in ((mql, "mql"), (sal, "sal"), (sql, "sql"), (opp, "opportunity"), (won, "customer")):
            stage[mask] = name
        stage[back & back_disq] = "disqualified"
        stage[back & ~back_disq] = "recycled"
        owner = np.where(emea, reps["emea"][rng.integers(0, len(reps["emea"]), people)],
                         reps["americas"][rng.integers(0, len(reps["americas"]), people)])  # fmt: skip
        has_owner = mql
        # Touchpoints: everyone has one (how they became known), the rest spread by skewed weights; people who
        # go further in the funnel engage more.
        weight = rng.lognormal(0.0, TOUCH_SIGMA, people) * (1 + mql + sal + opp)
        extra = rng.multinomial(touchpoints - people, weight / weight.sum())
        n_touch = 1 + extra
        first_names = [demo._ascii(n) for n in demo.FIRST_NAMES]
        last_names = [demo._ascii(n) for n in demo.LAST_NAMES]
        first_i = rng.integers(0, len(first_names), people)
        last_i = rng.integers(0, len(last_names), people)
        title_i = rng.integers(0, len(SENIOR_TITLES), people)
        consent = rng.random(people) < 0.6
        nurture, nurture_p = _weights(demo.NURTURE_MIX)
        nurture_idx = np.array([channels.index(c) for c in nurture])
        kind_of = [TOUCH_KINDS.get(c, demo.CHANNEL_PROFILES[c].first_kind) for c in channels]
        first_kind = [demo.CHANNEL_PROFILES[c].first_kind for c in channels]
        person0, touch0, change0, deal0, act0 = (
            next_id(Person), next_id(Touchpoint), next_id(StageChange), next_id(Deal), next_id(Activity)
        )
        deal_count = 0
        people_t = Table.of(Person, ("id", "email", "email_normalized", "first_name", "last_name", "name_key",
                                     "job_title", "account_id", "owner_id", "lifecycle_stage", "lead_status",
                                     "original_channel", "original_campaign_id", "latest_channel",
                                     "latest_campaign_id", "consent_email", "created_at", "updated_at"), now)  # fmt: skip
        touch_t = Table.of(Touchpoint, ("id", "person_id", "occurred_at", "channel", "campaign_id", "kind",
                                        "utm_campaign", "created_at"), now)  # fmt: skip
        change_t = Table.of(StageChange, ("id", "person_id", "from_stage", "to_stage", "changed_at", "by_user_id",
                                          "rule", "recorded_at"), now)  # fmt: skip
        deal_t = Table.of(Deal, ("id", "name", "person_id", "account_id", "owner_id", "amount", "stage",
                                 "pipeline_id", "pipeline_stage_id", "stage_entered_at", "expected_close_on",
                                 "closed_at", "lost_reason_id", "created_at", "updated_at"), now)  # fmt: skip
        act_t = Table.of(Activity, ("id", "person_id", "account_id", "user_id", "kind_id", "direction", "subject",
                                    "occurred_at", "created_at"), now)  # fmt: skip
        slugs = {c: s for c, s in Campaign.objects.values_list("id", "utm_campaign")}
        for lo in range(0, people, CHUNK):
            hi = min(people, lo + CHUNK)
            ids = np.arange(person0 + lo, person0 + hi)
            sl = slice(lo, hi)
            m = hi - lo
            # Touchpoints of the chunk: the first at creation, the rest within a year and a half of it.
            counts_c = n_touch[sl]
            owner_of = np.repeat(np.arange(m), counts_c)
            is_first = np.zeros(len(owner_of), dtype=bool)
            is_first[np.concatenate(([0], np.cumsum(counts_c)[:-1]))] = True
            c0 = created[sl][owner_of]
            horizon = np.minimum(end_s - 1, c0 + 540 * days)
            at = np.where(is_first, c0, np.floor(c0 + rng.random(len(owner_of)) * np.maximum(horizon - c0, 0)))
            own = rng.random(len(owner_of)) < 0.5
            t_channel = np.where(is_first | own, channel_of[sl][owner_of],
                                 nurture_idx[rng.choice(len(nurture), len(owner_of), p=nurture_p)])  # fmt: skip
            t_quarter = np.minimum(((at - start_s) // (span / quarters)).astype(np.int64), quarters - 1)
            t_k = per_quarter[t_channel]
            t_campaign = np.where(
                is_first,
                campaign[sl][owner_of],
                np.where(t_k > 0, base[t_channel, t_quarter] + (rng.random(len(owner_of)) * np.maximum(t_k, 1)).astype(np.int64), 0),
            )
            # The latest touch of each person (for latest_channel / latest_campaign).
            order = np.lexsort((at, owner_of))
            last_pos = order[np.cumsum(counts_c) - 1]
            latest_channel = t_channel[last_pos]
            latest_campaign = t_campaign[last_pos]
            # Rows in time order, as they would have arrived.
            by_time = np.argsort(at, kind="stable")
            t_ids = np.arange(touch0, touch0 + len(by_time))
            touch0 += len(by_time)
            tc = t_campaign[by_time].tolist()
            tch = t_channel[by_time].tolist()
            tf = is_first[by_time].tolist()
            # Written after the chunk's people: PostgreSQL checks the foreign keys as each COPY ends.
            touch_rows = zip(
                t_ids.tolist(), (ids[0] + owner_of[by_time]).tolist(), stamps(at[by_time], vendor),
                (channels[c] for c in tch), (c or None for c in tc),
                (first_kind[c] if f else kind_of[c] for c, f in zip(tch, tf, strict=True)),
                (slugs.get(c, "") for c in tc), stamps(at[by_time], vendor), strict=True,
            )  # fmt: skip

            # People.
            fi, li = first_i[sl].tolist(), last_i[sl].tolist()
            acc_ids = (acc0 + account[sl]).tolist()
            created_text = stamps(created[sl], vendor)
            own_ids = np.where(has_owner[sl], owner[sl], 0).tolist()
            st = stage[sl].tolist()
            cch, ccamp = channel_of[sl].tolist(), campaign[sl].tolist()
            lch, lcamp = latest_channel.tolist(), latest_campaign.tolist()

            step("people", people_t.write(_person_rows(
                ids=ids.tolist(), first=[first_names[i] for i in fi], last=[last_names[i] for i in li],
                title=[SENIOR_TITLES[i] for i in title_i[sl].tolist()], account=acc_ids, owner=own_ids, stage=st,
                channel=[channels[c] for c in cch], campaign=ccamp, latest_channel=[channels[c] for c in lch],
                latest_campaign=lcamp, consent=consent[sl].tolist(), created=created_text,
            )))  # fmt: skip
            step("touchpoints", touch_t.write(touch_rows))

            # Stage changes: (person index, from, to, at, by rep?) for every move.
            moves: list[tuple[np.ndarray, str, str, np.ndarray, bool]] = [
                (np.arange(m), "", "lead", created[sl], False),
                (np.flatnonzero(mql[sl]), "lead", "mql", mql_at[sl], False),
                (np.flatnonzero(sal[sl]), "mql", "sal", sal_at[sl], True),
                (np.flatnonzero(sql[sl]), "sal", "sql", sql_at[sl], True),
                (np.flatnonzero(opp[sl]), "sql", "opportunity", opp_at[sl], True),
                (np.flatnonzero(won[sl]), "opportunity", "customer", close_at[sl], True),
                (np.flatnonzero((back & back_disq)[sl]), "mql", "disqualified", back_at[sl], True),
                (np.flatnonzero((back & ~back_disq)[sl]), "mql", "recycled", back_at[sl], True),
            ]
            change_rows: list[tuple[Any, ...]] = []
            for idx, frm, to, when, by_rep in moves:
                whens = stamps(when[idx], vendor)
                pids = (ids[0] + idx).tolist()
                reps_ = np.where(has_owner[sl][idx], owner[sl][idx], 0).tolist() if by_rep else [0] * len(idx)
                rule = "bench:rep" if by_rep else "bench"
                change_rows.extend(
                    (0, pids[j], frm, to, whens[j], reps_[j] or None, rule, whens[j]) for j in range(len(idx))
                )
            change_rows.sort(key=lambda r: r[4])
            step("stage changes", change_t.write(
                (change0 + j, *row[1:]) for j, row in enumerate(change_rows)
            ))  # fmt: skip
            change0 += len(change_rows)

            # Deals of the opportunities.
            idx = np.flatnonzero(opp[sl])
            g = lo + idx
            amount = np.round(acc_deal[account[g]] * rng.lognormal(0, 0.5, len(idx)), -1)
            d_stage = np.where(won[g], "won", np.where(lost[g], "lost", "open"))
            pst = np.where(won[g], pstages["Won"], np.where(lost[g], pstages["Lost"], open_stages[rng.integers(0, 4, len(idx))]))
            lr = np.array(lost_reasons)[rng.choice(len(lost_reasons), len(idx), p=lost_p)]
            opened = stamps(opp_at[g], vendor)
            closing = stamps(close_at[g], vendor)
            expected = [
                (dt.datetime.fromtimestamp(s, dt.UTC).date()).isoformat() for s in close_at[g].tolist()
            ]

            step("deals", deal_t.write(_deal_rows(
                ids=list(range(deal0 + deal_count, deal0 + deal_count + len(idx))),
                person=(ids[0] + idx).tolist(), account=(acc0 + account[g]).tolist(), owner=owner[g].tolist(),
                amount=amount.tolist(), stage=d_stage.tolist(), pipeline=pipeline.pk, pipeline_stage=pst.tolist(),
                opened=opened, closing=closing, expected=expected, lost_reason=lr.tolist(),
            )))  # fmt: skip
            deal_count += len(idx)

            # The owner's touches after each hand-off: a first call or e-mail, sometimes a follow-up or two.
            idx = np.flatnonzero(mql[sl])
            g = lo + idx
            first_touch = mql_at[g] + rng.exponential(1.0, len(idx)) * accept_days[g] * days * 1.5 + 300
            attempts = 1 + rng.binomial(2, 0.35, len(idx))
            a_owner = np.repeat(np.arange(len(idx)), attempts)
            # Position of each attempt within its person's (0 = the first touch).
            nth = np.arange(len(a_owner)) - np.repeat(np.cumsum(attempts) - attempts, attempts)
            a_at = np.floor(first_touch[a_owner] + rng.exponential(2.0, len(a_owner)) * days * (nth > 0))
            keep = a_at < end_s
            a_owner, a_at = a_owner[keep], a_at[keep]
            nth_kept = nth[keep].tolist()
            a_stamps = stamps(a_at, vendor)
            a_kind = np.where(rng.random(len(a_owner)) < 0.6, "call", "email").tolist()
            a_person = (ids[0] + idx[a_owner]).tolist()
            a_acc = (acc0 + account[g[a_owner]]).tolist()
            a_user = owner[g[a_owner]].tolist()
            step("activities", act_t.write(
                (act0 + j, a_person[j], a_acc[j], a_user[j], a_kind[j], "outbound",
                 "Follow-up" if nth_kept[j] else "First touch", a_stamps[j], a_stamps[j])
                for j in range(len(a_owner))
            ))  # fmt: skip
            act0 += len(a_owner)
            log(f"  people {hi:,}/{people:,} ({time.perf_counter() - started:.0f} s)")

        from tandem.core.bulk import sequences_reset

        sequences_reset(models_=[Campaign, CampaignCost, Account, Person, Touchpoint, StageChange, Deal, Activity])
        log(f"  written, committing ({time.perf_counter() - started:.0f} s)")
    try:  # reports cached under the data version see the new company (tolerates a tree without it)
        from tandem.core.dataversion import data_version_bump

        data_version_bump()
    except ImportError:
        pass
    if vendor == "postgresql":
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        log(f"  ANALYZE: {time.perf_counter() - t0:.1f} s")
    # Recorded once everything committed: a build that died half-way leaves no marker (and no rows).
    with transaction.atomic():
        _marker_write(people=people, touchpoints=touchpoints, seed=seed, end=end, counts=counts,
                      seconds=time.perf_counter() - started)  # fmt: skip
    return counts


def _person_rows(
    *, ids: list[int], first: list[str], last: list[str], title: list[str], account: list[int], owner: list[int],
    stage: list[str], channel: list[str], campaign: list[int], latest_channel: list[str], latest_campaign: list[int],
    consent: list[bool], created: list[str],
) -> Iterator[tuple[Any, ...]]:
    from tandem.crm.identity import name_key

    for j, pid in enumerate(ids):
        email = f"{first[j]}.{last[j]}.{pid}@{account[j]}.example".lower().replace(" ", "").replace("'", "")
        yield (pid, email, email, first[j], last[j], name_key(first[j], last[j]), title[j], account[j],
               owner[j] or None, stage[j], "new" if stage[j] in ("lead", "mql") else "connected", channel[j],
               campaign[j] or None, latest_channel[j], latest_campaign[j] or None, consent[j], created[j],
               created[j])  # fmt: skip


def _deal_rows(
    *, ids: list[int], person: list[int], account: list[int], owner: list[int], amount: list[float],
    stage: list[str], pipeline: int, pipeline_stage: list[int], opened: list[str], closing: list[str],
    expected: list[str], lost_reason: list[int],
) -> Iterator[tuple[Any, ...]]:
    for j, did in enumerate(ids):
        done = stage[j] != "open"
        yield (did, f"Deal {person[j]}", person[j], account[j], owner[j], f"{amount[j]:.2f}", stage[j], pipeline,
               pipeline_stage[j], closing[j] if done else opened[j], expected[j], closing[j] if done else None,
               lost_reason[j] if stage[j] == "lost" else None, opened[j], closing[j] if done else opened[j])  # fmt: skip


def _marker_ensure() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER} (people integer NOT NULL, touchpoints integer NOT NULL, "
            "seed integer NOT NULL, end_date varchar(10) NOT NULL, seconds real NOT NULL, counts text NOT NULL)"
        )


def _marker_write(*, people: int, touchpoints: int, seed: int, end: dt.date, counts: dict[str, int], seconds: float) -> None:
    from django.db import connection

    _marker_ensure()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")
        cursor.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, %s, %s, %s, %s)",
            [people, touchpoints, seed, end.isoformat(), seconds, json.dumps(counts)],
        )


def marker_read() -> dict[str, Any] | None:
    """The build this database holds (its size, seed, end date, seconds and counts), or None."""
    from django.db import connection

    _marker_ensure()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT people, touchpoints, seed, end_date, seconds, counts FROM {MARKER}")
        row = cursor.fetchone()
    if row is None:
        return None
    return {"people": row[0], "touchpoints": row[1], "seed": row[2], "end": row[3], "seconds": row[4],
            "counts": json.loads(row[5])}  # fmt: skip


def company_ensure(*, people: int, touchpoints: int, seed: int, end: dt.date, rebuild: bool) -> dict[str, Any]:
    """Build the company unless the database already holds this one; returns the marker."""
    from tandem.crm.models import Person

    held = marker_read()
    if held and held["people"] == people and held["touchpoints"] == touchpoints and not rebuild:
        print(f"database holds the {people:,}/{touchpoints:,} company (built in {held['seconds']:.0f} s, "
              f"seed {held['seed']}, ending {held['end']}): not rebuilding")  # fmt: skip
        return held
    if held is None and Person.objects.exists() and not rebuild:
        raise SystemExit("the database holds people but no bench_scale build: pass --rebuild to empty it first")
    if held is not None or Person.objects.exists():
        if not rebuild:
            raise SystemExit(f"the database holds a {held['people']:,}/{held['touchpoints']:,} build "  # type: ignore[index]
                             "(pass --rebuild to replace it)")  # fmt: skip
        from tandem.demo.services import database_reset

        database_reset(reason="bench_scale --rebuild")
    print(f"building {people:,} people / {touchpoints:,} touchpoints (seed {seed}, ending {end})")
    t0 = time.perf_counter()
    company_build(people=people, touchpoints=touchpoints, seed=seed, end=end)
    print(f"built in {time.perf_counter() - t0:.1f} s")
    marker = marker_read()
    assert marker is not None
    return marker


# ---------------------------------------------------------------------------------------------------------
# Timing


def caches_empty() -> None:
    """Empty every report cache: reports are cached only in Django's caches (tandem.core.reportcache)."""
    from django.conf import settings
    from django.core.cache import caches

    for alias in settings.CACHES:
        caches[alias].clear()


MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position", "w_shaped", "markov", "shapley", "incremental")


def pages(*, sample_name: str) -> list[tuple[str, str, dict[str, str]]]:
    """(label, url, query) of every page timed."""
    return [
        ("funnel", "/reports/funnel/", {}),
        ("funnel by channel, quarter", "/reports/funnel/", {"by": "channel", "period": "quarter"}),
        ("funnel by industry", "/reports/funnel/", {"by": "industry"}),
        *[(f"attribution {m} by channel", "/reports/attribution/", {"model": m}) for m in MODELS],
        ("attribution linear by campaign", "/reports/attribution/", {"model": "linear", "by": "campaign"}),
        ("economics by channel (linear)", "/reports/economics/", {}),
        ("economics by campaign (linear)", "/reports/economics/", {"by": "campaign"}),
        ("economics by channel (incremental)", "/reports/economics/", {"model": "incremental"}),
        ("KPI dashboard, month", "/reports/dashboard/", {}),
        ("KPI dashboard, quarter", "/reports/dashboard/", {"period": "quarter"}),
        ("weekly report", "/reports/weekly/", {}),
        ("SLA scorecard", "/sla/", {}),
        ("control chart: volume per channel, week", "/statistics/", {}),
        ("control chart: win rate per campaign", "/statistics/", {"metric": "win_rate", "by": "campaign"}),
        ("control chart: SQL rate, whole company", "/statistics/", {"metric": "sql_rate", "by": "all"}),
        ("segments: channel, won", "/statistics/segments/", {}),
        ("segments: industry x size band, SQL", "/statistics/segments/", {"by": "industry", "by2": "size_band", "metric": "sql"}),
        ("API funnel", "/api/reports/funnel", {}),
        ("API funnel by channel, quarter", "/api/reports/funnel", {"by": "channel", "period": "quarter"}),
        ("API attribution linear", "/api/reports/attribution", {"model": "linear"}),
        ("API attribution markov", "/api/reports/attribution", {"model": "markov"}),
        ("API attribution shapley", "/api/reports/attribution", {"model": "shapley"}),
        ("API attribution incremental", "/api/reports/attribution", {"model": "incremental"}),
        ("API attribution linear by campaign", "/api/reports/attribution", {"model": "linear", "by": "campaign"}),
        ("API economics linear", "/api/reports/economics", {}),
        ("API economics incremental", "/api/reports/economics", {"model": "incremental"}),
        ("API dashboard", "/api/dashboard", {}),
        ("API weekly report", "/api/reports/weekly", {}),
        ("API SLA scorecard", "/api/sla/scorecard", {}),
        ("API control chart", "/api/statistics/spc", {}),
        ("API segments", "/api/statistics/segments", {}),
        ("people list: first page", "/people/", {}),
        ("people list: stage=customer", "/people/", {"stage": "customer"}),
        ("people list: name prefix", "/people/", {"q": sample_name}),
        ("API people: first page", "/api/people", {}),
        ("search page", "/search/", {"q": sample_name}),
        ("API search", "/api/search", {"q": sample_name}),
    ]


@dataclass
class Timing:
    label: str
    cold: float | None
    warm: float | None
    error: str = ""


def _get(client: Any, url: str, query: dict[str, str]) -> float:
    t0 = time.perf_counter()
    response = client.get(url, query)
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")
    return elapsed


# A request slower than this is not repeated: at a million people a slow report would take minutes a page.
REPEAT_BELOW_S = 10.0


def page_time(client: Any, url: str, query: dict[str, str], *, runs_cold: int, runs_warm: int) -> tuple[float, float]:
    """Median seconds of the page cold (report caches emptied first) and warm (after one warm-up request)."""
    cold: list[float] = []
    while len(cold) < runs_cold and not (cold and cold[-1] > REPEAT_BELOW_S):
        caches_empty()
        cold.append(_get(client, url, query))
    _get(client, url, query)
    warm: list[float] = []
    while len(warm) < runs_warm and not (warm and warm[-1] > REPEAT_BELOW_S):
        warm.append(_get(client, url, query))
    return statistics.median(cold), statistics.median(warm)


def _counts() -> dict[str, int]:
    from tandem.campaigns.models import Campaign, Touchpoint
    from tandem.crm.models import Account, Activity, Deal, Person, StageChange

    return {m.__name__: m.objects.count() for m in (Account, Person, Touchpoint, StageChange, Deal, Activity, Campaign)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None, help="last day of history (default: today)")
    parser.add_argument("--only", default="", help="time only pages whose label contains this text")
    parser.add_argument("--runs-cold", type=int, default=3)
    parser.add_argument("--runs-warm", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="accepted for symmetry: the database is always kept")
    parser.add_argument("--rebuild", action="store_true", help="empty the database and build again")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the company, time nothing")
    args = parser.parse_args()
    load_start = os.getloadavg()
    vendor = database_point(args.database_url, Path(__file__).resolve().parents[1] / "var")
    end = args.end or dt.datetime.now(dt.UTC).date()
    marker = company_ensure(people=args.people, touchpoints=args.touchpoints, seed=args.seed, end=end, rebuild=args.rebuild)
    counts = _counts()
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + f"; build took {marker['seconds']:.0f} s")
    if args.build_only:
        return 0

    from django.test import Client

    from tandem.crm.models import Person
    from tandem.users.models import User

    # A failing page is one ERROR line in the table, not a traceback in the middle of it.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    user = User.objects.get(username=LOGIN)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    sample = Person.objects.order_by("id").values_list("last_name", flat=True).first() or "a"
    # The process's first request loads templates, URL patterns and the connection (seconds on a busy machine):
    # paid once here, so that it is not charged to whichever page comes first.
    client.get("/people/")
    target_cold = TARGET_COLD.get(vendor, 2.0)
    print(f"{vendor}: median of {args.runs_cold} cold / {args.runs_warm} warm; targets cold {target_cold:.1f} s, "
          f"warm {TARGET_WARM:.1f} s; load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")  # fmt: skip
    print(f"{'page':<46} {'cold s':>8} {'warm s':>8}  result")
    missed = 0
    for label, url, query in pages(sample_name=sample[:4].lower()):
        if args.only and args.only not in label:
            continue
        try:
            cold, warm = page_time(client, url, query, runs_cold=args.runs_cold, runs_warm=args.runs_warm)
        except Exception as exc:  # a failing page is reported, and the others still timed
            missed += 1
            print(f"{label:<46} {'':>8} {'':>8}  ERROR {type(exc).__name__}: {str(exc)[:80]}", flush=True)
            continue
        ok = cold < target_cold and warm < TARGET_WARM
        missed += not ok
        print(f"{label:<46} {cold:8.3f} {warm:8.3f}  {'PASS' if ok else 'MISS'}", flush=True)
    load_end = os.getloadavg()
    print(f"load average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}; {missed} missed or failed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
