"""The outbox: which report went to whom, for which period (the ``deliveries`` table).

The key is ``(report_kind, period, recipient)`` with the recipient's address
lower-cased; a key that is present has been sent and is not sent again unless
asked. :func:`record_sent` runs in its own transaction, after the message has
been handed to the SMTP server or written to disk, so a crash between the two
can only cause a resend, never a silent loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select

from warehouse.models import TABLES

DELIVERIES = TABLES["deliveries"]

Key = tuple[str, str, str]  # (report_kind, period, recipient)


@dataclass(frozen=True)
class SentDelivery:
    report_kind: str
    period: str
    recipient: str
    member_id: str | None
    content_hash: str
    channel: str  # smtp | outbox
    location: str | None  # .eml path or SMTP Message-ID
    sent_at: datetime

    @property
    def key(self) -> Key:
        return (self.report_kind, self.period, self.recipient)


def normalize_recipient(address: str) -> str:
    return address.strip().lower()


def _row(row) -> SentDelivery:
    return SentDelivery(row.report_kind, row.period, row.recipient, row.member_id, row.content_hash, row.channel,
                        row.location, row.sent_at)


def sent_deliveries(engine: Engine, keys: Iterable[Key]) -> dict[Key, SentDelivery]:
    """The recorded deliveries among ``keys`` (recipients compared lower-cased)."""
    wanted = {(k, p, normalize_recipient(r)) for k, p, r in keys}
    if not wanted:
        return {}
    kinds = sorted({k for k, _, _ in wanted})
    periods = sorted({p for _, p, _ in wanted})
    stmt = select(DELIVERIES).where(DELIVERIES.c.report_kind.in_(kinds), DELIVERIES.c.period.in_(periods))
    found: dict[Key, SentDelivery] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            record = _row(row)
            key = (record.report_kind, record.period, normalize_recipient(record.recipient))
            if key in wanted:
                found[key] = record
    return found


def record_sent(
    engine: Engine,
    *,
    report_kind: str,
    period: str,
    recipient: str,
    member_id: str | None,
    content_hash: str,
    channel: str,
    location: str | None,
    sent_at: datetime,
) -> None:
    """Record one delivery (insert, or update the row when the same key is sent again)."""
    recipient = normalize_recipient(recipient)
    values = dict(member_id=member_id, content_hash=content_hash, channel=channel,
                  location=location[:1000] if location else None, sent_at=sent_at)
    where = (DELIVERIES.c.report_kind == report_kind, DELIVERIES.c.period == period, DELIVERIES.c.recipient == recipient)
    with engine.begin() as conn:
        updated = conn.execute(DELIVERIES.update().where(*where).values(**values)).rowcount
        if not updated:
            conn.execute(DELIVERIES.insert().values(report_kind=report_kind, period=period, recipient=recipient, **values))


def deliveries(engine: Engine, *, period: str | None = None, report_kind: str | None = None) -> list[SentDelivery]:
    """Recorded deliveries, newest first (for the CLI and for checks)."""
    stmt = select(DELIVERIES).order_by(DELIVERIES.c.sent_at.desc(), DELIVERIES.c.delivery_id.desc())
    if period is not None:
        stmt = stmt.where(DELIVERIES.c.period == period)
    if report_kind is not None:
        stmt = stmt.where(DELIVERIES.c.report_kind == report_kind)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(stmt)]
