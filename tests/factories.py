"""Tiny, exact :class:`SalesData` for tests: write only the fields a test is about.

Every frame comes out shaped like :func:`warehouse.db.read_table` returns it:
``*_minor`` int64 (nullable ``Int64`` when a value is missing), exact decimals as
``Decimal``, timestamps ``datetime64[ns]`` naive UTC. Rows are dicts; fields left
out take the defaults in :data:`DEFAULTS`. Timestamps may be ISO text
(``"2026-11-15 17:00"``, UTC), decimals text or int (``"7.1"``)::

    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00, currency="USD")],
        fx_rates=[fx("2026-11-01", "USD", "CNY", "7.1")],
    )

With no ``teams``/``members`` given, one CNY team ``T1`` with members ``M1`` and
``M2`` (role ``sales``) is used.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Mapping

import pandas as pd

from transforms.schema import INPUTS, SalesData

DEFAULTS: dict[str, dict] = {
    "teams": dict(team_id="T1", name="Team One", base_currency="CNY", lead_member_id=None),
    "members": dict(member_id="M1", name=None, team_id="T1", role="sales", manager_id=None, email=None,
                    language="en", active=True),
    "customers": dict(customer_id="C1", name=None, country=None, customer_class=None, owner_member_id=None),
    "orders": dict(source="shop", order_id="A1", platform="shopify", store="main", ordered_at="2026-11-10 03:00",
                   customer_id="C1", member_id="M1", country="France", currency="CNY", gross_minor=0,
                   discount_minor=0, tax_minor=0, shipping_minor=0, payment_terms="prepaid", status="open",
                   shipped_at=None),
    "order_lines": dict(source="shop", order_id="A1", line_no=1, sku=None, description=None, quantity="1",
                        unit_price="0", gross_minor=0, discount_minor=0, unit_cost=None, cost_minor=None),
    "refunds": dict(source="shop", refund_id="R1", order_source="shop", order_id=None, kind="refund",
                    refunded_at="2026-11-10 03:00", currency="CNY", amount_minor=0, member_id=None,
                    customer_id=None, country=None, reason=None),
    "collections": dict(source="bank", collection_id="P1", order_source="shop", order_id="A1", stage="full",
                        received_at="2026-11-10 03:00", currency="CNY", amount_minor=0),
    "fx_rates": dict(rate_date="2026-01-01", from_currency="USD", to_currency="CNY", rate="7"),
    "targets": dict(scope="member", scope_id="M1", period="2026-W46", metric="revenue", value="0", currency=None),
    "scores": dict(member_id="M1", period="2026-W46", dimension="quality", score="0"),
    "inquiries": dict(source="crm", inquiry_id="Q1", received_at="2026-11-10 03:00", first_reply_at=None,
                      owner_member_id="M1", customer_id=None, country=None, channel=None, converted_order_id=None),
    "fees": dict(source="shop", fee_id="F1", order_source="shop", order_id="A1", fee_type="referral",
                 posted_at="2026-11-10 03:00", currency="CNY", amount_minor=0),
    "product_costs": dict(source="costs", sku="SKU1", effective_from="2026-01-01", currency="CNY", unit_cost="0"),
}
DECIMALS = {"quantity", "unit_price", "unit_cost", "rate", "value", "score"}
TIMESTAMPS = {"ordered_at", "refunded_at", "received_at", "first_reply_at", "rate_date", "posted_at", "shipped_at",
              "effective_from"}


def frame(kind: str, rows: Iterable[Mapping] = ()) -> pd.DataFrame:
    """Rows of ``kind`` (a key of :data:`transforms.schema.INPUTS`) as a warehouse-shaped frame."""
    columns = INPUTS[kind]
    unknown = {k for row in rows for k in row} - set(columns)
    if unknown:
        raise KeyError(f"{kind}: unknown field(s) {sorted(unknown)}")
    records = [{**DEFAULTS[kind], **row} for row in rows]
    out = pd.DataFrame.from_records(records, columns=list(columns))
    for col in columns:
        if col.endswith("_minor"):
            out[col] = out[col].astype("Int64" if out[col].isna().any() else "int64")
        elif col in TIMESTAMPS:
            out[col] = pd.to_datetime(out[col], format="ISO8601").astype("datetime64[ns]")
        elif col in DECIMALS:
            out[col] = pd.Series([None if v is None else Decimal(str(v)) for v in out[col]], dtype=object)
        elif col == "active":
            out[col] = out[col].astype(bool)
        else:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def sales_data(
    *,
    teams: Iterable[Mapping] | None = None,
    members: Iterable[Mapping] | None = None,
    timezone: str = "Asia/Shanghai",
    default_currency: str = "CNY",
    new_customer_window_days: int = 365,
    **rows: Iterable[Mapping],
) -> SalesData:
    """A checked :class:`SalesData` from row dicts per table (``orders=[...]``, ``fx_rates=[...]``)."""
    unknown = set(rows) - set(INPUTS)
    if unknown:
        raise KeyError(f"unknown table(s) {sorted(unknown)}")
    teams = [{}] if teams is None else teams
    members = [dict(member_id="M1", name="Mei"), dict(member_id="M2", name="Li")] if members is None else members
    frames = {kind: frame(kind, rows.get(kind, ())) for kind in INPUTS if kind not in ("teams", "members")}
    return SalesData(
        teams=frame("teams", teams),
        members=frame("members", members),
        timezone=timezone,
        default_currency=default_currency,
        new_customer_window_days=new_customer_window_days,
        **frames,
    ).check()


# ----------------------------------------------------------------------------- row helpers


def order(order_id: str, ordered_at: str, gross_minor: int, **fields) -> dict:
    return dict(order_id=order_id, ordered_at=ordered_at, gross_minor=gross_minor, **fields)


def line(order_id: str, line_no: int, cost_minor: int | None, **fields) -> dict:
    return dict(order_id=order_id, line_no=line_no, cost_minor=cost_minor, **fields)


def refund(refund_id: str, refunded_at: str, amount_minor: int, order_id: str | None = None, **fields) -> dict:
    return dict(refund_id=refund_id, refunded_at=refunded_at, amount_minor=amount_minor, order_id=order_id, **fields)


def collection(collection_id: str, order_id: str, received_at: str, amount_minor: int, **fields) -> dict:
    return dict(collection_id=collection_id, order_id=order_id, received_at=received_at, amount_minor=amount_minor,
                **fields)


def fee(fee_id: str, order_id: str, amount_minor: int, **fields) -> dict:
    return dict(fee_id=fee_id, order_id=order_id, amount_minor=amount_minor, **fields)


def fx(rate_date: str, from_currency: str, to_currency: str, rate: str) -> dict:
    return dict(rate_date=rate_date, from_currency=from_currency, to_currency=to_currency, rate=rate)


def target(scope_id: str, period: str, value: str, scope: str = "member", **fields) -> dict:
    return dict(scope=scope, scope_id=scope_id, period=period, value=value, **fields)


def inquiry(inquiry_id: str, received_at: str, first_reply_at: str | None = None, **fields) -> dict:
    return dict(inquiry_id=inquiry_id, received_at=received_at, first_reply_at=first_reply_at, **fields)
