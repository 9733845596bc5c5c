"""Reading only what a weekly run needs: WHERE clauses instead of whole tables.

A weekly run's cost must follow the week, not the history. :func:`read_weekly_window`
reads the rows :func:`transforms.window.weekly_window` would keep of the whole tables
(its module docstring says which and why), selected by the database, so that the rows
that cross the wire, and everything computed on them, do not grow with the history:

* orders, refunds, collections and inquiries dated in ``[cut, end)``;
* per customer ordering in that window, the instant of their latest earlier counted order
  (from ``previous_from`` on; ``previous_orders``, not the order itself); it, and who may be
  going quiet (below), come from one GROUP BY over a range of the ordered_at index
  (:func:`latest_orders`, about a year);
* open receivables not fully paid (in their own currency) before ``settled_by``, and
  orders that had a payment returned;
* orders sharing an id with a kept order, refund or collection, and every collection
  of a kept order id;
* for customers who may be going quiet (their latest counted order before
  ``quiet_until`` in ``[quiet_from, quiet_before)``: ordered in that range and not after it,
  within the lookback year), their counted orders before ``cut`` in the few columns the
  quiet list reads (``earlier_orders``). One row per order, not a sum: lifetime revenue and
  the owner's share are converted order by order at each order's day rate, exactly as on
  the whole history, and a sum converted once would round differently;
* the customers of all those rows, the targets of ``target_periods``, the order lines and
  fees of the window's orders; the small tables (teams, members, FX rates, scores) whole.

Finding the open receivables reads a range of the ``orders.settled_at`` index (maintained on
write, see :mod:`warehouse.settlement`: NULL or at/after ``settled_by``) instead of summing
every older order's collections. Still growing with the history: the year scanned by
:func:`latest_orders` (until the history is a year long), and the quiet candidates' lifetimes,
which are as long as they are.

Everything goes through :func:`warehouse.db.read_table`, so the types are exactly those of a
whole-table read (int64 minor units, Decimal, naive UTC datetime64). SQLAlchemy Core only:
the same statements run on SQLite and PostgreSQL. The days are those of
:func:`transforms.window.window_bounds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Table, and_, case, func, select, tuple_
from sqlalchemy.engine import Connection

from transforms.window import EARLIER_ORDERS, WindowBounds
from warehouse.db import as_stored, instants, read_table
from warehouse.models import TABLES
from warehouse.settlement import is_receivable

SMALL_TABLES = {  # tables that grow with the team, the calendar or the catalogue, not with the sales
    "teams": "teams", "members": "members", "fx_rates": "fx_rates", "scores": "evaluation_scores",
    "product_costs": "product_costs",
}
CHUNK = 2_000  # values per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
ORDER_KEY = ["source", "order_id"]


def _t(name: str) -> Table:
    return TABLES[name]


def _counted(o: Table) -> ColumnElement:
    """Not cancelled and with a customer (``status`` compared trimmed and lower-cased, missing = open)."""
    return and_(func.coalesce(func.lower(func.trim(o.c.status)), "open") != "cancelled", o.c.customer_id.is_not(None))


def _between(column, start, end) -> ColumnElement:
    return and_(column >= start.to_pydatetime(), column < end.to_pydatetime())


def _union(frames: list[pd.DataFrame], key: list[str]) -> pd.DataFrame:
    """Rows of ``frames`` once each (by ``key``), in time of first appearance."""
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.drop_duplicates(key).reset_index(drop=True)


def _chunks(values: list) -> list[list]:
    """``values`` in lists of at most ``CHUNK`` (one ``IN (...)`` each)."""
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _any_of(conn: Connection, table: str, key: list[str], *alternatives: list) -> pd.DataFrame:
    """Rows of ``table`` matching any of ``alternatives`` (each a list of WHERE clauses, ANDed),
    once each (by ``key``). One statement per alternative, never one with ``OR``: with an OR,
    SQLite walks a whole index instead of two ranges, and PostgreSQL runs ``x IN (subquery) OR
    ...`` as a subplan scanned for every row when it does not expect the ids to fit in
    ``work_mem`` (the collections of a year of history: 120 s); each alternative alone is an
    index range, a hash join or index lookups."""
    return _union([read_table(conn, table, where) for where in alternatives], key)


def _sources(conn: Connection) -> list[str]:
    """Distinct order sources, by walking the primary key index (a handful of lookups, no scan)."""
    o = _t("orders")
    found: list[str] = []
    while True:
        stmt = select(func.min(o.c.source))
        if found:
            stmt = stmt.where(o.c.source > found[-1])
        nxt = conn.execute(stmt).scalar()
        if nxt is None:
            return found
        found.append(nxt)


@dataclass(frozen=True)
class Latest:
    """Per customer, what one scan of a year of orders tells (see :func:`latest_orders`)."""

    before_cut: pd.Series  # customer -> their latest counted order before ``cut`` (from ``previous_from`` on)
    quiet: list  # customers who may be going quiet (module docstring)


def latest_orders(conn: Connection, bounds: WindowBounds) -> Latest:
    """One GROUP BY over the ordered_at index from the earlier of ``previous_from`` and
    ``quiet_from`` on: per customer, the latest counted order before ``cut`` (from
    ``previous_from`` on; ``previous_from`` None: however old), the latest in ``[quiet_from,
    quiet_until)`` and whether they ordered in ``[quiet_until, band_end)``. A customer may be
    going quiet when that latest order lies before ``min(quiet_before, quiet_until)`` (ordered
    in the quiet range and not after it), or, when the quiet range reaches the week's last days,
    when they ordered in ``[quiet_until, band_end)``."""
    o = _t("orders")
    at = o.c.ordered_at
    cut, until, band_end = (bounds.cut.to_pydatetime(), bounds.quiet_until.to_pydatetime(),
                            bounds.band_end.to_pydatetime())
    quiet_from = bounds.quiet_from.to_pydatetime()
    since = None if bounds.previous_from is None else bounds.previous_from.to_pydatetime()
    earliest = [] if since is None else [at >= min(since, quiet_from)]
    before_cut = and_(at < cut, *([] if since is None else [at >= since]))
    # the instants as the database gives them (text on SQLite), parsed once per column, not per value
    latest = lambda when: as_stored(func.max(case((when, at))))  # noqa: E731
    rows = conn.execute(
        select(o.c.customer_id, latest(before_cut), latest(_between(at, bounds.quiet_from, bounds.quiet_until)),
               latest(_between(at, bounds.quiet_until, bounds.band_end)))
        .where(_counted(o), at < max(cut, until, band_end), *earliest)
        .group_by(o.c.customer_id)
    ).all()
    found = pd.DataFrame.from_records(rows, columns=["customer_id", "before_cut", "quiet", "band"])
    customers = found["customer_id"].to_numpy(dtype=object)
    last, quiet_last, band = (instants(found[c]).to_numpy() for c in ("before_cut", "quiet", "band"))
    quiet = quiet_last < min(bounds.quiet_before, bounds.quiet_until).to_datetime64()  # NaT compares False
    if bounds.band_may_be_quiet:
        quiet |= ~np.isnat(band)
    known = ~np.isnat(last)
    return Latest(before_cut=pd.Series(last[known], index=customers[known]), quiet=sorted(customers[quiet]))


def _window_orders(conn: Connection, bounds: WindowBounds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders of the window; and, before it, the open receivables not fully paid by
    ``settled_by`` (or with a payment returned)."""
    o = _t("orders")
    cut = bounds.cut.to_pydatetime()
    # open receivables: settled_at (warehouse/settlement.py) NULL (never fully paid, or a payment
    # returned) or at/after settled_by: two ranges of the settled_at index (:func:`_any_of`)
    owed = [is_receivable(o), o.c.ordered_at < cut]
    window = read_table(conn, "orders", [_between(o.c.ordered_at, bounds.cut, bounds.end)])
    earlier = _any_of(conn, "orders", ORDER_KEY, [*owed, o.c.settled_at.is_(None)],
                      [*owed, o.c.settled_at >= bounds.settled_by.to_pydatetime()])
    return window, earlier


def _previous_orders(latest: Latest, window: pd.DataFrame) -> pd.DataFrame:
    """PREVIOUS_ORDERS: each window customer's latest counted order before ``cut`` (from
    ``previous_from`` on, :func:`latest_orders`), by its instant: the order itself is not read.
    (A customer whose window orders are all cancelled may be listed: the facts apply these to
    counted orders only.)"""
    theirs = latest.before_cut[latest.before_cut.index.isin(window["customer_id"].dropna())].sort_index()
    return pd.DataFrame({"customer_id": theirs.index.to_numpy(dtype=object),
                         "ordered_at": theirs.to_numpy(dtype="datetime64[ns]")})


def _same_ids_elsewhere(conn: Connection, kept: pd.DataFrame, sources: list[str]) -> list[pd.DataFrame]:
    """Orders of other sources having the id of a ``kept`` order (not the kept orders again:
    per source, ids looked up in every other source)."""
    o = _t("orders")
    found = []
    for source, ids in kept.groupby("source", sort=True)["order_id"]:
        others, ids = [s for s in sources if s != source], sorted(set(ids))
        found += [read_table(conn, "orders", [o.c.source.in_(others), o.c.order_id.in_(chunk)])
                  for chunk in _chunks(ids) if others]
    return found


def read_weekly_window(conn: Connection, bounds: WindowBounds) -> dict[str, pd.DataFrame]:
    """The frames of a weekly run's :class:`~transforms.schema.SalesData` (keys as its fields)
    plus ``earlier_orders`` and ``previous_orders`` (see module docstring)."""
    o, r, c, q, f = _t("orders"), _t("refunds"), _t("collections"), _t("inquiries"), _t("fees")
    lines, customers, t = _t("order_lines"), _t("customers"), _t("targets")
    frames = {name: read_table(conn, table) for name, table in SMALL_TABLES.items()}
    in_window = _between(o.c.ordered_at, bounds.cut, bounds.end)
    latest = latest_orders(conn, bounds)
    window, kept_before = _window_orders(conn, bounds)
    refunds = read_table(conn, "refunds", [_between(r.c.refunded_at, bounds.cut, bounds.end)])
    received = _between(c.c.received_at, bounds.cut, bounds.end)
    # the kept order ids: the database's for the window's rows, a short list for older kept orders
    window_ids = select(o.c.order_id).where(in_window)
    ids = window_ids.union(select(r.c.order_id).where(_between(r.c.refunded_at, bounds.cut, bounds.end)),
                           select(c.c.order_id).where(received))
    older_ids = sorted(set(kept_before["order_id"]))
    sources = _sources(conn)
    # orders outside the window sharing a kept id (any source): the lookups match ids across sources
    referenced = _union([
        read_table(conn, "orders", [o.c.source.in_(sources), o.c.order_id.in_(ids), ~in_window]),
        *_same_ids_elsewhere(conn, kept_before, sources),
    ], ORDER_KEY)
    orders = _union([window, kept_before, referenced], ORDER_KEY)
    # received in the window; else of a kept id (the window's, or an older kept order's)
    collections = _any_of(conn, "collections", ["source", "collection_id"], [received],
                          [c.c.order_id.in_(ids), ~received], *[[c.c.order_id.in_(chunk)] for chunk in _chunks(older_ids)])
    earlier = pd.concat([read_table(conn, "orders", [_counted(o), o.c.ordered_at < bounds.cut.to_pydatetime(),
                                                   o.c.customer_id.in_(chunk)], columns=list(EARLIER_ORDERS))
                         for chunk in _chunks(latest.quiet) or [[]]], ignore_index=True)
    inquiries = read_table(conn, "inquiries", [_between(q.c.received_at, bounds.cut, bounds.end)])
    others = (set(kept_before["customer_id"].dropna()) | set(referenced["customer_id"].dropna())
              | set(earlier["customer_id"])) - set(window["customer_id"].dropna())
    customer_ids = select(o.c.customer_id).where(in_window).union(
        select(r.c.customer_id).where(_between(r.c.refunded_at, bounds.cut, bounds.end)),
        select(q.c.customer_id).where(_between(q.c.received_at, bounds.cut, bounds.end)),
    )
    frames.update(
        orders=orders,
        # costs and fees of the window's orders only (older ones are reported nowhere)
        order_lines=read_table(conn, "order_lines", [tuple_(lines.c.source, lines.c.order_id).in_(
            select(o.c.source, o.c.order_id).where(in_window))]),
        fees=read_table(conn, "fees", [f.c.order_id.in_(window_ids)]),
        refunds=refunds,
        collections=collections,
        inquiries=inquiries,
        customers=_any_of(conn, "customers", ["customer_id"], [customers.c.customer_id.in_(customer_ids)],
                          *[[customers.c.customer_id.in_(chunk)] for chunk in _chunks(sorted(others))]),
        targets=read_table(conn, "targets", [func.trim(t.c.period).in_(list(bounds.target_periods))]),
        earlier_orders=earlier,
        previous_orders=_previous_orders(latest, window),
    )
    return frames
