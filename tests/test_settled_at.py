"""``orders.settled_at``, derived on write (warehouse/settlement.py): kept by every orders and
collections upsert, left out of the content hash, backfilled by migration 0004, and equivalent
to the open-receivable query the weekly read used before (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, insert, inspect, or_, select, update

from warehouse import settlement
from warehouse.db import DERIVED_COLUMNS, column_hashes, frame_records, read_table, upsert_frame
from warehouse.models import TABLES

ORDERED = datetime(2026, 3, 2, 9, 30)


def _order(order_id="T1", source="b2b", **overrides) -> dict:
    return dict(
        source=source, order_id=order_id, platform="b2b", store="B2B", ordered_at=ORDERED, customer_id="C1",
        member_id="M1", country="France", currency="USD", gross_minor=100_000, discount_minor=5_000, tax_minor=3_000,
        shipping_minor=2_000, payment_terms="TT30/70", status="open",
    ) | overrides  # total 100_000


def _collection(collection_id, amount_minor, received_at, order_id="T1", **overrides) -> dict:
    return dict(source="bank", collection_id=collection_id, order_source="b2b", order_id=order_id, stage="other",
                received_at=received_at, currency="USD", amount_minor=amount_minor) | overrides


def _load(engine, table, *rows):
    with engine.begin() as conn:
        return upsert_frame(conn, table, pd.DataFrame(list(rows)))


def _settled_at(engine, order_id="T1", source="b2b"):
    o = TABLES["orders"]
    with engine.connect() as conn:
        return conn.execute(select(o.c.settled_at).where(o.c.source == source, o.c.order_id == order_id)).scalar_one()


def test_a_tt_order_is_settled_when_its_balance_arrives(engine):
    _load(engine, "orders", _order())
    assert _settled_at(engine) is None
    _load(engine, "collections", _collection("D1", 30_000, datetime(2026, 3, 3)))
    assert _settled_at(engine) is None  # deposit only
    _load(engine, "collections", _collection("D1", 30_000, datetime(2026, 3, 3)),
          _collection("B1", 70_000, datetime(2026, 4, 20, 8, 15)))
    assert _settled_at(engine) == datetime(2026, 4, 20, 8, 15)
    # a later payment on top changes nothing: the total was reached at the balance
    _load(engine, "collections", _collection("X1", 500, datetime(2026, 5, 1)))
    assert _settled_at(engine) == datetime(2026, 4, 20, 8, 15)


def test_an_order_loaded_after_its_collections_is_settled_at_once(engine):
    _load(engine, "collections", _collection("D1", 30_000, datetime(2026, 3, 3)),
          _collection("B1", 70_000, datetime(2026, 3, 9)))
    _load(engine, "orders", _order())
    assert _settled_at(engine) == datetime(2026, 3, 9)


def test_underpaid_and_other_currency_collections_leave_it_open(engine):
    _load(engine, "orders", _order())
    _load(engine, "collections", _collection("D1", 30_000, datetime(2026, 3, 3)),
          _collection("B1", 69_999, datetime(2026, 3, 9)),
          _collection("E1", 10_000_000, datetime(2026, 3, 5), currency="EUR"))
    assert _settled_at(engine) is None
    # the same order id under another order source pays nothing either
    _load(engine, "collections", _collection("S1", 1, datetime(2026, 3, 10), order_source="other"))
    assert _settled_at(engine) is None
    _load(engine, "collections", _collection("B2", 1, datetime(2026, 3, 11)))
    assert _settled_at(engine) == datetime(2026, 3, 11)


def test_a_returned_payment_opens_the_order_again_whatever_its_source(engine):
    _load(engine, "orders", _order())
    _load(engine, "collections", _collection("F1", 100_000, datetime(2026, 3, 3)))
    assert _settled_at(engine) == datetime(2026, 3, 3)
    # negative, in another currency, from another order source: matched by order id only
    _load(engine, "collections", _collection("R1", -1, datetime(2026, 3, 20), order_source="shop", currency="EUR"))
    assert _settled_at(engine) is None
    _load(engine, "collections", _collection("R1", 0, datetime(2026, 3, 20), order_source="shop", currency="EUR"))
    assert _settled_at(engine) == datetime(2026, 3, 3)  # the return corrected away: settled again


def test_a_collection_moved_to_another_order_reopens_the_first(engine):
    _load(engine, "orders", _order("T1"), _order("T2"))
    _load(engine, "collections", _collection("F1", 100_000, datetime(2026, 3, 3), order_id="T1"))
    assert (_settled_at(engine, "T1"), _settled_at(engine, "T2")) == (datetime(2026, 3, 3), None)
    _load(engine, "collections", _collection("F1", 100_000, datetime(2026, 3, 3), order_id="T2"))
    assert (_settled_at(engine, "T1"), _settled_at(engine, "T2")) == (None, datetime(2026, 3, 3))


@pytest.mark.parametrize("fields", [
    dict(payment_terms="prepaid"), dict(payment_terms=" PrePaid "), dict(status=" Cancelled"),
    dict(gross_minor=0, discount_minor=0, tax_minor=0, shipping_minor=0),
    dict(gross_minor=100, discount_minor=200, tax_minor=50, shipping_minor=0),
], ids=["prepaid", "prepaid-spaced", "cancelled", "zero-total", "negative-total"])
def test_what_is_not_owed_is_settled_when_ordered(engine, fields):
    _load(engine, "orders", _order(**fields))
    assert _settled_at(engine) == ORDERED


def test_only_plain_prepaid_or_cancelled_orders_are_decided_before_the_write():
    assert settlement.prefilled([None, " PREPAID", "tt"], ["open", None, "Cancelled "], [ORDERED] * 3) == [ORDERED] * 3
    # settlement.is_receivable (and transforms.window) count '' as terms other than prepaid
    assert settlement.prefilled([""], ["open"], [ORDERED]) == [None]
    assert settlement.prefilled(["prepaid\t"], [None], [ORDERED]) == [None]  # SQL trims spaces only: left to SQL


def test_a_returned_payment_keeps_even_a_zero_total_open(engine):
    _load(engine, "orders", _order(gross_minor=0, discount_minor=0, tax_minor=0, shipping_minor=0))
    _load(engine, "collections", _collection("R1", -5, datetime(2026, 3, 20)))
    assert _settled_at(engine) is None


def test_cancelling_or_paying_up_front_settles_an_open_order(engine):
    _load(engine, "orders", _order())
    _load(engine, "collections", _collection("R1", -1, datetime(2026, 3, 20)))
    assert _settled_at(engine) is None
    _load(engine, "orders", _order(status="cancelled"))
    assert _settled_at(engine) == ORDERED
    _load(engine, "orders", _order(status="open"))
    assert _settled_at(engine) is None
    _load(engine, "orders", _order(payment_terms="prepaid"))
    assert _settled_at(engine) == ORDERED


def test_settled_at_is_no_content(engine):
    orders = [_order("T1"), _order("P1", payment_terms="prepaid")]
    collections = [_collection("D1", 30_000, datetime(2026, 3, 3)), _collection("B1", 70_000, datetime(2026, 3, 9))]
    assert _load(engine, "orders", *orders).inserted == 2
    with engine.connect() as conn:
        before = read_table(conn, "orders").set_index("order_id")["content_hash"]
    assert _load(engine, "collections", *collections).inserted == 2
    assert _settled_at(engine) == datetime(2026, 3, 9)
    assert (_load(engine, "orders", *orders).unchanged, _load(engine, "collections", *collections).unchanged) == (2, 2)
    with engine.connect() as conn:
        after = read_table(conn, "orders")
    assert after.set_index("order_id")["content_hash"].to_dict() == before.to_dict()
    # a frame read back from the warehouse (settled_at included) is no change either, and its
    # settled_at is not taken from the frame
    tampered = after.assign(settled_at=pd.Timestamp("2000-01-01"))
    with engine.begin() as conn:
        assert upsert_frame(conn, "orders", tampered.drop(columns="content_hash")).unchanged == 2
    assert _settled_at(engine) == datetime(2026, 3, 9)
    # the hash is that of the content columns only, as before the column existed
    table = TABLES["orders"]
    content = [c.name for c in table.columns if c.name not in {"source", "order_id", "content_hash", "settled_at"}]
    row = after[after["order_id"] == "T1"]
    assert DERIVED_COLUMNS["orders"] == ("settled_at",)
    assert row["content_hash"].item() == column_hashes([[_order().get(c)] for c in content])[0]


# ----------------------------------------------------------------------------- the weekly read's question


def _old_open_receivables(conn, settled_by: datetime, cut: datetime) -> set:
    """The query warehouse/reads.py ran before settled_at: a correlated SUM over every older order."""
    o, c = TABLES["orders"], TABLES["collections"]
    paid = (select(func.coalesce(func.sum(c.c.amount_minor), 0))
            .where(c.c.order_source == o.c.source, c.c.order_id == o.c.order_id, c.c.currency == o.c.currency,
                   c.c.received_at < settled_by).scalar_subquery())
    returned = select(c.c.order_id).where(c.c.amount_minor < 0)
    rows = conn.execute(select(o.c.source, o.c.order_id).where(
        settlement.is_receivable(o), o.c.ordered_at < cut,
        or_(settlement.order_total(o) > paid, o.c.order_id.in_(returned)))).all()
    return set(map(tuple, rows))


def _new_open_receivables(conn, settled_by: datetime, cut: datetime) -> set:
    o = TABLES["orders"]
    rows = conn.execute(select(o.c.source, o.c.order_id).where(
        settlement.is_receivable(o), o.c.ordered_at < cut,
        or_(o.c.settled_at.is_(None), o.c.settled_at >= settled_by))).all()
    return set(map(tuple, rows))


def _random_history(seed: int, orders: int = 150):
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    terms = ["prepaid", "TT30/70", " tt ", "", "Prepaid ", "net30"]  # NOT NULL columns
    statuses = ["open", "cancelled", " CANCELLED ", "Open"]
    order_rows, collection_rows = [], []
    for i in range(orders):
        order_id, source = f"O{rng.randrange(orders // 2)}", rng.choice(["b2b", "shop"])  # ids shared across sources
        total = rng.choice([0, -50, 1_000, 5_000, 20_000])
        order_rows.append(_order(order_id, source, ordered_at=start + timedelta(hours=rng.randrange(2_000)),
                                 gross_minor=total, discount_minor=rng.choice([0, 10]), tax_minor=rng.choice([0, 10]),
                                 shipping_minor=0, payment_terms=rng.choice(terms), status=rng.choice(statuses),
                                 currency=rng.choice(["USD", "USD", "EUR"])))
    for j in range(orders * 2):
        target = rng.choice(order_rows)
        amount = rng.choice([1_000, 2_500, 5_000, 10_000, 20_000] * 8 + [-100])
        collection_rows.append(_collection(f"C{j}", amount, start + timedelta(hours=rng.randrange(2_500)),
                                           order_id=target["order_id"], order_source=target["source"],
                                           currency=rng.choice([target["currency"]] * 4 + ["EUR"]),
                                           source=rng.choice(["bank", "sheet"])))
    orders_frame = pd.DataFrame(order_rows).drop_duplicates(["source", "order_id"], keep="last")
    return orders_frame, pd.DataFrame(collection_rows)


def _compare_with_old_query(engine, rng_seed: int) -> int:
    rng, compared = random.Random(rng_seed), 0
    with engine.connect() as conn:
        for _ in range(25):
            settled_by = datetime(2026, 1, 1) + timedelta(hours=rng.randrange(2_600))
            cut = settled_by - timedelta(hours=rng.choice([0, 1, 200]))
            old = _old_open_receivables(conn, settled_by, cut)
            assert _new_open_receivables(conn, settled_by, cut) == old, settled_by
            compared += len(old)
    return compared


@pytest.mark.parametrize("analyze_from", [settlement.ANALYZE_FROM, 1], ids=["as-loaded", "analyzed"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_settled_at_answers_what_the_old_receivables_query_did(engine, seed, analyze_from, monkeypatch):
    # "analyzed": PostgreSQL refreshes statistics inside the load's transaction before every refresh
    monkeypatch.setattr(settlement, "ANALYZE_FROM", analyze_from)
    orders, collections = _random_history(seed)
    half = len(collections) // 2
    # in the order loads happen: some collections before their orders, some after, then corrections
    _load(engine, "collections", *collections.iloc[:half].to_dict("records"))
    _load(engine, "orders", *orders.to_dict("records"))
    _load(engine, "collections", *collections.iloc[half:].to_dict("records"))
    assert _compare_with_old_query(engine, seed) > 0
    rng = random.Random(seed)
    corrected = collections.sample(frac=0.2, random_state=seed).assign(
        amount_minor=lambda f: [rng.choice([-1, 0, 1_000, 30_000]) for _ in range(len(f))])
    _load(engine, "collections", *corrected.to_dict("records"))
    _load(engine, "orders", *orders.sample(frac=0.3, random_state=seed).assign(
        status=lambda f: [rng.choice(["open", "cancelled"]) for _ in range(len(f))],
        gross_minor=lambda f: [rng.choice([0, 3_000, 40_000]) for _ in range(len(f))]).to_dict("records"))
    _compare_with_old_query(engine, seed + 100)
    # and the whole recompute agrees with what the writes kept
    with engine.connect() as conn:
        kept = read_table(conn, "orders", columns=["source", "order_id", "settled_at"])
    with engine.begin() as conn:
        settlement.refresh_all(conn)
        again = read_table(conn, "orders", columns=["source", "order_id", "settled_at"])
    pd.testing.assert_frame_equal(again.sort_values(["source", "order_id"]).reset_index(drop=True),
                                  kept.sort_values(["source", "order_id"]).reset_index(drop=True))


# ----------------------------------------------------------------------------- migration 0004


def _alembic(engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from warehouse.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_at_0003(request, tmp_path):
    from tests.conftest import empty_warehouse
    from warehouse.db import make_engine

    engine = make_engine(empty_warehouse(request.param, tmp_path))
    _alembic(engine, "upgrade", "0003")
    yield engine
    engine.dispose()


def test_migration_backfills_settled_at_of_the_rows_already_loaded(warehouse_at_0003):
    engine = warehouse_at_0003
    orders, collections = _random_history(7)
    o, c = TABLES["orders"], TABLES["collections"]
    hashed = {t: [col.name for col in TABLES[t].columns if not col.primary_key and col.name != "content_hash"
                  and col.name not in DERIVED_COLUMNS.get(t, ())] for t in ("orders", "collections")}
    with engine.begin() as conn:  # as a 0003 warehouse holds them: no settled_at column yet
        for table, frame in ((o, orders), (c, collections)):
            rows = frame_records(frame)
            hashes = column_hashes([[row.get(col) for row in rows] for col in hashed[table.name]])
            conn.execute(insert(table).values(), [row | {"content_hash": h} for row, h in zip(rows, hashes)])
    _alembic(engine, "upgrade", "head")
    with engine.connect() as conn:
        migrated = read_table(conn, "orders", columns=["source", "order_id", "settled_at"])
    assert migrated["settled_at"].notna().any() and migrated["settled_at"].isna().any()
    with engine.begin() as conn:
        conn.execute(update(o).values(settled_at=None))
        settlement.refresh_all(conn)
        recomputed = read_table(conn, "orders", columns=["source", "order_id", "settled_at"])
    key = ["source", "order_id"]
    pd.testing.assert_frame_equal(migrated.sort_values(key).reset_index(drop=True),
                                  recomputed.sort_values(key).reset_index(drop=True))
    _compare_with_old_query(engine, 7)
    # the hashes written before the column existed still match: reloading the same rows changes nothing
    with engine.begin() as conn:
        assert upsert_frame(conn, "orders", orders).unchanged == len(orders)
        assert upsert_frame(conn, "collections", collections).unchanged == len(collections)
    _alembic(engine, "downgrade", "0003")
    with engine.connect() as conn:
        inspector = inspect(conn)
        assert "settled_at" not in {col["name"] for col in inspector.get_columns("orders")}
        assert "ix_orders_settled_at" not in {ix["name"] for ix in inspector.get_indexes("orders")}
