"""Connecting to the warehouse, migrating it, and moving frames in and out exactly."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import (Date, DateTime, Engine, String, Table, TypeDecorator, bindparam, create_engine, event, select,
                        type_coerce)
from sqlalchemy.engine import Connection

from warehouse import settlement
from warehouse.models import TABLES

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get foreign-key-free WAL mode and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the warehouse schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


# --------------------------------------------------------------------------- hashing


def _canonical(value) -> object:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        raise TypeError("floats are not allowed in warehouse records; use Decimal or minor units")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _canonical(value.item())
    return value


_AS_IS = frozenset({str, int, bool, type(None)})  # values _canonical returns unchanged (the common case, fast)
# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; one shared encoder
# writes the very same text (so the same hashes) at a fraction of the cost
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def content_hash(record: dict, columns: Sequence[str]) -> str:
    """A stable hash of a record's content, used to tell updates from unchanged reloads."""
    values = [record.get(c) for c in columns]
    payload = _encode_json([v if type(v) in _AS_IS else _canonical(v) for v in values])
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def _json_fragments(values: list) -> list[str]:
    """One column's values as the JSON text :func:`content_hash` writes for them (``json.dumps``
    with ``ensure_ascii=False``: same string escapes, ``null``/``true``/``false``, integers as is)."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return list(map(json.encoder.encode_basestring, values))
    if kinds <= {int}:
        return list(map(int.__repr__, values))
    if kinds <= {type(None)}:
        return ["null"] * len(values)
    if kinds <= {Decimal, type(None)}:  # canonical decimals are digits, sign and point: nothing to escape
        return ['"' + format(v.normalize(), "f") + '"' if v is not None else "null" for v in values]
    if kinds <= {datetime, type(None)}:  # ISO text: digits, "-", ":", "T", ".": nothing to escape either
        return ['"' + v.isoformat() + '"' if v is not None else "null" for v in values]
    string, atom = json.encoder.encode_basestring, _json_atom
    return [string(v) if type(v) is str else atom(v) for v in values]


def _json_atom(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return _encode_json(value if type(value) in _AS_IS else _canonical(value))


def column_hashes(columns: Sequence[list]) -> list[str]:
    """:func:`content_hash` of every row of a table given column-wise: the same hashes, with the
    values turned into JSON column by column and each row's text only joined and hashed."""
    fragments = [_json_fragments(values) for values in columns]
    sha1 = hashlib.sha1
    return [sha1(("[" + ", ".join(row) + "]").encode("utf-8")).hexdigest() for row in zip(*fragments)]


# --------------------------------------------------------------------------- upsert

@dataclass(frozen=True)
class WriteHook:
    """What :func:`upsert_frame` does for one table beyond writing the frame's own columns.

    ``derived`` columns are computed from other rows, never read from a frame: ``fill`` gives
    their values column-wise before the write (None where only ``after`` can tell), and they are
    not content (left out of ``content_hash``: an unchanged reload stays unchanged). ``before``
    sees the keys of the rows about to be updated, ``after`` the rows written (positions in the
    frame) and what ``before`` returned. ``copies``: see :func:`insert_rows`.
    """

    derived: tuple[str, ...] = ()
    fill: Callable[[dict], dict] | None = None
    before: Callable[[Connection, list], object] | None = None
    after: Callable[[Connection, dict, list, list, object], None] | None = None
    copies: dict[str, str] | None = None


NO_HOOK = WriteHook()
WRITE_HOOKS: dict[str, WriteHook] = {  # orders.settled_at (warehouse/settlement.py)
    "orders": WriteHook(derived=("settled_at",), fill=settlement.fill_orders, after=settlement.after_orders,
                        copies={"settled_at": "ordered_at"}),  # prepaid: its ordered_at, processed once
    "collections": WriteHook(before=settlement.orders_of_changed_collections, after=settlement.after_collections),
}
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {t: h.derived for t, h in WRITE_HOOKS.items() if h.derived}


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def __add__(self, other: "UpsertResult") -> "UpsertResult":
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


def _plain(val):
    if val is None or val is pd.NaT or (isinstance(val, float) and math.isnan(val)):
        return None
    if isinstance(val, pd.Timestamp):
        return val.to_pydatetime()
    if hasattr(val, "item") and not isinstance(val, (Decimal, str)):
        return val.item()
    return val


_PLAIN = frozenset({str, int, bool, type(None), Decimal, datetime, date})  # already what the drivers take


def _column_values(series: pd.Series) -> list:
    """One column as plain Python values (see :func:`frame_records`), converted column-wise where the dtype allows."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return series.tolist()  # Python ints / bools, never missing
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        # naive datetime64: microsecond datetimes in one numpy call (NaT -> None), as Timestamp.to_pydatetime gives
        return series.to_numpy().astype("datetime64[us]").tolist()
    values = series.tolist()
    if set(map(type, values)) <= _PLAIN:  # checked in C: nothing to convert (frames built from Python values)
        return values
    return [val if type(val) in _PLAIN else _plain(val) for val in values]


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Frame rows as plain Python dicts: NaN/NaT become None, numpy scalars become Python."""
    cols = list(frame.columns)
    if not cols:
        return [{} for _ in range(len(frame))]
    columns = [_column_values(frame.iloc[:, i]) for i in range(len(cols))]
    return [dict(zip(cols, row)) for row in zip(*columns)]


def upsert_frame(conn: Connection, table_name: str, frame: pd.DataFrame, *, new_keys: list | None = None) -> UpsertResult:
    """Insert new rows, update changed rows, leave identical rows alone.

    Rows are matched on the table's primary key and compared on ``content_hash``
    (computed here over every non-key column when the frame lacks it). Works the
    same on SQLite and PostgreSQL. The work is column-wise: values are converted and
    hashed per column, and new rows go in through the driver in one bulk statement
    (:func:`insert_rows`), which is most of a first load. ``new_keys``, when given, receives
    the keys of the rows inserted.
    """
    table: Table = TABLES[table_name]
    if frame.empty:
        return UpsertResult()
    hook = WRITE_HOOKS.get(table_name, NO_HOOK)
    key_cols = [c.name for c in table.primary_key.columns]
    value_cols = [c.name for c in table.columns
                  if c.name not in key_cols and c.name != "content_hash" and c.name not in hook.derived]
    missing = [c for c in key_cols if c not in frame.columns]
    if missing:
        raise KeyError(f"{table_name}: frame lacks key columns {missing}")
    if frame.columns.is_unique:  # frame[name] is much cheaper than frame.iloc[:, i]
        columns = {c: _column_values(frame[c]) for c in frame.columns if c in table.columns}
    else:
        columns = {frame.columns[i]: _column_values(frame.iloc[:, i]) for i, c in enumerate(frame.columns) if c in table.columns}
    blank = [None] * len(frame)
    for c in value_cols:
        columns.setdefault(c, blank)
    columns["content_hash"] = column_hashes([columns[c] for c in value_cols])
    if hook.fill:
        columns.update(hook.fill(columns))

    keys = list(zip(*(columns[c] for c in key_cols)))  # plain values already (_column_values)
    existing = _existing_hashes(conn, table, key_cols, keys)
    hashes = columns["content_hash"]
    new, changed, unchanged = [], [], 0
    for i, key in enumerate(keys):
        old = existing.get(key)
        if old is None:
            new.append(i)
        elif old != hashes[i]:
            changed.append(i)
        else:
            unchanged += 1
    written = key_cols + value_cols + ["content_hash"] + list(hook.derived)
    if new_keys is not None:
        new_keys += [keys[i] for i in new]
    before = hook.before(conn, [keys[i] for i in changed]) if hook.before and changed else None
    if new:
        insert_rows(conn, table, written, [_take(columns[c], new, len(keys)) for c in written], copies=hook.copies)
    if changed:
        stmt = (
            table.update()
            .where(*[table.c[c] == bindparam(f"k_{c}") for c in key_cols])
            .values({c: bindparam(c) for c in written if c not in key_cols})
        )
        params = [{**{f"k_{c}": columns[c][i] for c in key_cols}, **{c: columns[c][i] for c in written if c not in key_cols}}
                  for i in changed]
        conn.execute(stmt, params)
    if hook.after:
        hook.after(conn, columns, keys, new + changed, before or [])
    return UpsertResult(len(new), len(changed), unchanged)


def _take(values: list, indexes: list[int], total: int) -> list:
    return values if len(indexes) == total else [values[i] for i in indexes]


def insert_rows(conn: Connection, table: Table, columns: list[str], values: list[list], *,
                copies: dict[str, str] | None = None) -> None:
    """INSERT rows given column-wise, straight through the DBAPI cursor, in ``conn``'s transaction.

    SQLAlchemy's ``execute(insert, [dict, ...])`` processes every parameter of every row
    in Python; here each column goes through the column type's own bind processor once
    (so SQLite gets exactly the text SQLAlchemy would write: ExactDecimal, DateTime), then
    the rows go to ``executemany`` (SQLite) or ``COPY ... FROM STDIN`` (PostgreSQL).
    ``copies`` names columns whose values are mostly the very objects of an earlier column of
    the same type (``settled_at`` of prepaid orders is their ``ordered_at``): those rows take
    that column's processed value instead of being processed again.
    """
    dialect = conn.dialect
    processed = []
    written = dict(zip(columns, values))
    for name, column in zip(columns, values):
        process = _bind_processor(table.c[name].type, dialect)
        copied = (copies or {}).get(name)
        if process is not None and copied in written and columns.index(copied) < len(processed):
            raw, done, null = written[copied], processed[columns.index(copied)], process(None)
            processed.append([d if v is r else null if v is None else process(v) for v, r, d in zip(column, raw, done)])
        elif process is None:
            processed.append(column)
        elif process(None) is None:  # NULL stays NULL: only the values are processed
            processed.append([None if v is None else process(v) for v in column])
        else:
            processed.append([process(v) for v in column])
    rows = list(zip(*processed))
    if not rows:
        return
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = dialect.identifier_preparer.format_table(table)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if dialect.name == "postgresql" and hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marker = "?" if dialect.paramstyle == "qmark" else "%s"
            cursor.executemany(f"INSERT INTO {target} ({names}) VALUES ({', '.join([marker] * len(columns))})", rows)
    finally:
        cursor.close()


def _existing_hashes(conn: Connection, table: Table, key_cols: list[str], keys: list[tuple]) -> dict[tuple, str]:
    """content_hash of the stored rows whose key is in ``keys``.

    Queries ``first IN (...) AND second IN (...)`` over the distinct values of the first
    two key columns (a superset, filtered exactly here): a multi-column ``(a, b, c) IN``
    list is slow on PostgreSQL, and this keeps the number of queries small.
    """
    chunk = 500
    wanted = {_normal_key(k) for k in keys} if any(type(v) is pd.Timestamp for k in keys[:1] for v in k) else set(keys)
    firsts = sorted({k[0] for k in keys}, key=str)
    seconds = sorted({k[1] for k in keys}, key=str) if len(key_cols) > 1 else [None]
    found: dict[tuple, str] = {}
    for i in range(0, len(firsts), chunk):
        for j in range(0, len(seconds), chunk):
            where = {key_cols[0]: firsts[i : i + chunk]} | ({key_cols[1]: seconds[j : j + chunk]} if len(key_cols) > 1 else {})
            for row in select_in(conn, table, key_cols + ["content_hash"], where):
                key = row[:-1]  # plain values, as the keys are (the column types' result processing)
                if key in wanted:
                    found[key] = row[-1]
    return found


def select_in(conn: Connection, table: Table, columns: list[str], where_in: dict[str, list],
              where_not: dict[str, object] | None = None) -> list[tuple]:
    """``SELECT columns FROM table WHERE a IN (...) AND b IN (...) [AND c <> value]``, straight through
    the DBAPI cursor, in ``conn``'s transaction.

    SQLAlchemy expands and processes a 500-value IN list on every execution, which costs more than
    the query; here the values go through each column type's own bind processor (and the rows
    through its result processor), as SQLAlchemy would, and the statement is plain text. Keep
    the lists to a few hundred values (SQLite's variable limit).
    """
    dialect = conn.dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    params: list = []
    where: list[str] = []
    for name, values in where_in.items():
        process = _bind_processor(table.c[name].type, dialect)
        params += values if process is None else [process(v) for v in values]
        where.append(f"{quote(name)} IN ({', '.join([marker] * len(values))})")
    for name, value in (where_not or {}).items():
        process = _bind_processor(table.c[name].type, dialect)
        params.append(value if process is None else process(value))
        where.append(f"{quote(name)} <> {marker}")
    sql = (f"SELECT {', '.join(quote(c) for c in columns)} FROM {dialect.identifier_preparer.format_table(table)}"
           f" WHERE {' AND '.join(where)}")
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    finally:
        cursor.close()
    results = [table.c[c].type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    if not any(results):
        return [tuple(row) for row in fetched]
    processors = [p or _same for p in results]
    return [tuple(p(v) for p, v in zip(processors, row)) for row in fetched]


def _same(value):
    return value


def _bind_processor(type_, dialect):
    """What SQLAlchemy applies to a parameter of ``type_`` on ``dialect`` (None: nothing), through
    its public API (the dialect's own implementation of the type, TypeDecorators included)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _normal_key(key: tuple) -> tuple:
    return tuple(k.to_pydatetime() if isinstance(k, pd.Timestamp) else k for k in key)


# --------------------------------------------------------------------------- reading


def read_table(
    conn: Connection | Engine,
    table_name: str,
    where: Iterable = (),
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A table as a DataFrame, through SQLAlchemy's types.

    Money (``*_minor``) comes back as int64 (nullable ``Int64`` where NULLs occur),
    exact decimals as ``Decimal`` objects, timestamps as ``datetime64[ns]``.
    Never ``pd.read_sql`` on raw SQL: it would turn NUMERIC into float.
    """
    table: Table = TABLES[table_name]
    cols = [table.c[c] for c in (columns or [c.name for c in table.columns])]
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_table(c, table_name, where, columns)
    # On SQLite the values come as stored (text) and are converted once per column, not one by
    # one by SQLAlchemy: timestamps parsed by pandas, exact decimals once per distinct text
    # (quantities and prices repeat): a fifth to a third less time for a window of orders and lines.
    raw = conn.dialect.name == "sqlite"
    timed = {c.name for c in cols if isinstance(c.type, (DateTime, Date))}
    decorated = {c.name: c.type for c in cols if raw and isinstance(c.type, TypeDecorator)}
    stmt = select(*[as_stored(c).label(c.name) if raw and (c.name in timed or c.name in decorated) else c for c in cols])
    for clause in where:
        stmt = stmt.where(clause)
    rows = conn.execute(stmt).all()
    names = [c.name for c in cols]
    frame = pd.DataFrame.from_records(rows, columns=names)
    for name in names:
        if name.endswith("_minor"):
            has_null = frame[name].isna().any()
            frame[name] = frame[name].astype("Int64" if has_null else "int64")
        elif name in timed:
            frame[name] = instants(frame[name])
        elif name in decorated:
            frame[name] = _each_distinct(frame[name], decorated[name].result_processor(conn.dialect, None))
    return frame


def as_stored(expression):
    """``expression`` as the database gives it, without SQLAlchemy's per-value result processing
    (on SQLite timestamps and exact decimals are text): convert it once per column instead
    (:func:`instants`)."""
    return type_coerce(expression, String)


def instants(values) -> pd.Series:
    """Timestamps as the database gives them (ISO text on SQLite, datetimes from psycopg),
    parsed once per column: ``datetime64[ns]``, NaT where missing."""
    return pd.to_datetime(pd.Series(values), format="ISO8601").astype("datetime64[ns]")


def _each_distinct(values: pd.Series, process) -> pd.Series:
    """``process`` (a type's result processor; None: nothing to do) applied to each distinct
    stored value once (None stays None), as an object column."""
    if process is None:
        return values
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=False)
    done = np.empty(len(uniques) + 1, dtype=object)  # the last slot, None, is for code -1 (missing)
    done[: len(uniques)] = [process(v) for v in uniques]
    return pd.Series(done[codes], index=values.index, dtype=object)


_records = frame_records  # old name
