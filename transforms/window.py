"""The rows a weekly run needs: a smaller :class:`SalesData` with the same weekly results.

A weekly run reports one week (and the week before it), a trend of a few weeks, the month
so far and customers going quiet. :func:`weekly_window` keeps, of the history:

* every order, refund, collection and inquiry from the earliest day reported on
  (trend start, previous week, month start; minus a 2-day margin for time zones);
* per customer ordering in that window, their latest earlier counted order (so that
  "new customer" is judged exactly as on the whole history);
* every open receivable (not prepaid, not cancelled) that was not already fully paid in
  its own currency before the earliest as-of day of the outstanding figures (a paid order
  is outstanding 0 forever after, unless a payment is returned: orders with a negative
  collection are always kept);
* every order of a customer who may be going quiet (their whole history: lifetime revenue
  and owner need it);
* every order referred to by a kept refund or collection, and every collection of a kept
  order (all sources sharing an order id, as the lookups match ids across sources);
* the targets of the week, the two weeks before it and the month;
* the order lines and platform fees of the orders from the earliest day on only (costs and
  fees of older orders, kept for the reasons above, are unknown in the window's facts and
  reported nowhere); every other field of ``data`` as it is.

``member_metrics`` (week and previous week), ``team_metrics``, ``weekly_trend`` (up to
``trend_weeks``), ``mix``, ``top_customers``, ``quiet_customers`` (as of the week's last day,
``quiet_after_days``/``lookback_days``) and the month's ``credits_for_month`` computed on the
window equal those computed on the whole history (``tests/test_transforms_windowing.py``).
Other figures (e.g. commissions with lookback months) must use the whole data. Pure: input
frames are not modified.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd

from transforms.periods import Period, local_dates, month, trailing_weeks, week
from transforms.schema import SalesData

MARGIN = pd.Timedelta(days=2)  # any time zone's local day lies within this of the UTC day


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
    """``data`` reduced to what the weekly figures of ``period`` need (see module docstring)."""
    last_day = period.end - timedelta(days=1)
    span = trailing_weeks(week(last_day), max(trend_weeks, 1))
    earliest = min(span[0].start, period.previous().start, month(last_day).start)
    cut = pd.Timestamp(earliest) - MARGIN
    end = pd.Timestamp(period.end) + MARGIN
    o = data.orders
    ordered_at = _times(o["ordered_at"])
    customer = o["customer_id"].to_numpy(dtype=object)
    cancelled = _normalized(o["status"], "open") == "cancelled"
    counted = ~cancelled & pd.notna(customer)
    cust_codes, _ = pd.factorize(pd.Series(customer, dtype=object))
    recent = ordered_at >= cut
    keep = recent.copy()

    # the latest earlier counted order of each customer of the window
    before = np.flatnonzero(counted & ~recent & (cust_codes >= 0))
    window_customers = np.unique(cust_codes[recent & counted & (cust_codes >= 0)])
    candidates = before[np.isin(cust_codes[before], window_customers)]
    if len(candidates):
        order = np.lexsort((ordered_at[candidates], cust_codes[candidates]))
        ranked = candidates[order]
        last_of_customer = np.r_[cust_codes[ranked][1:] != cust_codes[ranked][:-1], True]
        keep[ranked[last_of_customer]] = True

    # customers who may be going quiet: last counted order (before the week's end) in the quiet range
    as_of = pd.Timestamp(last_day)
    until = pd.Timestamp(period.end)
    band = np.flatnonzero((ordered_at >= (until - MARGIN).to_datetime64()) & (ordered_at < end.to_datetime64()))
    by_as_of = ordered_at < (until - MARGIN).to_datetime64()
    by_as_of[band] = (local_dates(pd.Series(ordered_at[band]), data.timezone) <= as_of).to_numpy()
    upto = counted & (cust_codes >= 0) & by_as_of
    if upto.any():
        n = int(cust_codes.max()) + 1
        latest = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        idx = np.flatnonzero(upto)
        order = np.lexsort((ordered_at[idx], cust_codes[idx]))
        ranked = idx[order]
        tail = np.r_[cust_codes[ranked][1:] != cust_codes[ranked][:-1], True]
        latest[cust_codes[ranked[tail]]] = ordered_at[ranked[tail]]
        # (judged on UTC times with a margin: a few customers too many is harmless)
        low = (as_of - pd.Timedelta(days=lookback_days) - MARGIN).to_datetime64()
        high = (as_of - pd.Timedelta(days=quiet_after_days) + MARGIN).to_datetime64()
        maybe = (latest >= low) & (latest < high)
        keep |= (cust_codes >= 0) & maybe[np.where(cust_codes >= 0, cust_codes, 0)]

    # open receivables not fully paid (in their own currency) before the earliest as-of day
    terms = o["payment_terms"].to_numpy(dtype=object)
    terms = np.where(pd.isna(terms), "prepaid", terms)
    receivable = (_normalized(pd.Series(terms, dtype=object), "prepaid") != "prepaid") & ~cancelled
    if receivable.any():
        c = data.collections
        total = (
            _minor(o["gross_minor"]) - _minor(o["discount_minor"]) + _minor(o["tax_minor"]) + _minor(o["shipping_minor"])
        )
        settled_by = pd.Timestamp(period.previous().start) - MARGIN
        early = c[_times(c["received_at"]) < settled_by.to_datetime64()]
        paid = pd.DataFrame(
            {
                "source": early["order_source"].to_numpy(dtype=object),
                "order_id": early["order_id"].to_numpy(dtype=object),
                "currency": early["currency"].to_numpy(dtype=object),
                "paid": _minor(early["amount_minor"]),
            }
        ).groupby(["source", "order_id", "currency"], sort=False)["paid"].sum()
        rows = np.flatnonzero(receivable & ~keep)
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
        keep[rows[(covered < total[rows]) | returned[rows]]] = True

    r, c, q = data.refunds, data.collections, data.inquiries
    refunds = r[_times(r["refunded_at"]) >= cut]
    recent_collections = _times(c["received_at"]) >= cut
    ids = pd.Index(o["order_id"].to_numpy(dtype=object)[keep]).append(
        pd.Index(refunds["order_id"].to_numpy(dtype=object))
    ).append(pd.Index(c.loc[recent_collections, "order_id"].to_numpy(dtype=object))).dropna().unique()
    keep |= o["order_id"].isin(ids).to_numpy()
    collections = c[recent_collections | c["order_id"].isin(ids).to_numpy()]
    orders = o[keep]
    # costs matter only for orders placed in the reported days (gross profit); older orders are
    # kept for their dates, owners, totals and revenue, which do not need their lines
    lines = data.order_lines
    lines = lines[lines["order_id"].isin(o["order_id"].to_numpy(dtype=object)[recent]).to_numpy()]
    inquiries = q[_times(q["received_at"]) >= cut]
    t = data.targets
    labels = {period.label, period.previous().label, period.previous().previous().label, month(last_day).label}
    targets = t[t["period"].astype(str).str.strip().isin(labels).to_numpy()]
    fees = getattr(data, "fees", None)
    changed = dict(orders=orders, order_lines=lines, refunds=refunds, collections=collections, targets=targets,
                   inquiries=inquiries)
    if fees is not None:  # platform fees (gross profit) of the window's orders
        changed["fees"] = fees[fees["order_id"].isin(o["order_id"].to_numpy(dtype=object)[recent]).to_numpy()]
    return replace(data, **changed)
