"""Customer lists for the reviews: each member's top customers and customers going quiet.

Two notions of "a member's customer", on purpose:

* **top customers** are per *credited* member: the customers a member's own credited
  revenue came from in the period (a customer served by two members appears for both);
* **quiet customers** are per *owner*: the customer's ``owner_member_id`` when set (and a
  known member), else the member credited with most of the customer's revenue up to the
  as-of day (ties: the one credited with the latest order, then member id).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from transforms.facts import Facts, _attribution, _minor, converted_to_base, orders_in, refunds_in, sales_facts
from transforms.periods import Period, local_dates
from transforms.schema import (
    QUIET_CUSTOMERS,
    QUIET_CUSTOMERS_EXTRA,
    TOP_CUSTOMERS,
    TOP_CUSTOMERS_EXTRA,
    SalesData,
    require_columns,
)
from transforms.window import EARLIER_ORDERS


def _customer_directory(data: SalesData) -> pd.DataFrame:
    require_columns(data.customers, ("customer_id", "name", "country", "customer_class", "owner_member_id"), "customers")
    return data.customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")


def customer_names(data: SalesData, customer_ids: pd.Series) -> pd.Series:
    """customers.name, falling back to the id when the customer has no name (or no record)."""
    names = customer_ids.map(_customer_directory(data)["name"])
    return names.where(names.notna() & (names.astype(str).str.strip() != ""), customer_ids)


def top_customers(data: SalesData, period: Period, n: int, facts: Facts | None = None) -> pd.DataFrame:
    """TOP_CUSTOMERS: per member, the ``n`` customers with the highest net revenue credited to
    that member in ``period`` (revenue of orders placed minus refunds dated in it), among
    customers who ordered in the period. ``rank`` 1..n (ties broken by customer id).
    ``country`` is the customer's, else that of their latest order in the period."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    facts = sales_facts(data) if facts is None else facts
    orders = orders_in(facts.orders, period)
    orders = orders[orders["attributed"] & orders["customer_id"].notna()]
    refunds = refunds_in(facts.refunds, period)
    refunds = refunds[refunds["attributed"] & refunds["customer_id"].notna()]
    keys = ["member_id", "customer_id"]
    placed = orders.sort_values("ordered_at", kind="stable").groupby(keys).agg(
        revenue_minor=("revenue_minor", "sum"),
        orders=("order_id", "size"),
        order_country=("country", "last"),
        currency=("currency", "first"),
    )
    refunded = refunds.groupby(keys)["amount_minor"].sum().reindex(placed.index, fill_value=0).astype("int64")
    frame = placed.assign(refunds_minor=refunded, net_revenue_minor=placed["revenue_minor"] - refunded).reset_index()
    frame = frame.sort_values(["member_id", "net_revenue_minor", "customer_id"], ascending=[True, False, True], kind="stable")
    frame = frame.assign(rank=frame.groupby("member_id").cumcount() + 1)
    frame = frame[frame["rank"] <= n].reset_index(drop=True)
    directory = _customer_directory(data)
    country = frame["customer_id"].map(directory["country"])
    teams = facts.roster.set_index("member_id")["team_id"]
    frame = frame.assign(
        customer_name=customer_names(data, frame["customer_id"]),
        country=_text(country.where(country.notna(), frame["order_country"])),
        team_id=frame["member_id"].map(teams),
        rank=frame["rank"].astype("int64"),
    )
    return frame[list(TOP_CUSTOMERS + TOP_CUSTOMERS_EXTRA)]


OWNER_COLUMNS = [
    "customer_id", "member_id", "attributed", "ordered_at", "order_day", "order_currency", "revenue_original_minor",
    "revenue_minor", "currency",
]


def customer_owners(data: SalesData, orders: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """customer_id -> member_id, team_id, currency of the owning member (see module docstring).

    ``orders`` are the (not cancelled) orders to judge by. Revenue is compared in each
    order's base currency, unless a customer's credited orders are in several base
    currencies: then in ``data.default_currency`` (converted at the order date).
    """
    credited = orders[OWNER_COLUMNS]
    credited = credited[credited["attributed"] & credited["customer_id"].notna()]
    mixed = credited.groupby("customer_id")["currency"].transform("nunique") > 1
    if mixed.any():
        again = converted_to_base(
            credited[mixed].assign(currency=data.default_currency),
            {"common_minor": "revenue_original_minor"}, "order_day", "order_currency", data.fx_rates,
            pivot=data.fx_pivot_currency,
        )
        common = credited["revenue_minor"].to_numpy().copy()
        common[mixed.to_numpy()] = again["common_minor"].to_numpy()
        credited = credited.assign(revenue_minor=common)
    per_member = credited.groupby(["customer_id", "member_id"]).agg(
        revenue_minor=("revenue_minor", "sum"), last_order=("ordered_at", "max")
    ).reset_index()
    best = per_member.sort_values(
        ["customer_id", "revenue_minor", "last_order", "member_id"], ascending=[True, False, False, True], kind="stable"
    ).drop_duplicates("customer_id")
    owners = best.set_index("customer_id")["member_id"]
    declared = _customer_directory(data)["owner_member_id"]
    declared = declared[declared.isin(roster["member_id"])]
    owners = declared.combine_first(owners)
    by_member = roster.set_index("member_id")
    return pd.DataFrame(
        {
            "member_id": owners,
            "team_id": owners.map(by_member["team_id"]),
            "currency": owners.map(by_member["currency"]),
        }
    ).rename_axis("customer_id")


JUDGED_COLUMNS = OWNER_COLUMNS + ["source", "order_id", "country"]


def judged_orders(data: SalesData, facts: Facts) -> pd.DataFrame:
    """The counted orders (not cancelled, with a customer) customers are judged by: every one
    of ``facts``; or, on a weekly window (``data.extra["earlier_orders"]``, see
    :mod:`transforms.window`), the window's from its first instant on plus the earlier ones
    of the customers who may be going quiet."""
    orders = facts.orders
    orders = orders.loc[~orders["cancelled"] & orders["customer_id"].notna(), JUDGED_COLUMNS]
    earlier = data.extra.get("earlier_orders")
    if earlier is None:
        return orders
    since = pd.Timestamp(data.extra["earlier_than"]).to_datetime64()
    recent = orders[orders["ordered_at"].to_numpy() >= since]
    return pd.concat([earlier_order_facts(data, earlier, facts.roster), recent], ignore_index=True)


def earlier_order_facts(data: SalesData, earlier: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """EARLIER_ORDERS rows as order facts (JUDGED_COLUMNS): credited member, local order day,
    revenue (gross - discount) in the order's currency and, converted order by order at the
    rate of its day exactly as :func:`transforms.facts.order_facts` does, in the member's
    base currency."""
    require_columns(earlier, EARLIER_ORDERS, "earlier_orders")
    members = pd.Series(earlier["member_id"].to_numpy(dtype=object))
    attribution = _attribution(members, roster, data.default_currency)
    ordered_at = pd.to_datetime(pd.Series(earlier["ordered_at"].to_numpy())).astype("datetime64[ns]")
    base = pd.DataFrame(
        {
            "customer_id": earlier["customer_id"].to_numpy(dtype=object),
            "member_id": members.to_numpy(dtype=object),
            "attributed": attribution["attributed"].to_numpy(),
            "ordered_at": ordered_at.to_numpy(),
            "order_day": local_dates(ordered_at, data.timezone).to_numpy(),
            "order_currency": earlier["currency"].to_numpy(dtype=object),
            "revenue_original_minor": _minor(earlier["gross_minor"]) - _minor(earlier["discount_minor"]),
            "currency": attribution["currency"].to_numpy(dtype=object),
            "source": earlier["source"].to_numpy(dtype=object),
            "order_id": earlier["order_id"].to_numpy(dtype=object),
            "country": earlier["country"].to_numpy(dtype=object),
        }
    )
    converted = converted_to_base(base, {"revenue_minor": "revenue_original_minor"}, "order_day", "order_currency",
                                  data.fx_rates, pivot=data.fx_pivot_currency)
    return converted[JUDGED_COLUMNS]


def _text(values: pd.Series) -> np.ndarray:
    """Text values as objects with None (not NaN) where missing."""
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


def _as_day(value: date | datetime | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def quiet_customers(
    data: SalesData,
    as_of_day: date,
    quiet_after_days: int,
    lookback_days: int = 365,
    facts: Facts | None = None,
    min_orders: int = 1,
) -> pd.DataFrame:
    """QUIET_CUSTOMERS: each member's customers who ordered within ``lookback_days`` before
    ``as_of_day`` (a local calendar day, inclusive) but not in the last ``quiet_after_days``:
    ``days_since_last_order > quiet_after_days``. Only orders up to ``as_of_day`` count.

    Only customers with at least ``min_orders`` orders are listed, and key accounts always:
    a one-off shopper who never came back is not a relationship going quiet.

    ``lifetime_revenue_minor`` is the revenue (gross - discount, refunds not deducted) of all
    the customer's orders up to ``as_of_day``, in the owner's base currency. ``country`` is the
    customer's, else that of their latest order having one. Sorted per member by lifetime
    revenue, highest first. Customers with no owner are not listed. On a weekly window,
    customers are judged by :func:`judged_orders`.
    """
    if quiet_after_days < 0 or lookback_days < 0:
        raise ValueError("quiet_after_days and lookback_days must not be negative")
    facts = sales_facts(data) if facts is None else facts
    as_of = _as_day(as_of_day)
    orders = judged_orders(data, facts)
    orders = orders[orders["order_day"] <= as_of]
    last = orders.groupby("customer_id")["order_day"].max()
    days_since = (as_of - last).dt.days
    quiet = days_since[(days_since > quiet_after_days) & (days_since <= lookback_days)]
    if quiet.empty:
        return _empty_quiet()
    owners = customer_owners(data, orders, facts.roster).reindex(quiet.index)
    owners = owners[owners["member_id"].notna()]
    # in time order (ties: source, order id), so that order_country is that of the latest order having one
    theirs = orders[orders["customer_id"].isin(owners.index)].sort_values(["ordered_at", "source", "order_id"],
                                                                           kind="stable")
    theirs = theirs.assign(owner_currency=theirs["customer_id"].map(owners["currency"]).to_numpy(dtype=object))
    revenue = theirs["revenue_minor"].to_numpy().copy()
    other = (theirs["currency"] != theirs["owner_currency"]).to_numpy()
    if other.any():
        again = converted_to_base(
            theirs[other], {"owner_minor": "revenue_original_minor"}, "order_day", "order_currency", data.fx_rates,
            target_column="owner_currency", pivot=data.fx_pivot_currency,
        )
        revenue[other] = again["owner_minor"].to_numpy()
    lifetime = theirs.assign(owner_revenue=revenue).groupby("customer_id").agg(
        lifetime_revenue_minor=("owner_revenue", "sum"), orders=("order_id", "size"), order_country=("country", "last")
    )
    directory = _customer_directory(data)
    ids = owners.index.to_series()
    country = ids.map(directory["country"])
    frame = pd.DataFrame(
        {
            "member_id": owners["member_id"].to_numpy(dtype=object),
            "customer_id": ids.to_numpy(dtype=object),
            "customer_name": customer_names(data, ids).to_numpy(dtype=object),
            "country": _text(country.where(country.notna(), ids.map(lifetime["order_country"]))),
            "customer_class": _text(ids.map(directory["customer_class"])),
            "last_order_date": ids.map(last).to_numpy(dtype="datetime64[ns]"),
            "days_since_last_order": ids.map(quiet).astype("int64").to_numpy(),
            "lifetime_revenue_minor": ids.map(lifetime["lifetime_revenue_minor"]).astype("int64").to_numpy(),
            "orders": ids.map(lifetime["orders"]).astype("int64").to_numpy(),
            "currency": owners["currency"].to_numpy(dtype=object),
            "team_id": owners["team_id"].to_numpy(dtype=object),
        }
    )
    frame = frame[(frame["orders"] >= min_orders) | (frame["customer_class"] == "key_account")]
    frame = frame.sort_values(
        ["team_id", "member_id", "lifetime_revenue_minor", "customer_id"], ascending=[True, True, False, True], kind="stable"
    ).reset_index(drop=True)
    return frame[list(QUIET_CUSTOMERS + QUIET_CUSTOMERS_EXTRA)]


def _empty_quiet() -> pd.DataFrame:
    columns = list(QUIET_CUSTOMERS + QUIET_CUSTOMERS_EXTRA)
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return frame.astype(
        {"last_order_date": "datetime64[ns]", "days_since_last_order": "int64", "lifetime_revenue_minor": "int64",
         "orders": "int64"}
    )
