"""Credited transactions with everything a plan may look at (pure: frames in, frame out).

:func:`plan_credits` returns the CREDITS columns for several months at once (stages and
clawbacks look back at earlier months) plus :data:`CREDIT_EXTRAS`: the customer's class
inputs, the order's stage events (signed / shipped / collected days), its gross profit,
and for refunds the refunded order's amount (to claw back the right fraction). With
``collections=True`` the collections received are credits too (kind ``collection``: the
base of ``basis: collected`` plans).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.facts import Facts, sales_facts
from transforms.periods import Period, in_period, local_dates
from transforms.schema import CREDITS, SalesData

CREDIT_EXTRAS = (
    "customer_id",
    "key_account",  # the customer's class in customers is key_account
    "previous_order_day",  # the customer's latest earlier order day (NaT: none) - new vs returning
    "gross_profit_minor",  # base currency; <NA> when some line has no cost (orders only)
    "signed_day", "shipped_day", "collected_day",  # stage events of the credit's order (NaT: not yet)
    "order_original_minor", "order_currency",  # the (refunded) order's revenue in its own currency
    "order_base_minor",  # ... and in the base currency
)


def _collected_days(o: pd.DataFrame, c: pd.DataFrame) -> np.ndarray:
    """Per order (positionally): the local day its collections first reach its total; prepaid
    orders are collected when placed; NaT while money is outstanding."""
    out = np.where(o["prepaid"].to_numpy(dtype=bool), o["order_day"].to_numpy(), np.datetime64("NaT"))
    if c.empty:
        return out.astype("datetime64[ns]")
    matched = c[c["matched"].to_numpy(dtype=bool)].sort_values("received_day", kind="stable")
    running = matched.groupby(["order_source", "order_id"], sort=False)["amount_minor"].cumsum()
    totals = pd.Series(o["total_minor"].to_numpy("int64"), index=pd.MultiIndex.from_arrays(
        [o["source"].to_numpy(dtype=object), o["order_id"].to_numpy(dtype=object)]))
    need = totals.reindex(pd.MultiIndex.from_arrays([matched["order_source"], matched["order_id"]])).to_numpy()
    done = matched[running.to_numpy() >= need]
    first = done.groupby(["order_source", "order_id"], sort=False)["received_day"].min()
    keys = pd.MultiIndex.from_arrays([o["source"].to_numpy(dtype=object), o["order_id"].to_numpy(dtype=object)])
    found = first.reindex(keys).to_numpy()
    return np.where(pd.isna(found), out, found).astype("datetime64[ns]")


def _shipped_days(data: SalesData, o: pd.DataFrame) -> np.ndarray:
    """Per order (positionally): the local day of its first shipment, which releases a plan's
    ``shipped`` stage - the order's own ``shipped_at`` (warehouse orders: a spreadsheet column or
    the platform's fulfilments), or an earlier one in ``data.extra["shipments"]`` (order_source,
    order_id, shipped_at naive UTC) when given; NaT while not shipped (the portion stays held)."""
    nat = np.full(len(o), np.datetime64("NaT"), dtype="datetime64[ns]")
    own = nat
    if "shipped_at" in o.columns and len(o):
        own = local_dates(pd.Series(pd.to_datetime(o["shipped_at"]).to_numpy()), data.timezone).to_numpy().astype("datetime64[ns]")
    shipments = data.extra.get("shipments") if data.extra else None
    if shipments is None or len(shipments) == 0:
        return own
    days = local_dates(pd.Series(pd.to_datetime(shipments["shipped_at"]).to_numpy()), data.timezone)
    first = pd.Series(days.to_numpy(), index=pd.MultiIndex.from_arrays(
        [shipments["order_source"].to_numpy(dtype=object), shipments["order_id"].to_numpy(dtype=object)])).groupby(level=[0, 1]).min()
    keys = pd.MultiIndex.from_arrays([o["source"].to_numpy(dtype=object), o["order_id"].to_numpy(dtype=object)])
    return np.fmin(own, first.reindex(keys).to_numpy().astype("datetime64[ns]"))  # fmin: NaT only where both are


def plan_credits(data: SalesData, months: list[Period], facts: Facts | None = None, collections: bool = True) -> pd.DataFrame:
    """CREDITS + :data:`CREDIT_EXTRAS` for every month in ``months`` (``month`` column set)."""
    facts = sales_facts(data) if facts is None else facts
    o, r, c = facts.orders, facts.refunds, facts.collections
    key_accounts = set(
        data.customers.loc[data.customers["customer_class"].astype(str).str.strip().str.lower() == "key_account", "customer_id"]
    ) if len(data.customers) else set()
    collected = _collected_days(o, c)
    shipped = _shipped_days(data, o)
    order_index = pd.MultiIndex.from_arrays([o["source"].to_numpy(dtype=object), o["order_id"].to_numpy(dtype=object)])
    frames = []
    for month in months:
        placed = np.flatnonzero((in_period(o["order_day"], month) & ~o["cancelled"] & o["attributed"]).to_numpy())
        refunded = np.flatnonzero((in_period(r["refund_day"], month) & r["counted"] & r["attributed"]).to_numpy())
        parts = []
        op = o.iloc[placed]
        parts.append(pd.DataFrame({
            "month": month.label, "member_id": op["member_id"].to_numpy(dtype=object), "team_id": op["team_id"].to_numpy(dtype=object),
            "kind": "order", "source": op["source"].to_numpy(dtype=object), "record_id": op["order_id"].to_numpy(dtype=object),
            "order_source": op["source"].to_numpy(dtype=object), "order_id": op["order_id"].to_numpy(dtype=object),
            "credited_at": op["ordered_at"].to_numpy(), "credited_date": op["order_day"].to_numpy(),
            "base_minor": op["revenue_minor"].to_numpy("int64"), "currency": op["currency"].to_numpy(dtype=object),
            "fx_rate": op["fx_rate"].to_numpy(dtype=object), "original_currency": op["order_currency"].to_numpy(dtype=object),
            "original_amount_minor": op["revenue_original_minor"].to_numpy("int64"),
            "customer_id": op["customer_id"].to_numpy(dtype=object),
            "previous_order_day": op["previous_order_day"].to_numpy(),
            "gross_profit_minor": op["gross_profit_minor"].array,
            "signed_day": op["order_day"].to_numpy(), "shipped_day": shipped[placed], "collected_day": collected[placed],
            "order_original_minor": op["revenue_original_minor"].to_numpy("int64"),
            "order_currency": op["order_currency"].to_numpy(dtype=object),
            "order_base_minor": op["revenue_minor"].to_numpy("int64"),
        }))
        rp = r.iloc[refunded]
        pos = order_index.get_indexer(pd.MultiIndex.from_arrays([rp["order_source"].to_numpy(dtype=object), rp["order_id"].to_numpy(dtype=object)]))
        has = pos >= 0
        safe = np.where(has, pos, 0)

        def of_order(column, missing):
            values = o[column].to_numpy()[safe] if len(o) else np.array([missing] * len(rp), dtype=object)
            return np.where(has, values, missing)

        parts.append(pd.DataFrame({
            "month": month.label, "member_id": rp["member_id"].to_numpy(dtype=object), "team_id": rp["team_id"].to_numpy(dtype=object),
            "kind": rp["kind"].to_numpy(dtype=object), "source": rp["source"].to_numpy(dtype=object),
            "record_id": rp["refund_id"].to_numpy(dtype=object), "order_source": rp["order_source"].to_numpy(dtype=object),
            "order_id": rp["order_id"].to_numpy(dtype=object), "credited_at": rp["refunded_at"].to_numpy(),
            "credited_date": rp["refund_day"].to_numpy(), "base_minor": -rp["amount_minor"].to_numpy("int64"),
            "currency": rp["currency"].to_numpy(dtype=object), "fx_rate": rp["fx_rate"].to_numpy(dtype=object),
            "original_currency": rp["original_currency"].to_numpy(dtype=object),
            "original_amount_minor": -rp["amount_original_minor"].to_numpy("int64"),
            "customer_id": rp["customer_id"].to_numpy(dtype=object),
            "previous_order_day": of_order("previous_order_day", np.datetime64("NaT")),
            "gross_profit_minor": pd.array([pd.NA] * len(rp), dtype="Int64"),
            "signed_day": of_order("order_day", np.datetime64("NaT")),  # the refunded order's day (class window)
            "shipped_day": np.full(len(rp), np.datetime64("NaT"), dtype="datetime64[ns]"),
            "collected_day": np.full(len(rp), np.datetime64("NaT"), dtype="datetime64[ns]"),
            "order_original_minor": pd.array(of_order("revenue_original_minor", None), dtype="Int64"),
            "order_currency": of_order("order_currency", None).astype(object),
            "order_base_minor": pd.array(of_order("revenue_minor", None), dtype="Int64"),
        }))
        if collections and len(c):
            got = np.flatnonzero((in_period(c["received_day"], month) & c["matched"] & c["attributed"]).to_numpy())
            cp = c.iloc[got]
            pos = order_index.get_indexer(pd.MultiIndex.from_arrays([cp["order_source"].to_numpy(dtype=object), cp["order_id"].to_numpy(dtype=object)]))
            live = pos >= 0
            cp, pos = cp[live], pos[live]
            cp = cp[~o["cancelled"].to_numpy()[pos]]
            pos = order_index.get_indexer(pd.MultiIndex.from_arrays([cp["order_source"].to_numpy(dtype=object), cp["order_id"].to_numpy(dtype=object)]))
            parts.append(pd.DataFrame({
                "month": month.label, "member_id": cp["member_id"].to_numpy(dtype=object), "team_id": cp["team_id"].to_numpy(dtype=object),
                "kind": "collection", "source": cp["source"].to_numpy(dtype=object), "record_id": cp["collection_id"].to_numpy(dtype=object),
                "order_source": cp["order_source"].to_numpy(dtype=object), "order_id": cp["order_id"].to_numpy(dtype=object),
                "credited_at": cp["received_at"].to_numpy(), "credited_date": cp["received_day"].to_numpy(),
                "base_minor": cp["amount_minor"].to_numpy("int64"), "currency": cp["currency"].to_numpy(dtype=object),
                "fx_rate": cp["fx_rate"].to_numpy(dtype=object), "original_currency": cp["original_currency"].to_numpy(dtype=object),
                "original_amount_minor": cp["amount_original_minor"].to_numpy("int64"),
                "customer_id": o["customer_id"].to_numpy(dtype=object)[pos],
                "previous_order_day": o["previous_order_day"].to_numpy()[pos],
                "gross_profit_minor": pd.array([pd.NA] * len(cp), dtype="Int64"),
                "signed_day": np.full(len(cp), np.datetime64("NaT"), dtype="datetime64[ns]"),
                "shipped_day": np.full(len(cp), np.datetime64("NaT"), dtype="datetime64[ns]"),
                "collected_day": np.full(len(cp), np.datetime64("NaT"), dtype="datetime64[ns]"),
                "order_original_minor": pd.array(o["revenue_original_minor"].to_numpy("int64")[pos], dtype="Int64"),
                "order_currency": o["order_currency"].to_numpy(dtype=object)[pos],
                "order_base_minor": pd.array(o["revenue_minor"].to_numpy("int64")[pos], dtype="Int64"),
            }))
        frames.extend(p for p in parts if len(p))
    columns = list(CREDITS + CREDIT_EXTRAS)
    if not frames:
        return empty_credits()
    out = pd.concat(frames, ignore_index=True)
    out["key_account"] = out["customer_id"].isin(key_accounts).to_numpy()
    for col in ("credited_date", "previous_order_day", "signed_day", "shipped_day", "collected_day"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out["credited_at"] = pd.to_datetime(out["credited_at"]).astype("datetime64[ns]")
    out["base_minor"] = out["base_minor"].astype("int64")
    out["original_amount_minor"] = out["original_amount_minor"].astype("int64")
    return out[columns]


def empty_credits() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in CREDITS + CREDIT_EXTRAS})
    for col in ("base_minor", "original_amount_minor"):
        frame[col] = frame[col].astype("int64")
    for col in ("credited_at", "credited_date", "previous_order_day", "signed_day", "shipped_day", "collected_day"):
        frame[col] = frame[col].astype("datetime64[ns]")
    frame["key_account"] = frame["key_account"].astype(bool)
    for col in ("gross_profit_minor", "order_original_minor", "order_base_minor"):
        frame[col] = frame[col].astype("Int64")
    return frame


def with_extras(credits: pd.DataFrame) -> pd.DataFrame:
    """Credits from elsewhere (CREDITS only, e.g. a simulation CSV) with neutral extras added:
    no customer history (new customers), no cost, signed on the credited day, no shipment
    or collection known, and the order amount of a refund unknown."""
    missing = [c for c in CREDIT_EXTRAS if c not in credits.columns]
    if not missing:
        return credits  # nothing to add: the (wide) frame is not copied; callers never write into it
    out = credits.copy()
    n = len(out)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    defaults = {
        "customer_id": lambda: np.full(n, None, dtype=object),
        "key_account": lambda: np.zeros(n, dtype=bool),
        "previous_order_day": lambda: nat,
        "gross_profit_minor": lambda: pd.array([pd.NA] * n, dtype="Int64"),
        "signed_day": lambda: np.where(out["kind"].to_numpy(dtype=object) == "order", pd.to_datetime(out["credited_date"]).to_numpy(), nat),
        "shipped_day": lambda: nat,
        "collected_day": lambda: nat,
        "order_original_minor": lambda: pd.array([pd.NA] * n, dtype="Int64"),
        "order_currency": lambda: np.full(n, None, dtype=object),
        "order_base_minor": lambda: pd.array([pd.NA] * n, dtype="Int64"),
    }
    for col, make in defaults.items():
        if col not in out.columns:
            out[col] = make()
    return out
