"""The warehouse: migrations, exact round trips, idempotent upsert (SQLite and PostgreSQL)."""

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest

from warehouse.db import read_table, upsert_frame


def _orders(**overrides):
    base = dict(
        source="s1", order_id="A1", platform="b2b", store="B2B", ordered_at=datetime(2026, 11, 10, 3, 0),
        customer_id="C1", member_id="M1", country="France", currency="USD", gross_minor=123456789012,
        discount_minor=0, tax_minor=0, shipping_minor=0, payment_terms="TT30/70", status="open",
    )
    base.update(overrides)
    return pd.DataFrame([base])


def test_upsert_is_idempotent_and_detects_changes(engine):
    with engine.begin() as conn:
        first = upsert_frame(conn, "orders", _orders())
    with engine.begin() as conn:
        again = upsert_frame(conn, "orders", _orders())
    with engine.begin() as conn:
        changed = upsert_frame(conn, "orders", _orders(gross_minor=5, status="cancelled"))
    assert (first.inserted, again.unchanged, changed.updated) == (1, 1, 1)
    got = read_table(engine, "orders")
    assert got.loc[0, "gross_minor"] == 5 and got.loc[0, "status"] == "cancelled"
    assert got["gross_minor"].dtype == "int64"


def test_exact_decimals_round_trip(engine):
    line = dict(
        source="s1", order_id="A1", line_no=1, sku="X", description="箱子", quantity=Decimal("12.5"),
        unit_price=Decimal("0.1234567891"), gross_minor=154, discount_minor=0, unit_cost=None, cost_minor=None,
    )
    with engine.begin() as conn:
        upsert_frame(conn, "order_lines", pd.DataFrame([line]))
    got = read_table(engine, "order_lines")
    assert got.loc[0, "unit_price"] == Decimal("0.1234567891")
    assert got.loc[0, "quantity"] == Decimal("12.5")
    assert got.loc[0, "description"] == "箱子"
    assert pd.isna(got.loc[0, "cost_minor"])


def test_floats_are_refused_in_money_records(engine):
    with engine.begin() as conn, pytest.raises(TypeError, match="floats are not allowed"):
        upsert_frame(conn, "fx_rates", pd.DataFrame([dict(rate_date=datetime(2026, 1, 1).date(), from_currency="USD", to_currency="CNY", rate=7.1, source="x")]))
