"""Writing store batches with their sync cursor, and what the admin asks about afterwards.

Public API::

    read_state(conn, store, stream) -> SyncState | None
    load_store_batch(conn, store, stream, location, frames, rejects, keys, state, started_at) -> StoreLoad
    list_unattributed(engine, source=None, limit=200) -> DataFrame
    sync_states(engine) -> DataFrame

:func:`load_store_batch` runs inside the caller's transaction and does, in it: upsert the
batch's customers (only those no other source declared), orders, order lines (deleting
lines numbered past an order's last one), refunds and fees; replace the rejects of the
records this batch saw (a record that loads now loses its old reject; rejects of other
records stay); write a ``loads`` row; and write the stream's ``sync_state``. The data and
the cursor that covers it therefore commit together or not at all.

Refunds that arrive without a member (Amazon finances) are credited like their order
when the warehouse has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from transforms.schema import REJECTS
from warehouse.db import UpsertResult, frame_records, upsert_frame
from warehouse.loads import ANALYZE_AFTER, CHUNK, _not_declared_elsewhere, _remove_stale_lines
from warehouse.models import TABLES

STORE_LOAD_ORDER = ("customers", "orders", "order_lines", "refunds", "fees")


@dataclass(frozen=True)
class SyncState:
    store: str
    stream: str
    cursor: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    page_token: str | None
    pages_read: int
    records_read: int


@dataclass
class StoreLoad:
    by_table: dict[str, UpsertResult] = field(default_factory=dict)
    lines_removed: int = 0

    @property
    def total(self) -> UpsertResult:
        return sum(self.by_table.values(), UpsertResult())


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def read_state(conn: Connection | Engine, store: str, stream: str) -> SyncState | None:
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_state(c, store, stream)
    t = TABLES["sync_state"]
    row = conn.execute(select(t).where(t.c.store == store, t.c.stream == stream)).mappings().first()
    if row is None:
        return None
    return SyncState(**{k: row[k] for k in SyncState.__dataclass_fields__})


def write_state(conn: Connection, state: SyncState) -> None:
    t = TABLES["sync_state"]
    values = {k: getattr(state, k) for k in SyncState.__dataclass_fields__} | {"updated_at": _now()}
    done = conn.execute(update(t).where(t.c.store == state.store, t.c.stream == state.stream).values(values))
    if done.rowcount == 0:
        conn.execute(insert(t).values(values))


def _credit_refunds(conn: Connection, refunds: pd.DataFrame) -> pd.DataFrame:
    """Refunds with no member but an order the warehouse has: the order's member (and customer, country)."""
    missing = refunds[refunds["member_id"].isna() & refunds["order_id"].notna()]
    if missing.empty:
        return refunds
    orders = TABLES["orders"]
    found = {}
    for source_name, group in missing.groupby("order_source"):
        ids = group["order_id"].unique().tolist()
        for i in range(0, len(ids), CHUNK):
            stmt = select(orders.c.order_id, orders.c.member_id, orders.c.customer_id, orders.c.country).where(
                orders.c.source == source_name, orders.c.order_id.in_(ids[i : i + CHUNK]))
            for row in conn.execute(stmt):
                found[(source_name, row.order_id)] = row
    if not found:
        return refunds
    out = refunds.copy()
    for idx in missing.index:
        row = found.get((out.at[idx, "order_source"], out.at[idx, "order_id"]))
        if row is not None:
            out.at[idx, "member_id"] = row.member_id
            if out.at[idx, "customer_id"] is None:
                out.at[idx, "customer_id"] = row.customer_id
            if out.at[idx, "country"] is None:
                out.at[idx, "country"] = row.country
    return out


def load_store_batch(
    conn: Connection,
    store: str,
    stream: str,
    location: str,
    frames: dict[str, pd.DataFrame],
    rejects: pd.DataFrame,
    keys: list[str],
    state: SyncState,
    started_at: datetime,
    records_read: int,
    records_rejected: int,
) -> StoreLoad:
    """Upsert one batch, replace its records' rejects, record the load and advance the cursor - in ``conn``'s transaction."""
    result = StoreLoad()
    new_orders: list[tuple] = []  # (source, order_id) of the orders this batch inserted
    for table in STORE_LOAD_ORDER:
        frame = frames.get(table)
        if frame is None or frame.empty:
            continue
        kept = 0
        if table == "customers":
            frame, kept = _not_declared_elsewhere(conn, table, frame, store)
        if table == "refunds":
            frame = _credit_refunds(conn, frame)
        result.by_table[table] = upsert_frame(conn, table, frame, new_keys=new_orders if table == "orders" else None) \
            + UpsertResult(unchanged=kept)
        if table == "order_lines":
            result.lines_removed = _remove_stale_lines(conn, _lines_of_known_orders(frame, new_orders))
        if result.by_table[table].inserted >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
            conn.execute(text(f'ANALYZE "{table}"'))
    total = result.total
    finished = _now()
    load_id = conn.execute(
        insert(TABLES["loads"]).values(
            source=store, kind=stream, location=location[:1000], file_sha256=None,
            rows_read=records_read, rows_loaded=records_read - records_rejected, rows_rejected=records_rejected,
            records_inserted=total.inserted, records_updated=total.updated, records_unchanged=total.unchanged,
            started_at=started_at, finished_at=finished,
        )
    ).inserted_primary_key[0]
    _replace_record_rejects(conn, store, stream, keys, rejects, load_id, finished)
    write_state(conn, state)
    return result


def _lines_of_known_orders(lines: pd.DataFrame, new_orders: list[tuple]) -> pd.DataFrame:
    """The lines of orders the warehouse had before this batch: only those can have stale lines
    (a store's lines are written with their orders, under the store's own source)."""
    if not new_orders:
        return lines
    fresh = {order_id for _source, order_id in new_orders}
    return lines[~lines["order_id"].isin(fresh)]


def _replace_record_rejects(conn: Connection, store: str, stream: str, keys: list[str], rejects: pd.DataFrame,
                            load_id: int, created_at: datetime) -> None:
    t = TABLES["rejects"]
    seen_keys = {k[:200] for k in keys if k}
    if len(rejects):
        seen_keys |= set(rejects["record_key"].dropna())
    # the stream's stored rejects are few next to the records a batch sees: delete by the keys they share
    stored = conn.execute(select(t.c.record_key).where(t.c.source == store, t.c.kind == stream, t.c.record_key.is_not(None))
                          .distinct()).scalars()
    seen = sorted(seen_keys.intersection(stored))
    for i in range(0, len(seen), CHUNK):
        conn.execute(delete(t).where(t.c.source == store, t.c.kind == stream, t.c.record_key.in_(seen[i : i + CHUNK])))
    if len(rejects):  # records without a key (not even an object): replaced per page read
        for place in set(rejects.loc[rejects["record_key"].isna(), "location"]):
            conn.execute(delete(t).where(t.c.source == store, t.c.kind == stream, t.c.record_key.is_(None), t.c.location == place))
    if rejects.empty:
        return
    records = frame_records(rejects[list(REJECTS)])
    for record in records:
        record.update(load_id=load_id, created_at=created_at)
    conn.execute(insert(t), records)


def list_unattributed(engine: Engine | Connection, source: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Orders credited to no member, newest first (they are loaded, never dropped)."""
    t = TABLES["orders"]
    stmt = select(t.c.source, t.c.order_id, t.c.platform, t.c.store, t.c.ordered_at, t.c.country, t.c.customer_id,
                  t.c.currency, t.c.gross_minor, t.c.discount_minor, t.c.status).where(t.c.member_id.is_(None))
    if source is not None:
        stmt = stmt.where(t.c.source == source)
    stmt = stmt.order_by(t.c.ordered_at.desc(), t.c.source, t.c.order_id).limit(limit)
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    else:
        rows = engine.execute(stmt).all()
    return pd.DataFrame.from_records(rows, columns=[c.name for c in stmt.selected_columns])


def count_unattributed(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func

    t = TABLES["orders"]
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.source, func.count()).where(t.c.member_id.is_(None)).group_by(t.c.source)).all()
    return {source: int(n) for source, n in rows}
