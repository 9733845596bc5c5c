"""Connecting to the warehouse, migrating it, and moving frames in and out exactly."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Date, DateTime, Engine, Table, bindparam, create_engine, event, select
from sqlalchemy.engine import Connection

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


def content_hash(record: dict, columns: Sequence[str]) -> str:
    """A stable hash of a record's content, used to tell updates from unchanged reloads."""
    values = [record.get(c) for c in columns]
    payload = json.dumps([v if type(v) in _AS_IS else _canonical(v) for v in values], ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- upsert


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


def _column_values(series: pd.Series) -> list:
    """One column as plain Python values (see :func:`frame_records`), converted column-wise where the dtype allows."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return series.tolist()  # Python ints / bools, never missing
    if isinstance(dtype, np.dtype) and dtype.kind == "M" and getattr(series.dt, "tz", None) is None:
        return [None if v is pd.NaT else v.to_pydatetime() for v in series.array]
    return [val if type(val) is str else _plain(val) for val in series.tolist()]


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Frame rows as plain Python dicts: NaN/NaT become None, numpy scalars become Python."""
    cols = list(frame.columns)
    if not cols:
        return [{} for _ in range(len(frame))]
    columns = [_column_values(frame.iloc[:, i]) for i in range(len(cols))]
    return [dict(zip(cols, row)) for row in zip(*columns)]


def upsert_frame(conn: Connection, table_name: str, frame: pd.DataFrame) -> UpsertResult:
    """Insert new rows, update changed rows, leave identical rows alone.

    Rows are matched on the table's primary key and compared on ``content_hash``
    (computed here over every non-key column when the frame lacks it). Works the
    same on SQLite and PostgreSQL.
    """
    table: Table = TABLES[table_name]
    if frame.empty:
        return UpsertResult()
    key_cols = [c.name for c in table.primary_key.columns]
    value_cols = [c.name for c in table.columns if c.name not in key_cols and c.name != "content_hash"]
    missing = [c for c in key_cols if c not in frame.columns]
    if missing:
        raise KeyError(f"{table_name}: frame lacks key columns {missing}")
    records = frame_records(frame[[c for c in frame.columns if c in table.columns]])
    for rec in records:
        for c in value_cols:
            rec.setdefault(c, None)
        rec["content_hash"] = content_hash(rec, value_cols)

    keys = [tuple(r[c] for c in key_cols) for r in records]  # plain values already (frame_records)
    existing = _existing_hashes(conn, table, key_cols, keys)

    to_insert, to_update, unchanged = [], [], 0
    for key, rec in zip(keys, records):
        old = existing.get(key)
        if old is None:
            to_insert.append(rec)
        elif old != rec["content_hash"]:
            to_update.append(rec)
        else:
            unchanged += 1
    if to_insert:
        conn.execute(table.insert(), to_insert)
    if to_update:
        stmt = (
            table.update()
            .where(*[table.c[c] == bindparam(f"k_{c}") for c in key_cols])
            .values({c: bindparam(c) for c in value_cols + ["content_hash"]})
        )
        params = [{**{f"k_{c}": r[c] for c in key_cols}, **{c: r[c] for c in value_cols + ["content_hash"]}} for r in to_update]
        conn.execute(stmt, params)
    return UpsertResult(len(to_insert), len(to_update), unchanged)


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
    columns = [table.c[c] for c in key_cols] + [table.c.content_hash]
    found: dict[tuple, str] = {}
    for i in range(0, len(firsts), chunk):
        for j in range(0, len(seconds), chunk):
            stmt = select(*columns).where(table.c[key_cols[0]].in_(firsts[i : i + chunk]))
            if len(key_cols) > 1:
                stmt = stmt.where(table.c[key_cols[1]].in_(seconds[j : j + chunk]))
            for row in conn.execute(stmt):
                key = tuple(row[: len(key_cols)])  # the driver gives datetimes, never Timestamps
                if key in wanted:
                    found[key] = row[-1]
    return found


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
    stmt = select(*cols)
    for clause in where:
        stmt = stmt.where(clause)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            rows = c.execute(stmt).all()
    else:
        rows = conn.execute(stmt).all()
    names = [c.name for c in cols]
    frame = pd.DataFrame.from_records(rows, columns=names)
    for col in cols:
        name = col.name
        if name.endswith("_minor"):
            has_null = frame[name].isna().any()
            frame[name] = frame[name].astype("Int64" if has_null else "int64")
        elif isinstance(col.type, (DateTime, Date)):
            frame[name] = pd.to_datetime(frame[name])
    return frame



_records = frame_records  # old name
