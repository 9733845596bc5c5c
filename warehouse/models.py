"""Warehouse tables (SQLAlchemy 2.0).

Conventions, so that every table reads the same way:

* Money is stored as integer minor units (``*_minor`` columns, BIGINT) next to
  the ISO 4217 ``currency`` it is in. Nothing monetary is ever a float.
* Rates, quantities, unit prices and scores are exact decimals (:class:`ExactDecimal`):
  NUMERIC on PostgreSQL, canonical text on SQLite (whose NUMERIC is a float).
* Timestamps are naive UTC (``*_at``); calendar days are ``*_date``.
* Every loaded fact carries ``source`` (the configured source name) and its
  record id; ``(source, record id)`` is the idempotency key, and
  ``content_hash`` tells an unchanged reload from an update.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class ExactDecimal(TypeDecorator):
    """An exact decimal: NUMERIC(38, 12) on PostgreSQL, text on SQLite."""

    impl = String(48)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 12, asdecimal=True))
        return dialect.type_descriptor(String(48))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        if not value.is_finite():
            raise ValueError(f"not a finite decimal: {value!r}")
        if dialect.name == "postgresql":
            return value
        return format(value.normalize(), "f")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value.normalize() if value == value.to_integral() else value
        return Decimal(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _key(length: int = 64):
    return String(length)


class Team(Base):
    __tablename__ = "teams"
    team_id: Mapped[str] = mapped_column(_key(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(3))
    lead_member_id: Mapped[str | None] = mapped_column(_key())
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class Member(Base):
    __tablename__ = "members"
    member_id: Mapped[str] = mapped_column(_key(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(_key(), index=True)
    role: Mapped[str] = mapped_column(String(40))
    manager_id: Mapped[str | None] = mapped_column(_key())
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class Customer(Base):
    __tablename__ = "customers"
    customer_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(100))
    # declared class: "key_account" is declared; "new"/"returning" are derived from order history
    customer_class: Mapped[str | None] = mapped_column(String(20))
    owner_member_id: Mapped[str | None] = mapped_column(_key())
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class Order(Base):
    __tablename__ = "orders"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    order_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(30))  # shopify, amazon, woocommerce, b2b, offline, ...
    store: Mapped[str] = mapped_column(String(100))
    ordered_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    customer_id: Mapped[str | None] = mapped_column(_key(128), index=True)
    member_id: Mapped[str | None] = mapped_column(_key(), index=True)  # credited owner; NULL = unattributed
    country: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    gross_minor: Mapped[int] = mapped_column(BigInteger)  # sum of line quantity x unit price
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_terms: Mapped[str] = mapped_column(String(40), default="prepaid")  # prepaid | TT30/70 | ...
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | cancelled
    content_hash: Mapped[str] = mapped_column(String(40))
    # first shipment (naive UTC), from a spreadsheet column or the platform's fulfilments; NULL = not shipped / unknown
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime)
    # derived on write (warehouse/settlement.py), not content (no part of content_hash): the instant
    # (naive UTC) nothing more was owed on the order, the first rule that applies: ordered_at when it is
    # no receivable (terms missing or prepaid, or cancelled: trimmed, lower-cased); NULL (always open)
    # when a collection with its order_id, any source, is negative (a payment returned); ordered_at when
    # its total (gross - discount + tax + shipping) is <= 0; else the earliest received_at t of its
    # collections (order_source = source, same order_id and currency) with those received at or before
    # t summing to >= the total, NULL if never. So for an order placed before X: "not fully paid before
    # X, or a payment returned" <=> settled_at IS NULL OR settled_at >= X.
    settled_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class OrderLine(Base):
    __tablename__ = "order_lines"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    order_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    unit_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    unit_cost: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    cost_minor: Mapped[int | None] = mapped_column(BigInteger)  # NULL = cost unknown
    content_hash: Mapped[str] = mapped_column(String(40))


class Refund(Base):
    """Refunds and cancellations. ``amount_minor`` is the money given back (positive)."""

    __tablename__ = "refunds"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    refund_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    order_source: Mapped[str | None] = mapped_column(_key())
    order_id: Mapped[str | None] = mapped_column(_key(128), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # refund | cancellation
    refunded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[str | None] = mapped_column(_key(), index=True)
    customer_id: Mapped[str | None] = mapped_column(_key(128))
    country: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(40))


class Collection(Base):
    """Money received against an order (B2B T/T deposit and balance, or full payment)."""

    __tablename__ = "collections"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    collection_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    order_source: Mapped[str] = mapped_column(_key())
    order_id: Mapped[str] = mapped_column(_key(128), index=True)
    stage: Mapped[str] = mapped_column(String(20))  # deposit | balance | full | other
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(40))


class FxRate(Base):
    """1 unit of ``from_currency`` = ``rate`` units of ``to_currency`` on ``rate_date``."""

    __tablename__ = "fx_rates"
    rate_date: Mapped[date] = mapped_column(Date, primary_key=True)
    from_currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    to_currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal)
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class ProductCost(Base):
    """A SKU's unit cost from ``effective_from`` on (until the SKU's next row), in ``currency``:
    the cost of order lines whose platform gives none (Amazon, WooCommerce)."""

    __tablename__ = "product_costs"
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    unit_cost: Mapped[Decimal] = mapped_column(ExactDecimal)
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class Target(Base):
    """A target for a member or team in one period (``2026-W46`` or ``2026-10``)."""

    __tablename__ = "targets"
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # member | team
    scope_id: Mapped[str] = mapped_column(_key(), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)  # revenue | orders | new_customers | ...
    value: Mapped[Decimal] = mapped_column(ExactDecimal)  # money targets in major units of ``currency``
    currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class EvaluationScore(Base):
    __tablename__ = "evaluation_scores"
    member_id: Mapped[str] = mapped_column(_key(), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    score: Mapped[Decimal] = mapped_column(ExactDecimal)
    source: Mapped[str] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(40))


class Inquiry(Base):
    """询盘: a sales inquiry, its first reply and, if it converted, the order."""

    __tablename__ = "inquiries"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    inquiry_id: Mapped[str] = mapped_column(_key(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime)
    owner_member_id: Mapped[str | None] = mapped_column(_key(), index=True)
    customer_id: Mapped[str | None] = mapped_column(_key(128))
    country: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(50))
    converted_order_id: Mapped[str | None] = mapped_column(_key(128))
    content_hash: Mapped[str] = mapped_column(String(40))


class Fee(Base):
    """A platform fee (referral, FBA, closing, ads...) charged to the seller, from store finances.

    ``amount_minor`` is positive for money the platform kept, negative for a fee it gave back.
    """

    __tablename__ = "fees"
    source: Mapped[str] = mapped_column(_key(), primary_key=True)
    fee_id: Mapped[str] = mapped_column(_key(200), primary_key=True)
    order_source: Mapped[str | None] = mapped_column(_key())
    order_id: Mapped[str | None] = mapped_column(_key(128), index=True)
    fee_type: Mapped[str] = mapped_column(String(80))
    posted_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(40))


class SyncState(Base):
    """Where the sync of one store's stream stands; written in the transaction of the rows it covers.

    Everything the platform changed in ``[start, cursor)`` is in the warehouse. While a window
    ``[window_start, window_end)`` is being read, ``page_token`` is the next page to read in it
    (NULL when the window starts over or is done).
    """

    __tablename__ = "sync_state"
    store: Mapped[str] = mapped_column(_key(), primary_key=True)
    stream: Mapped[str] = mapped_column(String(40), primary_key=True)  # orders | refunds | finances
    cursor: Mapped[datetime | None] = mapped_column(DateTime)
    window_start: Mapped[datetime | None] = mapped_column(DateTime)
    window_end: Mapped[datetime | None] = mapped_column(DateTime)
    page_token: Mapped[str | None] = mapped_column(Text)
    pages_read: Mapped[int] = mapped_column(Integer, default=0)
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Load(Base):
    """One ingest of one file (or store stream): what was read, loaded and rejected."""

    __tablename__ = "loads"
    load_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(_key(), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    location: Mapped[str] = mapped_column(String(1000))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    config_sha256: Mapped[str | None] = mapped_column(String(64))  # the source's settings (spreadsheets)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_loaded: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    records_inserted: Mapped[int] = mapped_column(Integer)
    records_updated: Mapped[int] = mapped_column(Integer)
    records_unchanged: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime] = mapped_column(DateTime)


class Reject(Base):
    """A row that could not be loaded, with where it is and what is wrong."""

    __tablename__ = "rejects"
    reject_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(_key(), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    location: Mapped[str] = mapped_column(String(1000))  # file path
    sheet: Mapped[str | None] = mapped_column(String(100))
    row_number: Mapped[int | None] = mapped_column(Integer)  # as the user sees it in the sheet (header = 1)
    column_name: Mapped[str | None] = mapped_column(String(200))
    record_key: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)  # the row as JSON
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CommissionLine(Base):
    """One explained commission amount for one member, month and credited order."""

    __tablename__ = "commission_lines"
    line_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    member_id: Mapped[str] = mapped_column(_key(), index=True)
    plan_id: Mapped[str] = mapped_column(_key())
    order_source: Mapped[str | None] = mapped_column(_key())
    order_id: Mapped[str | None] = mapped_column(_key(128))
    credited_at: Mapped[datetime | None] = mapped_column(DateTime)
    rule: Mapped[str] = mapped_column(String(40))
    band: Mapped[str | None] = mapped_column(String(200))
    base_minor: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    fx_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    explanation: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    # what the statement of a closed month needs to be shown again exactly (issue 3)
    team_id: Mapped[str | None] = mapped_column(_key())
    kind: Mapped[str | None] = mapped_column(String(20))
    record_id: Mapped[str | None] = mapped_column(_key(200))
    credited_date: Mapped[datetime | None] = mapped_column(DateTime)
    cumulative_base_minor: Mapped[int | None] = mapped_column(BigInteger)
    cumulative_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    line_type: Mapped[str | None] = mapped_column(String(20))  # credit | clawback | release | project | member | pool | draw | adjustment
    multiplier: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    held_minor: Mapped[int | None] = mapped_column(BigInteger)
    plan_currency: Mapped[str | None] = mapped_column(String(3))
    payout_fx_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    adjusts_month: Mapped[str | None] = mapped_column(String(7), index=True)  # adjustment lines: the closed month corrected
    stage: Mapped[str | None] = mapped_column(String(40))  # staged plans: stages the order reached by month end (signed+shipped, none)
    multiplier_reason: Mapped[str | None] = mapped_column(String(200))  # month-level lines: attainment and band, score, cap / floor


class CommissionMonth(Base):
    """A closed (locked) commission month: its stored lines never change again; a rerun writes
    the differences as adjustment lines into the next open month."""

    __tablename__ = "commission_months"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(DateTime)
    lines: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))  # of the locked lines (member, amount, explanation)


class Delivery(Base):
    """The outbox: one row per version of a report sent (or written, or posted) to one recipient
    for one period. ``status`` is ``sending`` from just before the send until the server accepted
    it (``sent``); a row left ``sending`` or ``failed`` keeps the Message-ID a retry reuses."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("report_kind", "period", "recipient", "content_hash",
                                       name="uq_deliveries_version"),)
    delivery_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))  # an address, or chat:<team>:<scheme>#<url hash>
    member_id: Mapped[str | None] = mapped_column(_key())
    content_hash: Mapped[str] = mapped_column(String(64))  # the content version
    channel: Mapped[str] = mapped_column(String(20))  # smtp | outbox | chat
    location: Mapped[str | None] = mapped_column(String(1000))  # .eml path, SMTP Message-ID, apprise:<scheme>
    sent_at: Mapped[datetime] = mapped_column(DateTime)  # of the last attempt; of the send once sent
    status: Mapped[str] = mapped_column(String(20), server_default="sent")  # sending | sent | failed
    purpose: Mapped[str | None] = mapped_column(String(20))  # first | correction | resend
    sends: Mapped[int] = mapped_column(Integer, server_default="1")  # times this version was sent


class RunLock(Base):
    """At most one run of a flow at a time, whichever process or machine starts it: the row of a
    flow is its lock, held by ``owner`` (host, pid, run id) while its heartbeat keeps
    ``expires_at`` in the future. A crashed holder's lock expires; a newer run may take it then."""

    __tablename__ = "run_locks"
    flow: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # UTC; renewed by the holder's heartbeat


class Run(Base):
    """The run log: one row per flow run (scheduled, manual or backfill), with its outcome."""

    __tablename__ = "runs"
    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(40), index=True)
    period: Mapped[str | None] = mapped_column(String(10))
    idempotency_key: Mapped[str] = mapped_column(String(200), index=True)  # flow:period[:dry-run]
    flow_run_id: Mapped[str | None] = mapped_column(String(64))  # Prefect's flow run id
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC; None for manual runs
    started_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20))  # running | completed | failed
    counts: Mapped[str | None] = mapped_column(Text)  # JSON: rendered, sent, already sent, failed, ...
    error: Mapped[str | None] = mapped_column(Text)


TABLES = Base.metadata.tables
