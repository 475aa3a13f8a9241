"""One search over people, accounts, deals and campaigns: ranked, grouped by kind, a few hits each.

Ranking, the same for every kind (`Hit.match`):

1. **exact**: the whole name, e-mail, company name or domain is the query (a person whose company or
   domain is the query counts as exact too);
2. **prefix**: the name, a word of the name, the e-mail, the company name or the domain starts with it;
3. **substring**: it occurs anywhere in them (three characters or more).

Within a rank, hits are ordered by name, then by id. Every way of matching is one index-backed branch with
its own LIMIT (a b-tree equality or range, or a trigram index: FTS5 on SQLite, pg_trgm GIN on PostgreSQL,
see `indexing.py`). The branches of one rank, for every kind, run as one statement (UNION ALL); ranks run
best first and a kind whose list is already full is not asked again, so the trigram scans of a rank below
run only when the ranks above left room. The rows of the hits shown are then read with one query per kind.
A query of one or two characters uses only the b-tree branches and, from two characters, the word starts
(" sm" is a trigram).

Record-level access (tandem.users.access): a user who does not reach every record gets its condition inside
every branch of people, accounts and deals, before each LIMIT, so their own matches are never crowded out by
records they may not see (and the "more" flag counts only what they may see). Campaigns are company-wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.urls import NoReverseMatch, reverse

from tandem.campaigns.models import Campaign
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Account, Deal, DealStage, Person
from tandem.crm.stages import CHOICES as STAGE_CHOICES
from tandem.search import indexing
from tandem.users.access import access_q

KINDS = ("person", "account", "deal", "campaign")
KIND_LABELS = {"person": "People", "account": "Accounts", "deal": "Deals", "campaign": "Campaigns"}
# Who may see a kind: the same view permission its own list and pages require. Which rows of it: the
# record-level access rule (`_Reach`).
KIND_PERMS = {
    "person": "crm.view_person",
    "account": "crm.view_account",
    "deal": "crm.view_deal",
    "campaign": "campaigns.view_campaign",
}
MATCHES = ("exact", "prefix", "substring")
MAX_QUERY = 100
MAX_LIMIT = 50
DEFAULT_LIMIT = 5
# People of matching companies: at most this many companies are looked into per rank.
COMPANY_FANOUT = 20
# Smallest query a substring (trigram) branch can serve.
TRIGRAM = 3


@dataclass(frozen=True)
class Hit:
    """One found record, ready to show: what it is, its title, a line under it and where it leads."""

    kind: str
    id: int
    title: str
    subtitle: str
    match: str
    url: str


@dataclass(frozen=True)
class Group:
    kind: str
    label: str
    hits: list[Hit]
    # True when more records matched than are shown.
    more: bool


@dataclass(frozen=True)
class Results:
    q: str
    groups: list[Group] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(g.hits) for g in self.groups)


def query_normalize(q: Any) -> str:
    """The query as it is matched: lower case, single spaces; refused (naming `q`) when empty, too long or NUL."""
    if not isinstance(q, str):
        raise ValidationFailed("q must be text", field="q", value=q)
    if "\x00" in q:
        raise ValidationFailed("q must not contain NUL characters", field="q", value=q.replace("\x00", "\\0"))
    text = " ".join(q.split()).lower()
    if not text:
        raise ValidationFailed(
            "q must not be empty: type part of a name, e-mail, company or domain", field="q", value=q
        )
    if len(text) > MAX_QUERY:
        raise ValidationFailed(
            f"q is {len(text)} characters long; at most {MAX_QUERY}", field="q", value=text[:20] + "…"
        )
    return text


def kinds_parse(kinds: Sequence[str] | str | None) -> tuple[str, ...]:
    """The kinds asked for, in display order (all when none); refused, naming `kind`, when one is unknown."""
    if not kinds:
        return KINDS
    wanted = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in wanted:
        if kind not in KINDS:
            raise ValidationFailed(
                f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="kind", value=kind
            )
    return tuple(k for k in KINDS if k in wanted)


def kinds_visible(*, user: Any, kinds: Sequence[str] = KINDS) -> tuple[str, ...]:
    """The kinds among `kinds` this user may see."""
    return tuple(k for k in kinds if user is not None and user.has_perm(KIND_PERMS[k]))


# ---- the branches: one SQL SELECT (id, sort key) per way of matching ----


@dataclass(frozen=True)
class _Branch:
    kind: str
    rank: int
    sql: str
    params: list[Any]


# A condition on one table's own (unaliased) columns, with its parameters; None where every row is seen.
_Cond = tuple[str, list[Any]] | None


@dataclass(frozen=True)
class _Reach:
    """The rows a user may see, per searched table: SQL conditions from the record-level access rule."""

    person: _Cond = None
    account: _Cond = None
    deal: _Cond = None


EVERY_ROW = _Reach()


def _condition(model: type[models.Model], user: Any) -> _Cond:
    q = access_q(model, user=user)
    if q is None:
        return None
    query = model._default_manager.filter(q).query
    try:
        sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    except EmptyResultSet:  # the user reaches no record of the kind
        return "1 = 0", []
    return sql, list(params)


def _reach(user: Any) -> _Reach:
    """The conditions of what `user` may see (no condition for a user who reaches every record, or for None)."""
    if user is None:
        return EVERY_ROW
    return _Reach(person=_condition(Person, user), account=_condition(Account, user), deal=_condition(Deal, user))


def _where(select: str, where: str, params: list[Any], cond: _Cond, order: str = "") -> tuple[str, list[Any]]:
    """`select WHERE where` narrowed by `cond`, then ordered."""
    if cond is not None:
        where, params = f"({where}) AND ({cond[0]})", [*params, *cond[1]]
    return f"{select} WHERE {where}" + (f" ORDER BY {order}" if order else ""), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(text: str) -> str:
    # An FTS5 phrase: the text in double quotes, a quote inside doubled; the trigram tokenizer matches it as
    # a substring.
    return '"' + text.replace('"', '""') + '"'


class _Words:
    """The trigram matches of one table: `word` (a word of its name starts with q) and `anywhere` (q occurs in
    any indexed column)."""

    def __init__(self, *indexes: indexing.Indexed, word_column: str = "name") -> None:
        self.indexes = indexes
        self.table = indexes[0].table
        self.word_index = next(i for i in indexes if word_column in dict(i.columns))
        self.word_column = word_column

    def _fts(self, fts: str, match: str, cond: _Cond) -> tuple[str, list[Any]]:
        if cond is None:
            return f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s", [match]
        # The user's condition is on the table's columns: join the rows the index found.
        select = f"SELECT {fts}.rowid FROM {fts} JOIN {self.table} ON {self.table}.id = {fts}.rowid"
        return _where(select, f"{fts} MATCH %s", [match], cond)

    def word(self, q: str, cond: _Cond = None) -> tuple[str, list[Any]]:
        """Ids whose name has a word starting with q (q of two characters or more), of the rows `cond` keeps."""
        fts = self.word_index.fts
        if connection.vendor == "sqlite":
            return self._fts(fts, f"{self.word_column} : {_phrase(' ' + q)}", cond)
        expr = indexing.expression(self.word_index, self.word_column)
        return _where(f"SELECT id FROM {self.table}", f"{expr} ILIKE %s", [f"% {_like_escape(q)}%"], cond)

    def anywhere(self, q: str, cond: _Cond = None) -> tuple[str, list[Any]]:
        """Ids with q anywhere in any indexed column (q of three characters or more), of the rows `cond` keeps."""
        if connection.vendor == "sqlite":
            parts = [self._fts(i.fts, _phrase(q), cond) for i in self.indexes]
            return " UNION ALL ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]
        exprs = [indexing.expression(i, c) for i in self.indexes for c, _ in i.columns]
        ors = " OR ".join(f"{expr} ILIKE %s" for expr in exprs)
        return _where(f"SELECT id FROM {self.table}", ors, [f"%{_like_escape(q)}%"] * len(exprs), cond)


PERSON_WORDS = _Words(indexing.PERSON_NAME, indexing.PERSON_EMAIL)
ACCOUNT_WORDS = _Words(indexing.ACCOUNT)
DEAL_WORDS = _Words(indexing.DEAL)
CAMPAIGN_WORDS = _Words(indexing.CAMPAIGN)


def _in_ids(ids_sql: str, n: int) -> str:
    # The inner branch is limited first, so a common trigram never makes the outer query read every match.
    return f"id IN (SELECT * FROM ({ids_sql} LIMIT {int(n)}) AS inner_ids)"


def _account_ids(q: str, hi: str, rank: int, reach: _Reach) -> tuple[str, list[Any]]:
    """Accounts matching at one rank (their ids) that the user may see, for accounts themselves and for the
    people there."""
    select, cond = "SELECT id FROM crm_account", reach.account
    if rank == 0:
        return _where(select, "lower(name) = %s OR domain = %s", [q, q], cond)
    if rank == 1:
        # Two ranges, not one OR: each walks its own index and the UNION ALL stops at the LIMIT.
        names, name_params = _where(select, "lower(name) >= %s AND lower(name) < %s", [q, hi], cond)
        domains, domain_params = _where(select, "domain >= %s AND domain < %s", [q, hi], cond)
        sql, params = f"{names} UNION ALL {domains}", [*name_params, *domain_params]
        if len(q) >= TRIGRAM - 1:
            word_sql, word_params = ACCOUNT_WORDS.word(q, cond)
            sql, params = f"{sql} UNION ALL {word_sql}", [*params, *word_params]
        return sql, params
    return ACCOUNT_WORDS.anywhere(q, cond)


def _ranks(q: str) -> list[int]:
    return [0, 1, 2] if len(q) >= TRIGRAM else [0, 1]


def _branch(kind: str, rank: int, sql_params: tuple[str, list[Any]]) -> _Branch:
    return _Branch(kind, rank, sql_params[0], sql_params[1])


def _person_branches(q: str, hi: str, n: int, rank: int, reach: _Reach) -> list[_Branch]:
    select, cond = "SELECT id, name_key, email_normalized FROM crm_person", reach.person
    out = []
    if rank == 0:
        out.append(_branch("person", 0, _where(select, "name_key = %s OR email_normalized = %s", [q, q], cond)))
    elif rank == 1:
        out.append(
            _branch(
                "person", 1, _where(select, "name_key >= %s AND name_key < %s", [q, hi], cond, "name_key, id")
            )
        )
        out.append(
            _branch(
                "person",
                1,
                _where(
                    select,
                    "email_normalized >= %s AND email_normalized < %s",
                    [q, hi],
                    cond,
                    "email_normalized, id",
                ),
            )
        )
        if len(q) >= TRIGRAM - 1:
            # The condition goes inside, before the inner LIMIT.
            sql, params = PERSON_WORDS.word(q, cond)
            out.append(_branch("person", 1, _where(select, _in_ids(sql, n), params, None)))
    else:
        sql, params = PERSON_WORDS.anywhere(q, cond)
        out.append(_branch("person", 2, _where(select, _in_ids(sql, n), params, None)))
    # People at a company (account name or domain) that matches at this rank.
    out.append(_branch("person", rank, _where(select, f"account_id IN (SELECT id FROM accounts{rank})", [], cond)))
    return out


def _account_branches(q: str, hi: str, n: int, rank: int, reach: _Reach) -> list[_Branch]:
    # accounts{rank} holds only accounts the user may see (`_account_ids`).
    select = "SELECT id, lower(name), domain FROM crm_account"
    return [_branch("account", rank, _where(select, f"id IN (SELECT id FROM accounts{rank})", [], None))]


def _named_branches(
    kind: str, table: str, words: _Words, q: str, hi: str, n: int, rank: int, cond: _Cond
) -> list[_Branch]:
    """Deals and campaigns: matched by name only."""
    select = f"SELECT id, lower(name), '' FROM {table}"
    if rank == 0:
        return [_branch(kind, 0, _where(select, "lower(name) = %s", [q], cond))]
    if rank == 1:
        out = [_branch(kind, 1, _where(select, "lower(name) >= %s AND lower(name) < %s", [q, hi], cond))]
        if len(q) >= TRIGRAM - 1:
            sql, params = words.word(q, cond)
            out.append(_branch(kind, 1, _where(select, _in_ids(sql, n), params, None)))
        return out
    sql, params = words.anywhere(q, cond)
    return [_branch(kind, 2, _where(select, _in_ids(sql, n), params, None))]


def _statement(
    q: str, kinds: Sequence[str], n: int, rank: int, reach: _Reach = EVERY_ROW
) -> tuple[str, list[Any]]:
    """One SELECT (UNION ALL) of every way the kinds can match q at one rank (of the rows the user may see),
    and its parameters."""
    # Every string that starts with q sorts at or after q and before q + U+FFFF: an index range on both
    # databases (PostgreSQL's plain b-tree serves LIKE 'q%' only under the C collation).
    hi = q + "\uffff"
    branches: list[_Branch] = []
    if "person" in kinds:
        branches += _person_branches(q, hi, n, rank, reach)
    if "account" in kinds:
        branches += _account_branches(q, hi, n, rank, reach)
    if "deal" in kinds:
        branches += _named_branches("deal", "crm_deal", DEAL_WORDS, q, hi, n, rank, reach.deal)
    if "campaign" in kinds:
        branches += _named_branches("campaign", "campaigns_campaign", CAMPAIGN_WORDS, q, hi, n, rank, None)
    # UNION ALL streams: each branch stops at its LIMIT, none waits for another's rows to be deduplicated.
    sql = " UNION ALL ".join(
        f"SELECT '{b.kind}', {b.rank}, b{i}.* FROM ({b.sql} LIMIT {int(n)}) AS b{i}"
        for i, b in enumerate(branches)
    )
    params = [p for b in branches for p in b.params]
    if "person" in kinds or "account" in kinds:
        # The matching accounts, read once for the account hits and the people who work there.
        accounts, account_params = _account_ids(q, hi, rank, reach)
        sql = f"WITH accounts{rank}(id) AS (SELECT * FROM ({accounts} LIMIT {COMPANY_FANOUT}) AS a) {sql}"
        params = [*account_params, *params]
    return sql, params


def _candidates(
    q: str, kinds: Sequence[str], n: int, reach: _Reach = EVERY_ROW
) -> dict[str, dict[int, tuple[int, str, str]]]:
    """Per kind, up to n rows per way of matching: id -> (best rank, name key, e-mail or domain).

    One statement per rank, best rank first; a kind that already has n records is not asked again, so a
    query whose exact or prefix matches fill the list never runs the trigram scans of the ranks below.
    """
    best: dict[str, dict[int, tuple[int, str, str]]] = {k: {} for k in kinds}
    for rank in _ranks(q):
        wanted = [k for k in kinds if len(best[k]) < n]
        if not wanted:
            break
        sql, params = _statement(q, wanted, n, rank, reach)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for kind, row_rank, row_id, key, extra in rows:
            best[kind].setdefault(int(row_id), (int(row_rank), key or "", extra or ""))
    return best


def search_plan(
    *, q: str, kinds: Sequence[str] | str | None = None, limit: int = DEFAULT_LIMIT, user: Any = None
) -> list[tuple[str, list[Any]]]:
    """The statements a search (by `user`, when given) may run (one per rank) and their parameters: for EXPLAIN
    in tests and benchmarks."""
    text, wanted = query_normalize(q), kinds_parse(kinds)
    reach = _reach(user)
    return [_statement(text, wanted, limit + 1, rank, reach) for rank in _ranks(text)]


# ---- turning candidates into hits ----


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # a page another part of the product has not built (yet)
        return None


def _search_url(q: str, kind: str) -> str:
    from urllib.parse import urlencode

    return f"{reverse('search:page')}?{urlencode({'q': q, 'kind': kind})}"


def _money(amount: Any, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


def _label(choices: Any, value: str) -> str:
    return str(dict(choices).get(value, value))


# The hits' rows are read as plain values (no model instances): compiling and building models cost more
# than the database's part of a search.


def _person_hits(ranked: dict[int, int]) -> dict[int, Hit]:
    out = {}
    rows = Person.objects.filter(pk__in=list(ranked)).values(
        "id", "first_name", "last_name", "email", "lifecycle_stage", "account__name"
    )
    for p in rows:
        stage = _label(STAGE_CHOICES, p["lifecycle_stage"]) if p["lifecycle_stage"] else ""
        name = f"{p['first_name']} {p['last_name']}".strip()
        subtitle = " · ".join(part for part in (p["email"], p["account__name"] or "", stage) if part)
        title = name or p["email"] or f"Person #{p['id']}"
        url = reverse("crm:person", args=[p["id"]])
        out[p["id"]] = Hit("person", p["id"], title, subtitle, MATCHES[ranked[p["id"]]], url)
    return out


def _account_url(account_id: int, name: str, domain: str | None) -> str:
    # Until accounts have their own page, an account leads to a search of the people who work there.
    return (
        _url("accounts:detail", account_id)
        or _url("crm:account", account_id)
        or _search_url(domain or name, "person")
    )


def _account_hits(ranked: dict[int, int]) -> dict[int, Hit]:
    out = {}
    for a in Account.objects.filter(pk__in=list(ranked)).values(
        "id", "name", "domain", "industry", "country"
    ):
        subtitle = " · ".join(part for part in (a["domain"] or "", a["industry"], a["country"]) if part)
        url = _account_url(a["id"], a["name"], a["domain"])
        out[a["id"]] = Hit("account", a["id"], a["name"], subtitle, MATCHES[ranked[a["id"]]], url)
    return out


def _deal_hits(ranked: dict[int, int]) -> dict[int, Hit]:
    out = {}
    rows = Deal.objects.filter(pk__in=list(ranked)).values(
        "id",
        "name",
        "amount",
        "currency",
        "stage",
        "person_id",
        "account_id",
        "account__name",
        "account__domain",
        "person__first_name",
        "person__last_name",
        "person__email",
    )
    for d in rows:
        person = (
            f"{d['person__first_name'] or ''} {d['person__last_name'] or ''}".strip() or d["person__email"]
        )
        who = d["account__name"] or person or ""
        stage = _label(DealStage.choices, d["stage"])
        subtitle = " · ".join(part for part in (_money(d["amount"], d["currency"]), stage, who) if part)
        url = (
            _url("crm:deal", d["id"])
            or (reverse("crm:person", args=[d["person_id"]]) if d["person_id"] else None)
            or (
                _account_url(d["account_id"], d["account__name"], d["account__domain"])
                if d["account_id"]
                else None
            )
            or _search_url(d["name"], "deal")
        )
        title = d["name"] or f"Deal #{d['id']}"
        out[d["id"]] = Hit("deal", d["id"], title, subtitle, MATCHES[ranked[d["id"]]], url)
    return out


def _campaign_hits(ranked: dict[int, int]) -> dict[int, Hit]:
    out = {}
    for c in Campaign.objects.filter(pk__in=list(ranked)).values("id", "name", "kind", "channel", "status"):
        parts = (
            _label(Campaign.Kind.choices, c["kind"]),
            c["channel"].replace("_", " "),
            _label(Campaign.Status.choices, c["status"]),
        )
        subtitle = " · ".join(part for part in parts if part)
        url = reverse("campaigns:campaign", args=[c["id"]])
        out[c["id"]] = Hit("campaign", c["id"], c["name"], subtitle, MATCHES[ranked[c["id"]]], url)
    return out


_HITS = {"person": _person_hits, "account": _account_hits, "deal": _deal_hits, "campaign": _campaign_hits}


def search(
    *, q: str, user: Any, kinds: Sequence[str] | str | None = None, limit: int = DEFAULT_LIMIT
) -> Results:
    """The best `limit` hits of each kind the user may see (the kinds their role may view, the records the
    record-level access rule lets them see), ranked exact > prefix > substring, then by name."""
    text = query_normalize(q)
    wanted = kinds_parse(kinds)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit", value=limit
        )
    visible = kinds_visible(user=user, kinds=wanted)
    # Best rank per record (ranks are read best first), then its sort key: name, then e-mail or domain, then id.
    best = _candidates(text, visible, limit + 1, _reach(user)) if visible else {}
    groups = []
    for kind in visible:
        order = sorted(best[kind].items(), key=lambda item: (item[1][0], item[1][1] or item[1][2], item[0]))
        shown = {row_id: rank for row_id, (rank, _, _) in order[:limit]}
        hits = _HITS[kind](shown) if shown else {}
        groups.append(
            Group(
                kind=kind,
                label=KIND_LABELS[kind],
                # A record deleted between the two reads is left out rather than shown broken.
                hits=[hits[row_id] for row_id in shown if row_id in hits],
                more=len(order) > limit,
            )
        )
    return Results(q=text, groups=groups)
