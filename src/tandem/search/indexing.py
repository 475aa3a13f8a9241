"""The search indexes, kept by the database itself so that no writer (a service, a bulk loader, raw SQL) can
forget them.

SQLite: one contentless FTS5 table per searched table, with the trigram tokenizer, filled by triggers on
insert, update and delete. PostgreSQL: pg_trgm GIN indexes on the same expressions, which PostgreSQL keeps
like any other index. Both databases also get a b-tree index on `lower(name)` of accounts and deals, for
exact and prefix matches (people already have `name_key` and `email_normalized`).

Names are indexed with a space in front (`' ' || first_name || ' ' || last_name`), so "a word of the name
starts with q" is the substring `' ' || q` on both databases; it is also how a 2-letter query can use a
trigram index (" sm" is three characters).

Caution, SQLite: when a later migration makes Django rebuild one of these tables (most AlterField and some
AddField operations copy the table and drop the old one), the triggers go with the old table, while the FTS
rows stay right. `tests/search/test_index.py` fails then; add a search migration after that one which runs
`install` again (it creates only what is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Indexed:
    """One searched table: its FTS5 table (SQLite) and the expression indexed for each FTS column."""

    table: str
    fts: str
    # FTS column -> SQL expression over the table's columns (written once, used by triggers and fills).
    columns: tuple[tuple[str, str], ...]


# A person's name and e-mail have a table each: a word-start query reads only names' trigrams, and the
# e-mails' many common trigrams ("com", "mai") never slow a name search down.
PERSON_NAME = Indexed(
    table="crm_person",
    fts="search_person_name_fts",
    columns=(("name", "' ' || {t}first_name || ' ' || {t}last_name"),),
)
PERSON_EMAIL = Indexed(table="crm_person", fts="search_person_email_fts", columns=(("email", "{t}email"),))
ACCOUNT = Indexed(
    table="crm_account",
    fts="search_account_fts",
    columns=(("name", "' ' || {t}name"), ("domain", "coalesce({t}domain, '')")),
)
DEAL = Indexed(table="crm_deal", fts="search_deal_fts", columns=(("name", "' ' || {t}name"),))
CAMPAIGN = Indexed(
    table="campaigns_campaign", fts="search_campaign_fts", columns=(("name", "' ' || {t}name"),)
)
INDEXED = (PERSON_NAME, PERSON_EMAIL, ACCOUNT, DEAL, CAMPAIGN)

# b-tree indexes for exact and prefix matches on names, on both databases.
LOWER_NAME_INDEXES = (
    ("search_account_lower_name", "crm_account"),
    ("search_deal_lower_name", "crm_deal"),
)


def expression(indexed: Indexed, column: str, alias: str = "") -> str:
    """The SQL expression behind one indexed column, its table columns prefixed with `alias.` if given."""
    sql = dict(indexed.columns)[column]
    return sql.format(t=f"{alias}." if alias else "")


def _source_columns(indexed: Indexed) -> list[str]:
    # The table columns the expressions read: an update of any other column leaves the index alone.
    import re

    names: list[str] = []
    for _, sql in indexed.columns:
        for name in re.findall(r"\{t\}(\w+)", sql):
            if name not in names:
                names.append(name)
    return names


# ---- SQLite ----


def sqlite_statements(indexed: Indexed) -> list[str]:
    """CREATE statements (idempotent) for one table's FTS5 table and its three triggers."""
    names = [c for c, _ in indexed.columns]
    cols = ", ".join(names)
    new = ", ".join(expression(indexed, c, "new") for c in names)
    old = ", ".join(expression(indexed, c, "old") for c in names)
    source = _source_columns(indexed)
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in source)
    fts, table = indexed.fts, indexed.table
    # Contentless (content=''): the table keeps only the trigrams and rowids, not a copy of the text. Its rows
    # are deleted with the 'delete' command and the values they were indexed with, which the triggers rebuild
    # from old.*; columnsize stays on so the table can be counted and checked.
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({cols}, content='', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {', '.join(source)} ON {table} "
        f"WHEN {changed} BEGIN "
        f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.id, {new}); END",
    ]


SQLITE_TRIGGERS = tuple(f"{i.fts}_{suffix}" for i in INDEXED for suffix in ("ai", "ad", "au"))


def sqlite_fill(indexed: Indexed) -> list[str]:
    """Statements that empty one FTS table and index every row of its table again."""
    names = [c for c, _ in indexed.columns]
    values = ", ".join(expression(indexed, c) for c in names)
    return [
        f"INSERT INTO {indexed.fts} ({indexed.fts}) VALUES ('delete-all')",
        f"INSERT INTO {indexed.fts} (rowid, {', '.join(names)}) SELECT id, {values} FROM {indexed.table}",
    ]


# ---- PostgreSQL ----


def postgres_gin_indexes() -> list[tuple[str, str, str]]:
    """(index name, table, expression) of every trigram GIN index."""
    out = []
    for indexed in INDEXED:
        for column, _ in indexed.columns:
            out.append((f"search_{indexed.table}_{column}_trgm", indexed.table, expression(indexed, column)))
    return out


def postgres_statements() -> list[str]:
    """CREATE statements (idempotent): the pg_trgm extension and the GIN indexes."""
    # CREATE EXTENSION needs a superuser (or, from PostgreSQL 13, a database owner for this trusted extension):
    # production installs create it once beforehand (docs/search.md).
    out = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]
    for name, table, expr in postgres_gin_indexes():
        out.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expr}) gin_trgm_ops)")
    return out


# ---- both ----


def lower_name_statements() -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS {name} ON {table} (lower(name))" for name, table in LOWER_NAME_INDEXES
    ]


def install(connection: Any) -> None:
    """Create whatever of the search indexes (and, on SQLite, triggers) is missing; fill new FTS tables."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for indexed in INDEXED:
                cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [indexed.fts])
                new_table = cursor.fetchone() is None
                for sql in sqlite_statements(indexed):
                    cursor.execute(sql)
                if new_table:
                    for sql in sqlite_fill(indexed):
                        cursor.execute(sql)
        elif connection.vendor == "postgresql":
            for sql in postgres_statements():
                cursor.execute(sql)
        else:
            return
        for sql in lower_name_statements():
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    """Drop every search index, FTS table and trigger (the migration's reverse)."""
    with connection.cursor() as cursor:
        for name, _ in LOWER_NAME_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        if connection.vendor == "sqlite":
            for trigger in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            for indexed in INDEXED:
                cursor.execute(f"DROP TABLE IF EXISTS {indexed.fts}")
        elif connection.vendor == "postgresql":
            for name, _, _ in postgres_gin_indexes():
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


def rebuild(connection: Any) -> None:
    """Install what is missing and, on SQLite, index every row again (PostgreSQL's indexes need no refill)."""
    install(connection)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for indexed in INDEXED:
                for sql in sqlite_fill(indexed):
                    cursor.execute(sql)


def missing(connection: Any) -> list[str]:
    """Names of the search indexes, tables and triggers this database lacks (empty when all is in place)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index')")
            present = {row[0] for row in cursor.fetchall()}
            wanted = [*(i.fts for i in INDEXED), *SQLITE_TRIGGERS, *(n for n, _ in LOWER_NAME_INDEXES)]
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", ["search\\_%"])
            present = {row[0] for row in cursor.fetchall()}
            wanted = [*(n for n, _, _ in postgres_gin_indexes()), *(n for n, _ in LOWER_NAME_INDEXES)]
        else:
            return []
    return [name for name in wanted if name not in present]
