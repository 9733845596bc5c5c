"""The rows a weekly run needs: a smaller :class:`SalesData` with the same weekly results.

A weekly run reports one week (and the week before it), a trend of a few weeks, the month
so far and customers going quiet. :func:`weekly_window` keeps, of the history
(:class:`WindowBounds` says which days; ``warehouse.reads`` reads the same rows with SQL):

* every order, refund, collection and inquiry from the earliest day reported on
  (trend start, previous week, month start; minus a 2-day margin for time zones) up to
  the end of the month (plus the margin): nothing later changes a figure of the week;
* per customer ordering in that window, the instant of their latest earlier counted order,
  not the order: ``data.extra["previous_orders"]`` (:data:`PREVIOUS_ORDERS`), so that "new
  customer" is judged exactly as on the whole history
  (:func:`transforms.facts.previous_order_days_with`);
* every open receivable (not prepaid, not cancelled) that was not already fully paid in
  its own currency before the earliest as-of day of the outstanding figures (a paid order
  is outstanding 0 forever after, unless a payment is returned: orders with a negative
  collection are always kept);
* every order referred to by a kept refund or collection, and every collection of a kept
  order (all sources sharing an order id, as the lookups match ids across sources);
* the targets of the week, the two weeks before it and the month;
* the order lines and platform fees of the orders in the window's days only (costs and
  fees of older orders, kept for the reasons above, are unknown in the window's facts and
  reported nowhere); every other field of ``data`` as it is.

Customers who may be going quiet need their whole history (last order, order count,
owner, lifetime revenue), but not as orders: ``data.extra["earlier_orders"]`` holds, for
them only, the counted orders before the window in the few columns
:func:`transforms.customers.quiet_customers` reads (:data:`EARLIER_ORDERS`), and
``data.extra["earlier_than"]`` the window's first instant. Revenue is converted order by
order (exact, at each order's day rate), so these stay one row per order; nothing else of
those orders is computed.

``member_metrics`` (week and previous week), ``team_metrics``, ``weekly_trend`` (up to
``trend_weeks``), ``mix``, ``top_customers``, ``quiet_customers`` (as of the week's last day,
``quiet_after_days``/``lookback_days``) and the month's ``credits_for_month`` computed on the
window equal those computed on the whole history (``tests/test_transforms_windowing.py``).
Other figures (e.g. commissions with lookback months) must use the whole data. Pure: input
frames are not modified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import pandas as pd

from transforms.periods import Period, month, trailing_weeks, week
from transforms.schema import SalesData

MARGIN = pd.Timedelta(days=2)  # any time zone's local day lies within this of the UTC day

# The columns of data.extra["earlier_orders"]: quiet customers' counted orders before the window.
EARLIER_ORDERS = (
    "source", "order_id", "customer_id", "member_id", "ordered_at", "currency", "gross_minor", "discount_minor",
    "country",
)
# The columns of data.extra["previous_orders"]: per window customer, their latest counted order before it.
PREVIOUS_ORDERS = ("customer_id", "ordered_at")


@dataclass(frozen=True)
class WindowBounds:
    """The instants (naive UTC) and labels that delimit a weekly run's rows.

    Rows dated in ``[cut, end)`` are read whole. A window customer's latest earlier order
    matters from ``previous_from`` on (``None``: any): an order further back is more than
    ``new_customer_days`` before any day of the window, so the customer is new either way.
    A receivable fully paid (in its own currency) before ``settled_by`` stays paid. A customer may be going quiet when their
    latest counted order before ``quiet_until`` lies in ``[quiet_from, quiet_before)``
    (judged on UTC times with a margin: a few customers too many is harmless); when
    ``quiet_after_days`` is so small that the quiet range reaches ``quiet_until``, every
    customer ordering in ``[quiet_until, band_end)`` may be too.
    """

    cut: pd.Timestamp
    end: pd.Timestamp
    previous_from: pd.Timestamp | None
    settled_by: pd.Timestamp
    quiet_from: pd.Timestamp
    quiet_before: pd.Timestamp
    quiet_until: pd.Timestamp
    band_end: pd.Timestamp
    as_of: pd.Timestamp  # the week's last local day
    target_periods: tuple[str, ...]
    key: tuple  # what the window is cut for: data already cut for the same run is not cut again

    @property
    def band_may_be_quiet(self) -> bool:
        return self.quiet_before > self.quiet_until


def window_bounds(period: Period, trend_weeks: int = 12, quiet_after_days: int = 45,
                  lookback_days: int = 365, new_customer_days: int | None = None) -> WindowBounds:
    """The :class:`WindowBounds` of the weekly run of ``period`` (see module docstring).
    ``new_customer_days``: the longest new-customer window of the workspace and its
    commission plans (``None``: a customer's latest earlier order however old)."""
    last_day = period.end - timedelta(days=1)
    span = trailing_weeks(week(last_day), max(trend_weeks, 1))
    the_month = month(last_day)
    earliest = min(span[0].start, period.previous().start, the_month.start)
    as_of = pd.Timestamp(last_day)
    labels = (period.label, period.previous().label, period.previous().previous().label, the_month.label)
    return WindowBounds(
        cut=pd.Timestamp(earliest) - MARGIN,
        end=pd.Timestamp(max(period.end, the_month.end)) + MARGIN,
        previous_from=None if new_customer_days is None
        else pd.Timestamp(earliest) - pd.Timedelta(days=new_customer_days) - 2 * MARGIN,
        settled_by=pd.Timestamp(period.previous().start) - MARGIN,
        quiet_from=as_of - pd.Timedelta(days=lookback_days) - MARGIN,
        quiet_before=as_of - pd.Timedelta(days=quiet_after_days) + MARGIN,
        quiet_until=pd.Timestamp(period.end) - MARGIN,
        band_end=pd.Timestamp(period.end) + MARGIN,
        as_of=as_of,
        target_periods=tuple(dict.fromkeys(labels)),
        key=(period.label, trend_weeks, quiet_after_days, lookback_days),
    )


def _normalized(values: pd.Series, missing: str) -> np.ndarray:
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    lowered = np.array([str(u).strip().lower() for u in uniques] + [missing], dtype=object)
    return lowered[codes]


def _minor(series: pd.Series) -> np.ndarray:
    return series.astype("Int64").to_numpy(dtype="int64", na_value=0)


def _times(series: pd.Series) -> np.ndarray:
    return pd.to_datetime(pd.Series(series.to_numpy())).astype("datetime64[ns]").to_numpy()


def weekly_window(
    data: SalesData,
    period: Period,
    trend_weeks: int = 12,
    quiet_after_days: int = 45,
    lookback_days: int = 365,
) -> SalesData:
    """``data`` reduced to what the weekly figures of ``period`` need (see module docstring).

    Data already cut for the same run (e.g. read so from the warehouse) is returned as is; data
    cut for another run raise ``ValueError``."""
    bounds = window_bounds(period, trend_weeks, quiet_after_days, lookback_days)
    cut_for = data.extra.get("window")
    if cut_for == bounds.key:
        return data
    if cut_for is not None:  # a window lacks the history another week's figures need
        raise ValueError(f"these data were cut for the weekly run {cut_for}, not {bounds.key}: read the warehouse "
                         "again for this week (flows.common.read_weekly_data)")
    cut, end = bounds.cut.to_datetime64(), bounds.end.to_datetime64()
    o = data.orders
    ordered_at = _times(o["ordered_at"])
    customer = o["customer_id"].to_numpy(dtype=object)
    cancelled = _normalized(o["status"], "open") == "cancelled"
    counted = ~cancelled & pd.notna(customer)
    cust_codes, _ = pd.factorize(pd.Series(customer, dtype=object))
    recent = (ordered_at >= cut) & (ordered_at < end)
    keep = recent.copy()

    # the instant of the latest earlier counted order of each customer of the window
    before = np.flatnonzero(counted & (ordered_at < cut) & (cust_codes >= 0))
    window_customers = np.unique(cust_codes[recent & counted & (cust_codes >= 0)])
    candidates = before[np.isin(cust_codes[before], window_customers)]
    order = np.lexsort((ordered_at[candidates], cust_codes[candidates]))
    ranked = candidates[order]
    latest = ranked[np.r_[cust_codes[ranked][1:] != cust_codes[ranked][:-1], True]] if len(ranked) else ranked
    previous = pd.DataFrame({"customer_id": customer[latest], "ordered_at": ordered_at[latest]})

    earlier = _earlier_orders(o, bounds, ordered_at, counted, cust_codes)
    keep |= _unpaid_receivables(data, bounds, ordered_at, cancelled, keep)

    r, c, q = data.refunds, data.collections, data.inquiries
    refunded_at = _times(r["refunded_at"])
    refunds = r[(refunded_at >= cut) & (refunded_at < end)]
    received_at = _times(c["received_at"])
    recent_collections = (received_at >= cut) & (received_at < end)
    ids = pd.Index(o["order_id"].to_numpy(dtype=object)[keep]).append(
        pd.Index(refunds["order_id"].to_numpy(dtype=object))
    ).append(pd.Index(c.loc[recent_collections, "order_id"].to_numpy(dtype=object))).dropna().unique()
    keep |= o["order_id"].isin(ids).to_numpy()
    collections = c[recent_collections | c["order_id"].isin(ids).to_numpy()]
    orders = o[keep]
    # costs matter only for orders placed in the reported days (gross profit); older orders are
    # kept for their dates, owners, totals and revenue, which do not need their lines
    recent_ids = o["order_id"].to_numpy(dtype=object)[recent]
    lines = data.order_lines
    lines = lines[lines["order_id"].isin(recent_ids).to_numpy()]
    received = _times(q["received_at"])
    inquiries = q[(received >= cut) & (received < end)]
    t = data.targets
    targets = t[t["period"].astype(str).str.strip().isin(bounds.target_periods).to_numpy()]
    changed = dict(orders=orders, order_lines=lines, refunds=refunds, collections=collections, targets=targets,
                   inquiries=inquiries, extra={**data.extra, **window_extra(earlier, previous, bounds)})
    fees = getattr(data, "fees", None)
    if fees is not None:  # platform fees (gross profit) of the window's orders
        changed["fees"] = fees[fees["order_id"].isin(recent_ids).to_numpy()]
    return replace(data, **changed)


def window_extra(earlier_orders: pd.DataFrame, previous_orders: pd.DataFrame, bounds: WindowBounds) -> dict:
    """The ``data.extra`` entries of a window (see module docstring)."""
    return {"earlier_orders": earlier_orders[list(EARLIER_ORDERS)].reset_index(drop=True),
            "previous_orders": previous_orders[list(PREVIOUS_ORDERS)].reset_index(drop=True),
            "earlier_than": bounds.cut, "window": bounds.key}


def _earlier_orders(o: pd.DataFrame, bounds: WindowBounds, ordered_at: np.ndarray, counted: np.ndarray,
                    cust_codes: np.ndarray) -> pd.DataFrame:
    """The counted orders before the window of customers who may be going quiet (EARLIER_ORDERS)."""
    upto = counted & (cust_codes >= 0) & (ordered_at < bounds.quiet_until.to_datetime64())
    maybe = np.zeros(len(o), dtype=bool)
    if upto.any():
        n = int(cust_codes.max()) + 1
        latest = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        idx = np.flatnonzero(upto)
        order = np.lexsort((ordered_at[idx], cust_codes[idx]))
        ranked = idx[order]
        tail = np.r_[cust_codes[ranked][1:] != cust_codes[ranked][:-1], True]
        latest[cust_codes[ranked[tail]]] = ordered_at[ranked[tail]]
        quiet = (latest >= bounds.quiet_from.to_datetime64()) & (latest < bounds.quiet_before.to_datetime64())
        if bounds.band_may_be_quiet:
            band = counted & (ordered_at >= bounds.quiet_until.to_datetime64()) & (
                ordered_at < bounds.band_end.to_datetime64()) & (cust_codes >= 0)
            quiet[np.unique(cust_codes[band])] = True
        maybe = (cust_codes >= 0) & quiet[np.where(cust_codes >= 0, cust_codes, 0)]
    return o[maybe & counted & (ordered_at < bounds.cut.to_datetime64())]


def _unpaid_receivables(data: SalesData, bounds: WindowBounds, ordered_at: np.ndarray, cancelled: np.ndarray,
                        keep: np.ndarray) -> np.ndarray:
    """Orders not kept yet that are open receivables not fully paid (in their own currency)
    before ``bounds.settled_by``, or that had a payment returned."""
    o = data.orders
    found = np.zeros(len(o), dtype=bool)
    terms = o["payment_terms"].to_numpy(dtype=object)
    terms = np.where(pd.isna(terms), "prepaid", terms)
    receivable = (_normalized(pd.Series(terms, dtype=object), "prepaid") != "prepaid") & ~cancelled
    if not receivable.any():
        return found
    c = data.collections
    total = _minor(o["gross_minor"]) - _minor(o["discount_minor"]) + _minor(o["tax_minor"]) + _minor(o["shipping_minor"])
    early = c[_times(c["received_at"]) < bounds.settled_by.to_datetime64()]
    paid = pd.DataFrame(
        {
            "source": early["order_source"].to_numpy(dtype=object),
            "order_id": early["order_id"].to_numpy(dtype=object),
            "currency": early["currency"].to_numpy(dtype=object),
            "paid": _minor(early["amount_minor"]),
        }
    ).groupby(["source", "order_id", "currency"], sort=False)["paid"].sum()
    rows = np.flatnonzero(receivable & ~keep & (ordered_at < bounds.end.to_datetime64()))
    owed = pd.MultiIndex.from_arrays(
        [
            o["source"].to_numpy(dtype=object)[rows],
            o["order_id"].to_numpy(dtype=object)[rows],
            o["currency"].to_numpy(dtype=object)[rows],
        ]
    )
    covered = paid.reindex(owed, fill_value=0).to_numpy(dtype="int64")
    # a negative collection (a payment returned) could open a paid order again: keep those orders
    returned = o["order_id"].isin(c.loc[(_minor(c["amount_minor"]) < 0), "order_id"].dropna().unique()).to_numpy()
    found[rows[(covered < total[rows]) | returned[rows]]] = True
    return found
