"""Fast bulk writes for the owners' bulk services: plain parameterised statements instead of Django's ORM.

Updates: one parameterised UPDATE run with executemany, instead of Django's CASE WHEN per row. Django's
`bulk_update` builds a CASE expression per field listing every row, which costs milliseconds per hundred rows
in Python; an executemany of the same short statement costs a fraction of that on both SQLite and PostgreSQL
(psycopg pipelines it). Inserts: model objects (`rows_insert`) or rows given as tuples (`rows_copy`,
`rows_insert_returning`), see each.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection, models

from tandem.core.dataversion import data_version_bump_for

T = TypeVar("T")
Progress = Callable[[str, int, int], None]
# Rows per INSERT round of `rows_copy`: large enough to be quick, small enough to report progress as it goes.
WRITE_CHUNK = 5000


def silent(label: str, done: int, total: int) -> None:
    """A progress callback that reports nothing (the default)."""
    return None


# Keys per IN (...) or rows per statement: well below SQLite's 32766 bound variables and PostgreSQL's 65535,
# and few round trips for 40,000 keys.
CHUNK = 5000


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """The items in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_update(*, objects: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write the given fields of each object to its row (by primary key); returns the number of rows."""
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    concrete: list[Any] = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    pk: Any = meta.pk
    sets = ", ".join(f"{quote(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(pk.column)} = %s"
    params: list[list[Any]] = []
    for obj in objects:
        row = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete]
        row.append(obj.pk)
        params.append(row)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(params) > 1:
            # One statement over arrays: as few round trips as the pipeline, and far less to plan and send.
            cursor.execute(_unnest_update_sql(meta.db_table, [*concrete, pk]), _columns_of(params))
        else:
            cursor.executemany(sql, params)
    # Reports cached on the data version see the change once it commits (tandem.core.dataversion).
    data_version_bump_for(meta.label_lower)
    return len(params)


def rows_insert(*, objects: Sequence[models.Model], fields: Sequence[str] | None = None) -> list[int]:
    """Insert the objects in one multi-row INSERT ... RETURNING id and set their primary keys.

    The same rows as `bulk_create`, for hot paths: Django spends most of a bulk insert compiling it, which a
    plain parameterised statement skips. Auto fields (`auto_now_add` / `auto_now`) are not filled in here:
    callers set every column they insert. Row order of RETURNING follows VALUES, as Django's own bulk_create
    relies on for both SQLite and PostgreSQL.
    """
    if not objects:
        return []
    model = type(objects[0])
    meta = model._meta
    pk: Any = meta.pk
    names = fields or [f.name for f in meta.concrete_fields if f is not pk]
    concrete: list[Any] = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in concrete)
    row_marks = "(" + ", ".join(["%s"] * len(concrete)) + ")"
    ids: list[int] = []
    # SQLite allows 32,766 parameters a statement; stay well below on both databases.
    per_statement = max(1, 10_000 // len(concrete))
    unnest = connection.vendor == "postgresql" and len(objects) > 1
    if unnest:
        per_statement = CHUNK
    with connection.cursor() as cursor:
        for start in range(0, len(objects), per_statement):
            chunk = objects[start : start + per_statement]
            rows = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete] for obj in chunk]
            if unnest:
                cursor.execute(
                    f"INSERT INTO {quote(meta.db_table)} ({columns}) {_unnest_select(concrete)} "
                    f"RETURNING {quote(pk.column)}",
                    _columns_of(rows),
                )
            else:
                cursor.execute(
                    f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row_marks] * len(chunk))} "
                    f"RETURNING {quote(pk.column)}",
                    [value for row in rows for value in row],
                )
            ids.extend(int(row[0]) for row in cursor.fetchall())
    for obj, new_id in zip(objects, ids, strict=True):
        obj.pk = new_id
        obj._state.adding = False
        obj._state.db = "default"
    data_version_bump_for(meta.label_lower)
    return ids


# ---------------------------------------------------------------------------------------------------------
# Inserting rows given as tuples.


def rows_copy(
    *,
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    now: dt.datetime,
    progress: Progress = silent,
    label: str = "",
) -> None:
    """INSERT new rows given as tuples of `columns` (attnames); other fields take their default."""
    # bulk_create builds model objects and compiles its SQL value by value (about 5 µs a value, 12 s for a
    # 160,000-row bundle), and SQLite caps its statements at 999 values. On SQLite plain multi-row INSERTs
    # bound directly take a tenth of that. PostgreSQL runs such a statement once per row, a round
    # trip each (29 s for the bundle); COPY streams the rows instead (about 9 s).
    names, fixed, adapters = _layout(model, columns, now)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    width = len(columns) + len(fixed)
    marks = "(" + ", ".join(["%s"] * width) + ")"
    # Multi-row statements, not executemany: as fast without triggers, and where a table has triggers that
    # write an FTS5 index (search), FTS5 flushes its pending rows at every statement, so one statement
    # per row made each row a segment of its own (6x the cost of the insert).
    per_statement = max(1, 10_000 // width)
    copy_in = f"COPY {table} ({names}) FROM STDIN"
    with connection.cursor() as cursor:
        for done, chunk in enumerate(chunked(rows, WRITE_CHUNK), 1):
            batch = _values(chunk, fixed, adapters)
            if connection.vendor == "postgresql":
                with cursor.copy(copy_in) as copy:
                    for values in batch:
                        copy.write_row(values)
            else:
                for part in chunked(batch, per_statement):
                    cursor.execute(
                        f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(part))}",
                        [value for values in part for value in values],
                    )
            progress(label, min(done * WRITE_CHUNK, len(rows)), len(rows))
    rows_loaded(model=model, rows=len(rows))
    data_version_bump_for(model._meta.label_lower)


def rows_insert_returning(
    *, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], now: dt.datetime
) -> list[int]:
    """INSERT new rows as `rows_copy` does, in multi-row statements returning their keys in row order."""
    # Both databases return RETURNING rows in VALUES order, as Django's own bulk_create relies on.
    if not rows:
        return []
    names, fixed, adapters = _layout(model, columns, now)
    quote = connection.ops.quote_name
    pk: Any = model._meta.pk
    marks = "(" + ", ".join(["%s"] * (len(columns) + len(fixed))) + ")"
    # SQLite allows 32,766 parameters a statement; stay well below on both databases.
    per_statement = max(1, 10_000 // (len(columns) + len(fixed)))
    ids: list[int] = []
    if connection.vendor == "postgresql" and len(rows) > 1:
        # One array per column: a statement of a hundred rows and twenty columns has 2,000 placeholders, which
        # the driver parses and the server plans anew each time; UNNEST has twenty, the same text every time.
        fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
        given = [fields[c] for c in columns]
        select = _unnest_select([*given, *(f for name, f in fields.items() if name not in columns)])
        with connection.cursor() as cursor:
            for chunk in chunked(rows, CHUNK):
                cursor.execute(
                    f"INSERT INTO {quote(model._meta.db_table)} ({names}) {select} RETURNING {quote(pk.column)}",
                    _columns_of(_values(chunk, fixed, adapters)),
                )
                ids.extend(int(row[0]) for row in cursor.fetchall())
        rows_loaded(model=model, rows=len(rows))
        data_version_bump_for(model._meta.label_lower)
        return ids
    with connection.cursor() as cursor:
        for chunk in chunked(rows, per_statement):
            params = [value for values in _values(chunk, fixed, adapters) for value in values]
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {', '.join([marks] * len(chunk))} "
                f"RETURNING {quote(pk.column)}",
                params,
            )
            ids.extend(int(row[0]) for row in cursor.fetchall())
    rows_loaded(model=model, rows=len(rows))
    data_version_bump_for(model._meta.label_lower)
    return ids


def _array_type(field: Any) -> str:
    # Without a length or precision (varchar[], not varchar(50)[]), as Django's own UNNEST inserts do.
    return str(field.db_type(connection)).split("(")[0]


def _unnest_select(fields: Sequence[Any]) -> str:
    """PostgreSQL: `SELECT * FROM UNNEST(...)` of one array parameter per field, rows in array order."""
    return "SELECT * FROM UNNEST(" + ", ".join(f"(%s)::{_array_type(f)}[]" for f in fields) + ")"


def _unnest_update_sql(table: str, fields: Sequence[Any]) -> str:
    """PostgreSQL: UPDATE the first fields of the rows whose key (the last field) is given, from arrays."""
    quote = connection.ops.quote_name
    *values, key = fields
    names = [f"c{i}" for i in range(len(fields))]
    sets = ", ".join(f"{quote(f.column)} = v.{n}" for f, n in zip(values, names, strict=False))
    return (
        f"UPDATE {quote(table)} AS t SET {sets} FROM ({_unnest_select(fields)}) AS v({', '.join(names)}) "
        f"WHERE t.{quote(key.column)} = v.{names[-1]}"
    )


def _columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column (the UNNEST statements' parameters)."""
    return [list(column) for column in zip(*rows, strict=True)]


def _layout(
    model: type[models.Model], columns: Sequence[str], now: dt.datetime
) -> tuple[str, list[Any], list[tuple[int, Callable[[Any], Any]]]]:
    """The quoted column list, the values of the fields not given, and the adapters of the given ones."""
    fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
    rest = [f for name, f in fields.items() if name not in columns]
    stamp: Any = now
    if (for_datetime := _adapter(models.DateTimeField())) is not None:
        stamp = for_datetime(stamp)
    # auto_now(_add) fields are set by save() and bulk_create; here, with the batch's own time.
    fixed = [
        stamp
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else _prepared(f, f.get_default())
        for f in rest
    ]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column or f.attname) for f in [*(fields[c] for c in columns), *rest])
    adapters = [(i, a) for i, c in enumerate(columns) if (a := _adapter(fields[c])) is not None]
    return names, fixed, adapters


def _values(
    rows: Sequence[Sequence[Any]], fixed: list[Any], adapters: list[tuple[int, Callable[[Any], Any]]]
) -> list[list[Any]]:
    out = []
    for row in rows:
        values = [*row, *fixed]
        for i, adapt in adapters:
            values[i] = adapt(values[i])
        out.append(values)
    return out


def _prepared(field: models.Field[Any, Any], value: Any) -> Any:
    adapt = _adapter(field)
    return adapt(value) if adapt is not None else value


def _adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a field's Python value is handed to the driver, where the driver cannot take it as it is."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        # Most rows have no custom fields: adapt the empty dict once.
        empty = connection.ops.adapt_json_value({}, encoder)
        return lambda value: empty if value == {} else connection.ops.adapt_json_value(value, encoder)
    if isinstance(field, models.DateTimeField) and connection.vendor == "sqlite":
        # What Django's SQLite backend stores: naive text in the connection's time zone (UTC).
        zone = connection.timezone
        return lambda value: (
            None if value is None else value.astimezone(zone).replace(tzinfo=None).isoformat(" ")
        )
    return None


# ---------------------------------------------------------------------------------------------------------
# Restoring rows with their keys (a backup).


def rows_restore(
    *,
    owner: str,
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    replace: bool = False,
) -> int:
    """INSERT rows given as tuples of `columns` (attnames, the primary key among them) exactly as given; the
    owners' `*_restore_bulk` services call it for a backup, then `sequences_reset`. Returns the row count.
    `owner` is the calling app's label: an app restores only its own tables. `replace` deletes the table's
    rows first (what migrations install, such as the default pipeline, gives way to the backup's)."""
    if model._meta.app_label != owner:
        raise ValueError(f"{model._meta.label} is not a table of {owner}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    data_version_bump_for(model._meta.label_lower)
    if replace:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
    if not rows:
        return 0
    fields = {f.attname: f for f in model._meta.concrete_fields}
    names = ", ".join(quote(fields[c].column or c) for c in columns)
    adapters = [(i, a) for i, c in enumerate(columns) if (a := _adapter(fields[c])) is not None]
    # Decimals and dates as Django hands them to each driver (the adapters above cover JSON and date-times).
    prepared = [
        (i, fields[c])
        for i, c in enumerate(columns)
        if isinstance(fields[c], models.DecimalField | models.DateField)
        and not isinstance(fields[c], models.DateTimeField)
    ]
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, 10_000 // len(columns))

    def adapted(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for i, adapt in adapters:
            if values[i] is not None:
                values[i] = adapt(values[i])
        for i, f in prepared:
            values[i] = f.get_db_prep_save(values[i], connection)
        return values

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the rows (a multi-row INSERT costs PostgreSQL a round of planning per statement).
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(adapted(row))
            rows_loaded(model=model, rows=len(rows))
            return len(rows)
        for part in chunked(rows, per_statement):
            params = [value for row in part for value in adapted(row)]
            cursor.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(part))}", params)
    return len(rows)


def sequences_reset(*, models_: Sequence[type[models.Model]]) -> None:
    """Move PostgreSQL's id sequences past the ids restored with `rows_restore` (SQLite needs nothing)."""
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# A load of fewer rows than this leaves statistics to autovacuum: ANALYZE samples up to 30,000 rows a table,
# more work than a small import itself.
ANALYZE_MIN_ROWS = 1000
# Per thread (each thread has its own connection and transaction): table -> rows loaded since the last ANALYZE.
_loaded = threading.local()


def _pending() -> dict[str, int]:
    pending: dict[str, int] | None = getattr(_loaded, "tables", None)
    if pending is None:
        pending = _loaded.tables = {}
    return pending


def _analyze_on_commit() -> None:
    from django.db import transaction

    def analyze() -> None:
        pending = _pending()
        tables = sorted(table for table, rows in pending.items() if rows >= ANALYZE_MIN_ROWS)
        pending.clear()
        if tables:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {', '.join(tables)}")

    transaction.on_commit(analyze)


def rows_loaded(*, model: type[models.Model], rows: int) -> None:
    """Count rows a bulk writer loaded: once its transaction commits, tables that took ANALYZE_MIN_ROWS or more
    get their statistics refreshed (PostgreSQL only; see `tables_analyze`)."""
    if connection.vendor != "postgresql" or rows <= 0:
        return
    pending = _pending()
    table = connection.ops.quote_name(model._meta.db_table)
    pending[table] = pending.get(table, 0) + rows
    _analyze_on_commit()


def tables_analyze(*, models_: Sequence[type[models.Model]]) -> None:
    """Refresh PostgreSQL's planner statistics of the models' tables once the bulk load that filled them commits.

    Autovacuum analyzes a table only after a share of it changed and a minute or so later; until then the planner
    guesses from the old statistics (after a bundle import into empty tables: none) and picked a sequential plan
    that made the people list take a second. Run after the commit (`on_commit`; at once outside a transaction) so
    ANALYZE samples the committed rows and holds no lock inside the load's transaction; writers called chunk by
    chunk in one transaction ask many times, and the first callback analyzes every table once.
    SQLite: nothing. Its planner has no statistics unless ANALYZE ever ran (sqlite_stat1), and our indexed
    queries were tuned without them; creating them after a load would change plans everywhere at once.
    """
    if connection.vendor != "postgresql" or not models_:
        return
    pending = _pending()
    for model in models_:
        table = connection.ops.quote_name(model._meta.db_table)
        pending[table] = max(pending.get(table, 0), ANALYZE_MIN_ROWS)
    _analyze_on_commit()
