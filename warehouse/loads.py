"""Writing a load, and what a load needs to know first.

Public API::

    known_refs(conn, order_source: str | None = None) -> KnownRefs
    unchanged_load(conn, source_name, file_sha256, config_sha256) -> Row | None
    load_batch(conn, source, location, file_sha256, batch, started_at, config_sha256=None) -> LoadSummary
    list_rejects(engine, source: str | None = None, limit: int = 200) -> DataFrame

A load is one transaction (the caller's ``engine.begin()``): every frame of the
batch is upserted in dependency order, one ``loads`` row records what was read,
loaded and rejected, and the source's rejects are *replaced* by this load's, so
the ``rejects`` table always shows the current state of each source (a reload of
an unchanged file adds nothing; fixing a row makes its reject disappear).

Reloading the same file inserts and updates nothing. Two rules keep reloads
honest beyond ``upsert_frame``:

* customers a sales export merely mentions (``batch.derived_tables``) are only
  written when no other source declared them, so a sales export never wipes the
  owner or class a customers sheet gave;
* for ``batch.whole_orders`` (sales lines), an order's lines numbered past its
  current last line are deleted: a line removed from the file leaves the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.engine import Connection

from config.models import SpreadsheetSource
from connectors.batch import IngestBatch, KnownRefs
from transforms.schema import REJECTS
from warehouse.db import UpsertResult, _records, select_in, upsert_frame
from warehouse.models import TABLES

LOAD_ORDER = (
    "teams", "members", "customers", "orders", "order_lines", "refunds", "collections",
    "fx_rates", "targets", "evaluation_scores", "inquiries", "product_costs",
)
CHUNK = 500
ANALYZE_AFTER = 1000  # inserted rows


@dataclass(frozen=True)
class LoadSummary:
    """What one load did: spreadsheet rows, and warehouse records (over every table written)."""

    load_id: int
    source: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    inserted: int
    updated: int
    unchanged: int
    by_table: dict[str, UpsertResult] = field(default_factory=dict)
    lines_removed: int = 0  # stale order lines deleted (whole-order sources)
    unattributed: int = 0  # orders/refunds credited to no member


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- before a load


def known_refs(conn: Connection | Engine, order_source: str | None = None) -> KnownRefs:
    """Member, team and customer ids in the warehouse (and, for ``order_source``, its orders' currencies)."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return known_refs(c, order_source)
    members, teams, customers, orders = (TABLES[t] for t in ("members", "teams", "customers", "orders"))
    currencies = {}
    if order_source is not None:
        rows = conn.execute(select(orders.c.order_id, orders.c.currency).where(orders.c.source == order_source))
        currencies = dict(rows.all())
    return KnownRefs(
        member_ids=frozenset(conn.execute(select(members.c.member_id)).scalars()),
        team_ids=frozenset(conn.execute(select(teams.c.team_id)).scalars()),
        customer_owners=dict(conn.execute(select(customers.c.customer_id, customers.c.owner_member_id)).all()),
        order_currencies=currencies,
    )


# Kinds whose loads never change what other rows are checked against (members, teams,
# customer owners, order currencies): a later load of one of these does not make an
# unchanged file worth reading again.
NO_REFERENCES = frozenset({"refunds", "collections", "fx_rates", "targets", "scores", "inquiries", "order_lines",
                           "product_costs"})

# Kinds whose loaded rows themselves depend on other records (attribution by customer owner or
# territory, order currencies, customers derived from sales): not skipped after such changes.
REFERENCE_DEPENDENT = frozenset({"orders", "sales_lines", "refunds", "order_lines"})


def unchanged_load(conn: Connection, source_name: str, file_sha256: str, config_sha256: str):
    """The source's last load when reading its file again would change nothing, else None.

    That is: the last load of ``source_name`` read a file with the same sha256 under the same
    settings (``config_sha256``), and no later spreadsheet load wrote records that rows are
    checked against (members, teams, customer owners, orders; for order lines also any store
    sync) - such a load may turn a rejected or unattributed row into a good one (checked only
    when the last load had rejects or its kind is in :data:`REFERENCE_DEPENDENT`). The skipped
    source's rejects stay in ``rejects`` as its last load left them.
    """
    loads = TABLES["loads"]
    last = conn.execute(
        select(loads).where(loads.c.source == source_name).order_by(loads.c.load_id.desc()).limit(1)
    ).first()
    if last is None or last.file_sha256 != file_sha256 or last.config_sha256 is None or last.config_sha256 != config_sha256:
        return None
    if last.rows_rejected == 0 and last.kind not in REFERENCE_DEPENDENT:
        return last  # every row loaded, and none of them is attributed or completed from other records
    spreadsheet_refs = loads.c.kind.not_in(sorted(NO_REFERENCES)) & loads.c.file_sha256.is_not(None)
    # store syncs add orders (whose currencies order lines take) and customers with no owner
    # (attribution by owner is unchanged): they matter to order lines only
    refs = spreadsheet_refs | loads.c.file_sha256.is_(None) if last.kind == "order_lines" else spreadsheet_refs
    changed_refs = conn.execute(
        select(loads.c.load_id).where(
            loads.c.load_id > last.load_id, (loads.c.records_inserted + loads.c.records_updated) > 0, refs
        ).limit(1)
    ).first()
    return None if changed_refs is not None else last


# --------------------------------------------------------------------------- the load


def load_batch(
    conn: Connection,
    source: SpreadsheetSource,
    location: str,
    file_sha256: str | None,
    batch: IngestBatch,
    started_at: datetime,
    config_sha256: str | None = None,
) -> LoadSummary:
    """Upsert the batch's frames, record the load and replace the source's rejects, in ``conn``'s transaction."""
    if batch.source != source.name:
        raise ValueError(f"batch is from source {batch.source!r}, not {source.name!r}")
    unknown = set(batch.frames) - set(LOAD_ORDER)
    if unknown:
        raise ValueError(f"batch has frames for tables Yeji does not load: {sorted(unknown)}")
    by_table: dict[str, UpsertResult] = {}
    lines_removed = 0
    for table in LOAD_ORDER:
        frame = batch.frames.get(table)
        if frame is None:
            continue
        kept_elsewhere = 0
        if table in batch.derived_tables:
            frame, kept_elsewhere = _not_declared_elsewhere(conn, table, frame, source.name)
        by_table[table] = upsert_frame(conn, table, frame) + UpsertResult(unchanged=kept_elsewhere)
        if table == "order_lines" and batch.whole_orders:
            lines_removed = _remove_stale_lines(conn, frame)
        if by_table[table].inserted >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
            # fresh planner statistics: without them PostgreSQL scans the whole table for each
            # chunk of keys upsert_frame looks up (0.5 s per 500 keys at 35k rows, instead of 2 ms)
            conn.execute(text(f'ANALYZE "{table}"'))
    total = sum(by_table.values(), UpsertResult())
    finished_at = _utc_now()
    load_id = conn.execute(
        insert(TABLES["loads"]).values(
            source=source.name,
            kind=source.kind,
            location=location,
            file_sha256=file_sha256,
            config_sha256=config_sha256,
            rows_read=batch.rows_read,
            rows_loaded=batch.rows_loaded,
            rows_rejected=batch.rows_rejected,
            records_inserted=total.inserted,
            records_updated=total.updated,
            records_unchanged=total.unchanged,
            started_at=started_at,
            finished_at=finished_at,
        )
    ).inserted_primary_key[0]
    _replace_rejects(conn, source.name, batch.rejects, load_id, finished_at)
    return LoadSummary(
        load_id=int(load_id),
        source=source.name,
        rows_read=batch.rows_read,
        rows_loaded=batch.rows_loaded,
        rows_rejected=batch.rows_rejected,
        inserted=total.inserted,
        updated=total.updated,
        unchanged=total.unchanged,
        by_table=by_table,
        lines_removed=lines_removed,
        unattributed=batch.unattributed,
    )


def _not_declared_elsewhere(conn: Connection, table: str, frame: pd.DataFrame, source_name: str) -> tuple[pd.DataFrame, int]:
    """The frame without records another source already holds (and how many were left alone)."""
    t = TABLES[table]
    (key,) = [c.name for c in t.primary_key.columns]
    ids = frame[key].tolist()
    taken: set = set()
    for i in range(0, len(ids), CHUNK):
        taken.update(row[0] for row in select_in(conn, t, [key], {key: ids[i : i + CHUNK]}, {"source": source_name}))
    if not taken:
        return frame, 0
    keep = ~frame[key].isin(taken)
    return frame[keep], int((~keep).sum())


def _remove_stale_lines(conn: Connection, lines: pd.DataFrame) -> int:
    """Delete stored lines of these orders numbered past each order's last line now."""
    t = TABLES["order_lines"]
    removed = 0
    for source_name, of_source in lines.groupby("source"):
        last = of_source.groupby("order_id")["line_no"].max().to_dict()
        order_ids = list(last)
        stale: list[tuple[str, int]] = []
        for i in range(0, len(order_ids), CHUNK):
            stmt = select(t.c.order_id, t.c.line_no).where(t.c.source == source_name, t.c.order_id.in_(order_ids[i : i + CHUNK]))
            stale += [(r.order_id, r.line_no) for r in conn.execute(stmt) if r.line_no > last[r.order_id]]
        for order_id, line_no in stale:
            conn.execute(delete(t).where(t.c.source == source_name, t.c.order_id == order_id, t.c.line_no == line_no))
        removed += len(stale)
    return removed


def _replace_rejects(conn: Connection, source_name: str, rejects: pd.DataFrame, load_id: int, created_at: datetime) -> None:
    table = TABLES["rejects"]
    conn.execute(delete(table).where(table.c.source == source_name))
    if rejects.empty:
        return
    records = _records(rejects[list(REJECTS)])
    for record in records:
        record.update(load_id=load_id, created_at=created_at)
    conn.execute(insert(table), records)


# --------------------------------------------------------------------------- after a load


def list_rejects(engine: Engine | Connection, source: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The current rejects (of one source, or all), in file order, at most ``limit`` rows."""
    table = TABLES["rejects"]
    stmt = select(*table.c).order_by(table.c.source, table.c.location, table.c.sheet, table.c.row_number, table.c.reject_id)
    if source is not None:
        stmt = stmt.where(table.c.source == source)
    stmt = stmt.limit(limit)
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    else:
        rows = engine.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=[c.name for c in table.c])
    return frame.astype({"row_number": "Int64"}) if not frame.empty else frame
