"""Storing computed commission lines for a month."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from warehouse.db import frame_records
from warehouse.models import CommissionLine

COLUMNS = [c.name for c in CommissionLine.__table__.columns if c.name not in ("line_id", "computed_at")]


def replace_month_lines(conn: Connection, month: str, lines: pd.DataFrame) -> int:
    """Replace the month's stored lines with ``lines`` (one transaction); returns lines written.

    The stored total must equal the sum of the frame's amounts: checked after writing.
    """
    table = CommissionLine.__table__
    conn.execute(delete(table).where(table.c.month == month))
    if lines.empty:
        return 0
    computed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    records = frame_records(lines[[c for c in COLUMNS if c in lines.columns]])
    for rec in records:
        rec["computed_at"] = computed_at
    conn.execute(table.insert(), records)
    stored = conn.execute(select(func.sum(table.c.amount_minor)).where(table.c.month == month)).scalar_one()
    expected = sum(int(a) for a in lines["amount_minor"])
    if int(stored or 0) != expected:
        raise RuntimeError(f"commission lines for {month}: stored {stored} != computed {expected}")
    return len(records)
