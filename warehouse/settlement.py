"""When nothing more was owed on an order: ``orders.settled_at``, derived on write.

``settled_at`` (naive UTC) of an order is, by the first rule that applies:

* its ``ordered_at`` when it is not a receivable: ``payment_terms`` missing or ``prepaid``, or
  ``status`` ``cancelled`` (both compared trimmed of spaces and lower-cased, missing status =
  open: :func:`is_receivable`, which the weekly read uses too);
* NULL (open for good) when some collection with its ``order_id``, of any source, has
  ``amount_minor < 0`` (a payment was returned);
* its ``ordered_at`` when its total (gross - discount + tax + shipping, missing parts 0) is
  at most 0;
* otherwise the earliest ``received_at`` t of a collection of the same ``(order_source = source,
  order_id, currency)`` such that those collections received at or before t sum to at least
  the total; NULL if they never do.

So an order placed before X is "not fully paid before X, or with a returned payment" (what a
weekly run keeps as an open receivable, X = ``settled_by``) exactly when ``settled_at IS NULL
OR settled_at >= X``: without a returned payment every collection counted is positive, so
the running sum only grows and the collections before X cover the total iff it was covered at
some t < X (and a total of at most 0 is covered by nothing, at ``ordered_at`` < X).

:func:`warehouse.db.upsert_frame` keeps it: it writes :func:`prefilled` for an orders frame
(``ordered_at`` for rows that are plainly not receivables, no query needed) and then
:func:`refresh` recomputes, in the database, the rest of the orders it inserted or changed,
and every order sharing an ``order_id`` with a collection it inserted or changed. The column
is not content: it is left out of ``content_hash``.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, not_, null, select, update
from sqlalchemy.engine import Connection

from warehouse.models import TABLES

CHUNK = 500  # order ids per UPDATE ... WHERE order_id IN (...)


def is_receivable(o: Table) -> ColumnElement:
    """Not prepaid (missing terms = prepaid) and not cancelled (both trimmed and lower-cased; missing status = open)."""
    return and_(
        func.coalesce(func.lower(func.trim(o.c.payment_terms)), "prepaid") != "prepaid",
        func.coalesce(func.lower(func.trim(o.c.status)), "open") != "cancelled",
    )


def order_total(o: Table) -> ColumnElement:
    return (o.c.gross_minor - func.coalesce(o.c.discount_minor, 0) + func.coalesce(o.c.tax_minor, 0)
            + func.coalesce(o.c.shipping_minor, 0))


def settled_at_value(o: Table, c: Table) -> ColumnElement:
    """The ``settled_at`` of each row of ``o`` (see module docstring), as one SQL expression
    over its own columns and the ``c`` collections: correlated subqueries, so that it can be
    the SET of an UPDATE of ``o``."""
    paid, paid_to, returns = c.alias("paid"), c.alias("paid_to"), c.alias("returns")
    total = order_total(o)
    paid_by_then = (
        select(func.sum(paid_to.c.amount_minor))
        .where(paid_to.c.order_source == paid.c.order_source, paid_to.c.order_id == paid.c.order_id,
               paid_to.c.currency == paid.c.currency, paid_to.c.received_at <= paid.c.received_at)
        .scalar_subquery()
    )
    covered_at = (
        select(func.min(paid.c.received_at))
        .where(paid.c.order_source == o.c.source, paid.c.order_id == o.c.order_id, paid.c.currency == o.c.currency,
               paid_by_then >= total)
        .scalar_subquery()
    )
    returned = exists().where(returns.c.order_id == o.c.order_id, returns.c.amount_minor < 0)
    return case(
        (not_(is_receivable(o)), o.c.ordered_at),
        (returned, null()),
        (total <= 0, o.c.ordered_at),
        else_=covered_at,
    )


ANALYZE_FROM = 10 * CHUNK  # orders refreshed at once from which PostgreSQL gets fresh statistics first


def _plan_well(conn: Connection, analyze: bool) -> None:
    """Before recomputing ``settled_at`` on PostgreSQL, for the rest of ``conn``'s transaction:

    * no JIT compilation: the correlated subqueries of :func:`settled_at_value` have huge cost
      estimates, so PostgreSQL JIT-compiled every UPDATE (0.5 s of each 0.6 s chunk). ``SET
      LOCAL``, not a connection option: it passes through transaction-pooling proxies
      (PgBouncer), which refuse startup options;
    * with ``analyze`` (a large refresh: a first load, a big spreadsheet), ``ANALYZE orders, collections``:
      rows inserted earlier in the same transaction are invisible to autovacuum, and with the
      statistics of a (nearly) empty table the planner scanned ``collections`` for every order.
      A 180-day generated history (79,007 orders, 40,566 collections) loaded in 61 s without it,
      8 s with it; ANALYZE samples the transaction's own new rows too.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("SET LOCAL jit = off")
    if analyze:
        conn.exec_driver_sql("ANALYZE orders, collections")


def refresh(conn: Connection, order_ids: Iterable[str], source: str | None = None) -> None:
    """Recompute ``settled_at`` of the orders with these ids (of ``source``, or of every source),
    in the database, ``CHUNK`` ids per UPDATE, in ``conn``'s transaction."""
    o, c = TABLES["orders"], TABLES["collections"]
    ids = sorted(set(order_ids))
    if ids:
        _plan_well(conn, analyze=len(ids) >= ANALYZE_FROM)
    by_source = [] if source is None else [o.c.source == source]
    value = settled_at_value(o, c)
    for i in range(0, len(ids), CHUNK):
        conn.execute(update(o).where(*by_source, o.c.order_id.in_(ids[i : i + CHUNK])).values(settled_at=value))


def refresh_all(conn: Connection) -> None:
    """Recompute ``settled_at`` of every order (one UPDATE)."""
    o, c = TABLES["orders"], TABLES["collections"]
    _plan_well(conn, analyze=True)
    conn.execute(update(o).values(settled_at=settled_at_value(o, c)))


def _plainly(value, word: str) -> bool:
    """``value`` trimmed of spaces and lower-cased is ``word``, decided in Python only for ASCII text
    (where SQLite's and PostgreSQL's ``lower(trim(...))`` surely agree with Python's)."""
    return type(value) is str and value.isascii() and value.strip(" ").lower() == word


def prefilled(payment_terms: list, status: list, ordered_at: list) -> list:
    """``settled_at`` of orders given column-wise, where it needs no query: ``ordered_at`` for the
    orders that are plainly not receivables (missing or prepaid terms, cancelled), else None
    (to be computed by :func:`refresh`)."""
    not_owed = {t: t is None or _plainly(t, "prepaid") for t in set(payment_terms)}
    cancelled = {s: _plainly(s, "cancelled") for s in set(status)}
    return [at if not_owed[t] or cancelled[s] else None for t, s, at in zip(payment_terms, status, ordered_at)]


# --------------------------------------------------------------------------- kept by upsert_frame


def fill_orders(columns: dict[str, list]) -> dict[str, list]:
    """``settled_at`` of an orders frame given column-wise, before the write (:func:`prefilled`)."""
    return {"settled_at": prefilled(columns["payment_terms"], columns["status"], columns["ordered_at"])}


def after_orders(conn: Connection, columns: dict[str, list], keys: list[tuple], written: list[int], _before) -> None:
    """The receivables among the orders written (no prefilled ``settled_at``): from their collections."""
    owed: dict[str, list] = {}
    for i in written:
        if columns["settled_at"][i] is None:
            owed.setdefault(keys[i][0], []).append(keys[i][1])
    for source, order_ids in owed.items():
        refresh(conn, order_ids, source)


def orders_of_changed_collections(conn: Connection, keys: list[tuple]) -> list:
    """Before collections with these (source, collection_id) keys are updated: their stored
    ``order_id``s (a collection moved to another order changes the first order's ``settled_at`` too)."""
    c = TABLES["collections"]
    wanted, found = set(keys), []
    sources, ids = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    for i in range(0, len(ids), CHUNK):
        rows = conn.execute(select(c.c.source, c.c.collection_id, c.c.order_id)
                            .where(c.c.source.in_(sources), c.c.collection_id.in_(ids[i : i + CHUNK])))
        found += [order_id for source, collection_id, order_id in rows if (source, collection_id) in wanted]
    return found


def after_collections(conn: Connection, columns: dict[str, list], keys: list[tuple], written: list[int],
                      moved_from: list) -> None:
    """Every order (any source: a returned payment matches by order_id) sharing an ``order_id``
    with a collection written, or that a changed collection belonged to before."""
    if written or moved_from:
        refresh(conn, [columns["order_id"][i] for i in written] + moved_from)
