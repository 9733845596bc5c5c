"""The outbox: which version of which report went to whom, for which period (``deliveries``).

A row is keyed by ``(report_kind, period, recipient, content_hash)`` — the report, its period,
the recipient (an address lower-cased, or a team chat) and the content version. What a
recipient has is their newest ``sent`` row; a rerun sends nothing whose version they have.

Each send is written in three steps, each its own transaction: :func:`record_attempt` (status
``sending``, with the Message-ID chosen for the message) before the message leaves,
:func:`record_sent` once the SMTP server accepted it (or the .eml file was written, or the chat
took it), :func:`record_failed` when it was refused. A crash before the send leaves nothing
sent and the rerun sends it; a crash between the send and :func:`record_sent` leaves the row
``sending``: the rerun sends it again with the same Message-ID (mail clients show one message)
and says so. Nothing is ever lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select

from warehouse.models import TABLES

DELIVERIES = TABLES["deliveries"]

Key = tuple[str, str, str]  # (report_kind, period, recipient)

SENDING, SENT, FAILED = "sending", "sent", "failed"
FIRST, CORRECTION, RESEND = "first", "correction", "resend"


@dataclass(frozen=True)
class SentDelivery:
    report_kind: str
    period: str
    recipient: str
    member_id: str | None
    content_hash: str
    channel: str  # smtp | outbox | chat
    location: str | None  # .eml path, SMTP Message-ID, apprise:<scheme>
    sent_at: datetime
    status: str = SENT  # sending | sent | failed
    purpose: str | None = FIRST  # first | correction | resend
    sends: int = 1

    @property
    def key(self) -> Key:
        return (self.report_kind, self.period, self.recipient)


@dataclass(frozen=True)
class History:
    """Every recorded version of one key: what the recipient has, and any unfinished attempt."""

    versions: tuple[SentDelivery, ...]

    @property
    def latest_sent(self) -> SentDelivery | None:
        sent = [v for v in self.versions if v.status == SENT]
        return max(sent, key=lambda v: v.sent_at) if sent else None

    def attempt(self, content_hash: str) -> SentDelivery | None:
        """This version's row when it was tried but not (known to be) sent."""
        return next((v for v in self.versions if v.content_hash == content_hash and v.status != SENT), None)


def normalize_recipient(address: str) -> str:
    """Email addresses compare lower-cased; a team chat (``chat:<team id>:…``) keeps its team id's case."""
    address = address.strip()
    return address if address.startswith("chat:") else address.lower()


def _row(row) -> SentDelivery:
    return SentDelivery(row.report_kind, row.period, row.recipient, row.member_id, row.content_hash, row.channel,
                        row.location, row.sent_at, row.status, row.purpose, row.sends)


def histories(engine: Engine, keys: Iterable[Key]) -> dict[Key, History]:
    """The recorded versions of each of ``keys`` that has any (recipients compared lower-cased)."""
    wanted = {(k, p, normalize_recipient(r)) for k, p, r in keys}
    if not wanted:
        return {}
    kinds = sorted({k for k, _, _ in wanted})
    periods = sorted({p for _, p, _ in wanted})
    stmt = (select(DELIVERIES).where(DELIVERIES.c.report_kind.in_(kinds), DELIVERIES.c.period.in_(periods))
            .order_by(DELIVERIES.c.delivery_id))
    found: dict[Key, list[SentDelivery]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            record = _row(row)
            key = (record.report_kind, record.period, normalize_recipient(record.recipient))
            if key in wanted:
                found.setdefault(key, []).append(record)
    return {key: History(tuple(rows)) for key, rows in found.items()}


def sent_deliveries(engine: Engine, keys: Iterable[Key]) -> dict[Key, SentDelivery]:
    """What each of ``keys`` last received (its newest sent version)."""
    out = {}
    for key, history in histories(engine, keys).items():
        if history.latest_sent is not None:
            out[key] = history.latest_sent
    return out


def _where(report_kind: str, period: str, recipient: str, content_hash: str):
    return (DELIVERIES.c.report_kind == report_kind, DELIVERIES.c.period == period,
            DELIVERIES.c.recipient == normalize_recipient(recipient), DELIVERIES.c.content_hash == content_hash)


def record_attempt(engine: Engine, *, report_kind: str, period: str, recipient: str, member_id: str | None,
                   content_hash: str, channel: str, location: str | None, at: datetime, purpose: str = FIRST) -> None:
    """Before a version's first send: a ``sending`` row holding the Message-ID it goes out with.
    A version already sent (a resend on purpose) keeps its ``sent`` row."""
    where = _where(report_kind, period, recipient, content_hash)
    values = dict(member_id=member_id, channel=channel, location=location[:1000] if location else None, sent_at=at,
                  status=SENDING, purpose=purpose)
    with engine.begin() as conn:
        existing = conn.execute(select(DELIVERIES.c.status).where(*where)).scalar()
        if existing is None:
            conn.execute(DELIVERIES.insert().values(report_kind=report_kind, period=period,
                                                    recipient=normalize_recipient(recipient),
                                                    content_hash=content_hash, sends=0, **values))
        elif existing != SENT:
            conn.execute(DELIVERIES.update().where(*where).values(**values))


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
    purpose: str = FIRST,
) -> None:
    """Record one accepted send of one version (insert, or update its row; ``sends`` counts them)."""
    where = _where(report_kind, period, recipient, content_hash)
    values = dict(member_id=member_id, channel=channel, location=location[:1000] if location else None,
                  sent_at=sent_at, status=SENT, purpose=purpose)
    with engine.begin() as conn:
        updated = conn.execute(DELIVERIES.update().where(*where).values(sends=DELIVERIES.c.sends + 1, **values)).rowcount
        if not updated:
            conn.execute(DELIVERIES.insert().values(report_kind=report_kind, period=period,
                                                    recipient=normalize_recipient(recipient),
                                                    content_hash=content_hash, sends=1, **values))


def record_failed(engine: Engine, *, report_kind: str, period: str, recipient: str, content_hash: str) -> None:
    """The attempt was refused: its row (if still ``sending``) becomes ``failed``; retried next run."""
    where = _where(report_kind, period, recipient, content_hash)
    with engine.begin() as conn:
        conn.execute(DELIVERIES.update().where(*where, DELIVERIES.c.status == SENDING).values(status=FAILED))


def deliveries(engine: Engine, *, period: str | None = None, report_kind: str | None = None,
               status: str | None = SENT) -> list[SentDelivery]:
    """Recorded deliveries (sent ones unless ``status`` says otherwise; None: all), newest first."""
    stmt = select(DELIVERIES).order_by(DELIVERIES.c.sent_at.desc(), DELIVERIES.c.delivery_id.desc())
    if period is not None:
        stmt = stmt.where(DELIVERIES.c.period == period)
    if report_kind is not None:
        stmt = stmt.where(DELIVERIES.c.report_kind == report_kind)
    if status is not None:
        stmt = stmt.where(DELIVERIES.c.status == status)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(stmt)]
