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


def test_read_table_gives_what_sqlalchemy_gives_value_by_value(engine):
    """read_table converts timestamps and exact decimals per column (SQLite: from the stored text);
    the values must be exactly those of SQLAlchemy's own row-by-row processing."""
    from sqlalchemy import select

    from warehouse.models import TABLES

    orders = pd.DataFrame([_orders(order_id=i, ordered_at=o, shipped_at=s).iloc[0].to_dict() for i, o, s in [
        ("A1", datetime(2026, 11, 10, 3, 0, 0, 123456), None),
        ("A2", datetime(1999, 12, 31, 23, 59, 59), datetime(2000, 1, 1)),
        ("A3", datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 2, 0, 0, 1)),
    ]])
    lines = pd.DataFrame([
        dict(source="s1", order_id=f"A{i}", line_no=1, sku="X", description=None, quantity=q, unit_price=p,
             gross_minor=1, discount_minor=0, unit_cost=c, cost_minor=None)
        for i, (q, p, c) in enumerate([(Decimal("1"), Decimal("7.10"), None), (Decimal("1"), Decimal("7.1"), Decimal("0")),
                                       (Decimal("-2.5"), Decimal("123456789012.123456789012"), Decimal("0.000000000001")),
                                       (Decimal("100"), Decimal("7.10"), None)])
    ])
    rates = pd.DataFrame([dict(rate_date=datetime(2026, 1, d).date(), from_currency="USD", to_currency="CNY",
                               rate=Decimal(r), source="x") for d, r in [(1, "7.1"), (2, "7.100"), (3, "0.000123")]])
    with engine.begin() as conn:
        for name, frame in [("orders", orders), ("order_lines", lines), ("fx_rates", rates)]:
            upsert_frame(conn, name, frame)
    with engine.connect() as conn:
        for name in ("orders", "order_lines", "fx_rates"):
            got = read_table(conn, name)
            table = TABLES[name]
            rows = conn.execute(select(*table.columns)).all()
            assert len(got) == len(rows) > 0
            for column, values in zip(table.columns, zip(*rows)):
                for have, want in zip(got[column.name].tolist(), values):
                    if want is None:
                        assert pd.isna(have), (name, column.name)
                    elif isinstance(want, Decimal):
                        assert type(have) is Decimal and str(have) == str(want), (name, column.name, have, want)
                    elif isinstance(want, datetime) or hasattr(want, "isoformat"):
                        assert pd.Timestamp(have) == pd.Timestamp(want), (name, column.name, have, want)
                    else:
                        assert have == want, (name, column.name, have, want)
            timed = [c.name for c in table.columns if c.name.endswith(("_at", "_date"))]
            assert all(str(got[c].dtype) == "datetime64[ns]" for c in timed), got.dtypes
