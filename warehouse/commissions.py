"""Storing commission lines, closing months, and reading them back exactly."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Connection

from warehouse.db import frame_records, read_table
from warehouse.models import CommissionLine, CommissionMonth

COLUMNS = [c.name for c in CommissionLine.__table__.columns if c.name not in ("line_id", "computed_at")]


class MonthClosed(RuntimeError):
    """A closed month's lines were about to be replaced."""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def closed_months(conn: Connection) -> list[str]:
    table = CommissionMonth.__table__
    return [r[0] for r in conn.execute(select(table.c.month).order_by(table.c.month))]


def is_closed(conn: Connection, month: str) -> bool:
    return month in closed_months(conn)


def first_open_month_after(conn: Connection, month: str) -> str:
    """The month adjustments to a closed ``month`` go into: the first later month not closed."""
    closed = set(closed_months(conn))
    y, m = int(month[:4]), int(month[5:7])
    while True:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        label = f"{y}-{m:02d}"
        if label not in closed:
            return label


def _insert(conn: Connection, lines: pd.DataFrame) -> int:
    if lines.empty:
        return 0
    records = frame_records(lines[[c for c in COLUMNS if c in lines.columns]])
    computed_at = _now()
    for rec in records:
        rec["computed_at"] = computed_at
    conn.execute(CommissionLine.__table__.insert(), records)
    return len(records)


def replace_month_lines(conn: Connection, month: str, lines: pd.DataFrame) -> int:
    """Replace the month's computed lines with ``lines`` (one transaction); returns lines written.

    Adjustment lines stored in the month (corrections of an earlier closed month) are kept.
    A closed month is never replaced (:class:`MonthClosed`). The stored total must equal the
    sum of the frame's amounts: checked after writing.
    """
    if is_closed(conn, month):
        raise MonthClosed(f"commission month {month} is closed: its lines never change (differences go into adjustment lines)")
    table = CommissionLine.__table__
    conn.execute(delete(table).where(and_(table.c.month == month, table.c.adjusts_month.is_(None))))
    written = _insert(conn, lines)
    stored = conn.execute(select(func.sum(table.c.amount_minor)).where(
        and_(table.c.month == month, table.c.adjusts_month.is_(None)))).scalar_one()
    expected = sum(int(a) for a in lines["amount_minor"]) if len(lines) else 0
    if int(stored or 0) != expected:
        raise RuntimeError(f"commission lines for {month}: stored {stored} != computed {expected}")
    return written


def write_adjustments(conn: Connection, lines: pd.DataFrame) -> int:
    """Append adjustment lines (each names ``adjusts_month``) into their open ``month``."""
    if lines.empty:
        return 0
    for month in set(lines["month"]):
        if is_closed(conn, month):
            raise MonthClosed(f"adjustments cannot go into closed month {month}")
    return _insert(conn, lines)


def month_lines(conn: Connection, month: str | None = None, before: str | None = None,
                adjusts_month: str | None = None) -> pd.DataFrame:
    """Stored lines, exactly typed, in the order they were written: of ``month``, of the months
    before ``before``, or the adjustments made to ``adjusts_month``."""
    table = CommissionLine.__table__
    where = []
    if month is not None:
        where.append(table.c.month == month)
    if before is not None:
        where.append(table.c.month < before)
    if adjusts_month is not None:
        where.append(table.c.adjusts_month == adjusts_month)
    frame = read_table(conn, "commission_lines", where=where)
    return frame.sort_values("line_id", kind="stable").reset_index(drop=True)


def _content_hash(lines: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for row in lines[["member_id", "amount_minor", "currency", "explanation"]].itertuples(index=False):
        digest.update(f"{row[0]}|{row[1]}|{row[2]}|{row[3]}\n".encode())
    return digest.hexdigest()


def close_month(conn: Connection, month: str) -> dict:
    """Lock ``month``: its stored lines become final. Refuses a month with no computed lines
    stored (run the monthly commissions first) and a month already closed."""
    if is_closed(conn, month):
        raise MonthClosed(f"commission month {month} is already closed")
    table = CommissionLine.__table__
    count = conn.execute(select(func.count()).select_from(table).where(table.c.month == month)).scalar_one()
    if not count:
        raise RuntimeError(f"commission month {month} has no stored lines: run `yeji run monthly-commissions --month {month}` first")
    lines = month_lines(conn, month)
    record = {"month": month, "closed_at": _now(), "lines": int(count), "content_hash": _content_hash(lines)}
    conn.execute(CommissionMonth.__table__.insert(), [record])
    totals = lines.groupby("currency")["amount_minor"].sum().astype(int).to_dict()
    return {**record, "totals": totals}


def verify_closed(conn: Connection, month: str) -> bool:
    """The closed month's stored lines still hash to what was locked."""
    table = CommissionMonth.__table__
    row = conn.execute(select(table.c.content_hash).where(table.c.month == month)).first()
    return row is not None and row[0] == _content_hash(month_lines(conn, month))
