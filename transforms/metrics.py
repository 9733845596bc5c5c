"""Performance metrics per member and team (the "Metrics" section of docs/architecture.md).

Every public function takes the :class:`SalesData` and a :class:`Period` and returns a frame
declared in :mod:`transforms.schema`. The facts behind them are prepared once per ``data``
(:func:`transforms.facts.sales_facts` memoises them; ``facts=`` may pass them explicitly). Money stays integer minor units of the team's base currency; ratios
are floats, NaN where there is no denominator.
"""

from __future__ import annotations

import weakref
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from transforms.facts import (
    Facts,
    collections_in,
    converted_to_base,
    inquiries_in,
    orders_in,
    outstanding_by_order,
    refunds_in,
    sales_facts,
)
from transforms.money import round_to_minor
from transforms.periods import Period, trailing_weeks, week
from transforms.schema import (
    MEMBER_METRICS,
    MEMBER_METRICS_EXTRA,
    MIX,
    MIX_EXTRA,
    TEAM_METRICS,
    TEAM_METRICS_EXTRA,
    TREND,
    TREND_EXTRA,
    SalesData,
    require_columns,
)

# Sums per member or team in one period, all int64 (see _activity).
ACTIVITY = (
    "revenue_minor", "refunds_minor", "orders", "cost_known_revenue_minor", "cost_known_orders",
    "cost_known_profit_minor", "customers", "new_customers", "returning_customers",
    "collections_received_minor", "collections_outstanding_minor", "inquiries", "inquiries_replied_24h",
    "inquiries_converted",
)
DIMENSIONS = ("platform", "country")


# ----------------------------------------------------------------------------- small exact helpers


def ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator as float, NaN where the denominator is 0 or missing."""
    num = pd.to_numeric(pd.Series(numerator), errors="coerce").astype("float64").to_numpy()
    den = pd.to_numeric(pd.Series(denominator), errors="coerce").astype("float64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((den == 0) | np.isnan(den), np.nan, num / den)


def change(current, previous) -> np.ndarray:
    """(current - previous) / |previous| as float, NaN when previous is 0."""
    cur = np.asarray(current, dtype="int64")
    prev = np.asarray(previous, dtype="int64")
    return ratio(cur - prev, np.abs(prev))


def divide_half_up(numerator, denominator) -> np.ndarray:
    """Integer numerator / positive denominator, rounded half away from zero; 0 where the
    denominator is 0 (e.g. average order value with no orders)."""
    num = np.asarray(numerator, dtype="int64")
    den = np.asarray(denominator, dtype="int64")
    safe = np.where(den == 0, 1, den)
    magnitude = (2 * np.abs(num) + safe) // (2 * safe)
    return np.where(den == 0, 0, np.sign(num) * magnitude).astype("int64")


def dense_rank_desc(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Dense rank within each group, 1 = largest; ties share a rank."""
    return values.groupby(groups.to_numpy(), sort=False).rank(method="dense", ascending=False).astype("int64")


def _sum_by(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    return frame.groupby(key, sort=False)[column].sum()


def _count_by(frame: pd.DataFrame, key: str) -> pd.Series:
    return frame.groupby(key, sort=False).size()


# ----------------------------------------------------------------------------- activity


ORDER_COLUMNS = [
    "member_id", "team_id", "attributed", "order_day", "cancelled", "customer_id", "order_id", "revenue_minor",
    "cost_known", "gross_profit_minor", "new_customer_order",
]


def customer_status(orders: pd.DataFrame, period: Period) -> pd.Series:
    """customer_id -> True when new in ``period`` (their orders on their first day in it are
    new-customer orders: no order on an earlier day within ``new_customer_window_days``),
    False when returning."""
    placed = orders_in(orders[["customer_id", "order_day", "cancelled", "new_customer_order"]], period)
    placed = placed[placed["customer_id"].notna()]
    first = placed.sort_values("order_day", kind="stable").drop_duplicates("customer_id")
    return first.set_index("customer_id")["new_customer_order"].astype(bool)


_OUTSTANDING: dict[int, dict[pd.Timestamp, pd.DataFrame]] = {}


def _outstanding(facts: Facts, as_of_end: pd.Timestamp) -> pd.DataFrame:
    """:func:`outstanding_by_order` of ``facts`` as of ``as_of_end``, computed once per (facts,
    day): member and team metrics of a week and of the week before ask for the same days.
    Released with ``facts``; treat the frame as read-only."""
    key = id(facts)
    by_day = _OUTSTANDING.get(key)
    if by_day is None:
        by_day = _OUTSTANDING[key] = {"paid_from": _paid_from(facts)}
        weakref.finalize(facts, _OUTSTANDING.pop, key, None)
    if as_of_end not in by_day:
        # an order paid in full (in its own currency) before the day is outstanding 0: leave it out
        orders, paid_from = by_day["paid_from"]
        unpaid = orders[~(paid_from < as_of_end.to_datetime64())]
        collections = facts.collections[facts.collections["order_id"].isin(unpaid["order_id"].unique()).to_numpy()]
        by_day[as_of_end] = outstanding_by_order(unpaid, collections, as_of_end)
    return by_day[as_of_end]


def _paid_from(facts: Facts) -> tuple[pd.DataFrame, np.ndarray]:
    """The open receivables (not prepaid, not cancelled) of ``facts`` and, per order, the
    local day from which its collections in its own currency cover its total (NaT: never),
    so that :func:`outstanding_by_order` is 0 for it on every later day. Orders with a
    negative collection (a payment returned) are never taken as paid."""
    o = facts.orders
    orders = o[~o["prepaid"] & ~o["cancelled"]]
    paid_from = np.full(len(orders), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not len(orders):
        return orders, paid_from
    c = facts.collections
    c = c[c["matched"]]
    positions = pd.DataFrame(
        {"order_source": orders["source"].to_numpy(dtype=object), "order_id": orders["order_id"].to_numpy(dtype=object),
         "row": np.arange(len(orders)), "order_currency": orders["order_currency"].to_numpy(dtype=object)}
    )
    paid = c[["order_source", "order_id", "original_currency", "amount_original_minor", "amount_minor", "received_day"]].merge(
        positions, on=["order_source", "order_id"], how="inner"
    )
    total = orders["total_original_minor"].to_numpy(dtype="int64")
    returned = np.zeros(len(orders), dtype=bool)
    returned[paid.loc[(paid["amount_original_minor"] < 0) | (paid["amount_minor"] < 0), "row"].to_numpy()] = True
    never_owed = (total <= 0) & ~returned
    paid_from[never_owed] = np.datetime64("1677-09-22")  # the earliest datetime64[ns] day
    same = paid[paid["original_currency"] == paid["order_currency"]].sort_values(["row", "received_day"], kind="stable")
    if len(same):
        cumulative = same.groupby("row", sort=False)["amount_original_minor"].cumsum().to_numpy()
        rows = same["row"].to_numpy()
        covered = cumulative >= total[rows]
        first = same.loc[covered, ["row", "received_day"]].drop_duplicates("row")
        settled_rows = first["row"].to_numpy()
        ok = ~returned[settled_rows] & np.isnat(paid_from[settled_rows])
        paid_from[settled_rows[ok]] = first["received_day"].to_numpy()[ok]
    return orders, paid_from


def _activity(facts: Facts, period: Period, key: str) -> pd.DataFrame:
    """Per ``key`` (member_id or team_id): the period's sums (:data:`ACTIVITY`), int64.

    Customers are counted distinct per key, so a team's count is not the sum of its members'.
    """
    orders = orders_in(facts.orders[ORDER_COLUMNS], period)
    orders = orders[orders[key].notna() & orders["attributed"]]
    refunds = refunds_in(facts.refunds[[key, "attributed", "refund_day", "counted", "amount_minor"]], period)
    refunds = refunds[refunds[key].notna() & refunds["attributed"]]
    collections = collections_in(facts.collections[[key, "attributed", "received_day", "amount_minor"]], period)
    collections = collections[collections[key].notna() & collections["attributed"]]
    inquiries = inquiries_in(facts.inquiries, period)
    inquiries = inquiries[inquiries[key].notna()]
    outstanding = _outstanding(facts, pd.Timestamp(period.end))
    outstanding = outstanding[outstanding[key].notna() & outstanding["attributed"]]

    costed = orders[orders["cost_known"]]
    status = customer_status(facts.orders, period)
    pairs = orders.loc[orders["customer_id"].notna(), [key, "customer_id"]].drop_duplicates()
    pairs = pairs.assign(new=pairs["customer_id"].map(status).eq(True).to_numpy())

    parts = {
        "revenue_minor": _sum_by(orders, key, "revenue_minor"),
        "refunds_minor": _sum_by(refunds, key, "amount_minor"),
        "orders": _count_by(orders, key),
        "cost_known_revenue_minor": _sum_by(costed, key, "revenue_minor"),
        "cost_known_orders": _count_by(costed, key),
        "cost_known_profit_minor": costed.assign(p=costed["gross_profit_minor"].astype("int64")).groupby(key)["p"].sum(),
        "customers": _count_by(pairs, key),
        "new_customers": _sum_by(pairs, key, "new"),
        "returning_customers": _count_by(pairs[~pairs["new"]], key),
        "collections_received_minor": _sum_by(collections, key, "amount_minor"),
        "collections_outstanding_minor": _sum_by(outstanding, key, "outstanding_minor"),
        "inquiries": _count_by(inquiries, key),
        "inquiries_replied_24h": _sum_by(inquiries, key, "replied_within_24h"),
        "inquiries_converted": _sum_by(inquiries, key, "converted"),
    }
    index = pd.Index(sorted(set().union(*[set(s.index) for s in parts.values()])), name=key, dtype=object)
    return pd.DataFrame(
        {name: s.reindex(index, fill_value=0).astype("int64") for name, s in parts.items()}, index=index
    )


def _with_activity(frame: pd.DataFrame, key: str, activity: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per key) plus the activity columns, zeros where there was none."""
    aligned = activity.reindex(frame[key].to_numpy(), fill_value=0).astype("int64")
    return frame.assign(**{c: aligned[c].to_numpy() for c in ACTIVITY})


def _derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Net revenue, averages, profit and rates from the activity columns."""
    gross_profit = pd.array(frame["cost_known_profit_minor"].to_numpy("int64"), dtype="Int64")
    gross_profit[frame["cost_known_orders"].to_numpy() == 0] = pd.NA
    net = frame["revenue_minor"] - frame["refunds_minor"]
    return frame.assign(
        net_revenue_minor=net,
        average_order_value_minor=divide_half_up(frame["revenue_minor"], frame["orders"]),
        gross_profit_minor=gross_profit,
        gross_margin=ratio(frame["cost_known_profit_minor"].where(frame["cost_known_orders"] > 0), frame["cost_known_revenue_minor"]),
        refund_rate=ratio(frame["refunds_minor"], frame["revenue_minor"]),
        reply_within_24h_rate=ratio(frame["inquiries_replied_24h"], frame["inquiries"]),
        inquiry_conversion_rate=ratio(frame["inquiries_converted"], frame["inquiries"]),
    )


def _with_previous(frame: pd.DataFrame, key: str, previous: pd.DataFrame) -> pd.DataFrame:
    prev = previous.reindex(frame[key].to_numpy(), fill_value=0)
    prev_net = (prev["revenue_minor"] - prev["refunds_minor"]).astype("int64").to_numpy()
    prev_orders = prev["orders"].astype("int64").to_numpy()
    return frame.assign(
        previous_net_revenue_minor=prev_net,
        net_revenue_change=change(frame["net_revenue_minor"], prev_net),
        previous_orders=prev_orders,
        orders_change=change(frame["orders"], prev_orders),
    )


# ----------------------------------------------------------------------------- targets


def revenue_targets(data: SalesData, period: Period, roster: pd.DataFrame) -> pd.DataFrame:
    """Revenue targets of ``period``: scope, scope_id, currency (base) and
    ``target_revenue_minor`` in that base currency.

    Values are major units of the target's ``currency`` (the team's base when empty); a
    foreign-currency target is converted at the rate of the period's first day.
    """
    require_columns(data.targets, ("scope", "scope_id", "period", "metric", "value", "currency"), "targets")
    t = data.targets
    wanted = t[
        (t["period"].astype(str).str.strip() == period.label)
        & (t["metric"].astype(str).str.strip().str.lower() == "revenue")
        & t["scope"].isin(["member", "team"])
    ]
    member_base = roster.set_index("member_id")["currency"]
    team_base = data.teams.drop_duplicates("team_id").set_index("team_id")["base_currency"]
    base = np.where(
        wanted["scope"] == "member", wanted["scope_id"].map(member_base), wanted["scope_id"].map(team_base)
    )
    frame = pd.DataFrame(
        {
            "scope": wanted["scope"].to_numpy(dtype=object),
            "scope_id": wanted["scope_id"].to_numpy(dtype=object),
            "currency": pd.Series(base, dtype=object).to_numpy(),
            "target_currency": wanted["currency"].to_numpy(dtype=object),
            "value": wanted["value"].to_numpy(dtype=object),
        }
    )
    frame = frame[frame["currency"].notna()].reset_index(drop=True)  # unknown member or team
    frame = frame.assign(target_currency=frame["target_currency"].fillna(frame["currency"]))
    original = [round_to_minor(Decimal(str(v)), c) for v, c in zip(frame["value"], frame["target_currency"])]  # a few rows
    frame = frame.assign(
        target_original_minor=pd.Series(original, dtype="int64"), day=pd.Timestamp(period.start)
    )
    frame = converted_to_base(frame, {"target_revenue_minor": "target_original_minor"}, "day", "target_currency", data.fx_rates)
    return frame[["scope", "scope_id", "currency", "target_revenue_minor"]]


def _target_array(targets: pd.DataFrame, scope: str, ids: pd.Series) -> pd.arrays.IntegerArray:
    scoped = targets[targets["scope"] == scope].drop_duplicates("scope_id", keep="last").set_index("scope_id")
    return pd.array(ids.map(scoped["target_revenue_minor"]).to_numpy(dtype=object), dtype="Int64")


# ----------------------------------------------------------------------------- members


def _member_rows(facts: Facts, period: Period) -> pd.DataFrame:
    """Active members, plus inactive ones who had activity in the period (orders, refunds,
    collections or inquiries): their money must not vanish from the team."""
    roster = facts.roster
    moved = pd.concat(
        [
            orders_in(facts.orders[["member_id", "order_day", "cancelled"]], period)["member_id"],
            refunds_in(facts.refunds[["member_id", "refund_day", "counted"]], period)["member_id"],
            collections_in(facts.collections[["member_id", "received_day"]], period)["member_id"],
            inquiries_in(facts.inquiries[["member_id", "received_day"]], period)["member_id"],
        ]
    ).dropna().unique()
    keep = roster["active"] | roster["member_id"].isin(moved)
    return roster.loc[keep, ["member_id", "name", "team_id", "active", "currency"]].reset_index(drop=True)


def member_metrics(data: SalesData, period: Period, facts: Facts | None = None) -> pd.DataFrame:
    """MEMBER_METRICS: one row per active member of every team (plus any inactive member with
    activity in the period), zeros where there was no activity, NaN ratios where there is no
    denominator. Sorted by team, rank, member."""
    facts = sales_facts(data) if facts is None else facts
    current = _activity(facts, period, "member_id")
    rows = _member_rows(facts, period)
    frame = _derived(_with_activity(rows, "member_id", current))
    frame = _with_previous(frame, "member_id", _activity(facts, period.previous(), "member_id"))
    targets = revenue_targets(data, period, facts.roster)
    target = _target_array(targets, "member", frame["member_id"])
    team = frame["team_id"].fillna("")
    frame = frame.assign(
        period=period.label,
        target_revenue_minor=target,
        attainment=ratio(frame["net_revenue_minor"].where(pd.notna(target)), target.to_numpy(dtype="float64", na_value=np.nan)),
        rank_in_team=dense_rank_desc(frame["net_revenue_minor"], team),
        team_size=team.map(team.value_counts()).astype("int64"),
    )
    frame = frame.sort_values(["team_id", "rank_in_team", "member_id"], kind="stable").reset_index(drop=True)
    return frame[list(MEMBER_METRICS + MEMBER_METRICS_EXTRA)]


def team_metrics(data: SalesData, period: Period, facts: Facts | None = None) -> pd.DataFrame:
    """TEAM_METRICS: one row per team. Money and counts are the team's own sums (customers
    distinct across the team); the target is the team-scope target when there is one, else
    the sum of the team's member targets (<NA> when neither exists)."""
    facts = sales_facts(data) if facts is None else facts
    teams = data.teams.drop_duplicates("team_id")
    frame = pd.DataFrame(
        {"team_id": teams["team_id"].to_numpy(dtype=object), "currency": teams["base_currency"].to_numpy(dtype=object)}
    )
    current = _activity(facts, period, "team_id")
    frame = _derived(_with_activity(frame, "team_id", current))
    frame = _with_previous(frame, "team_id", _activity(facts, period.previous(), "team_id"))
    members = _member_rows(facts, period)
    targets = revenue_targets(data, period, facts.roster)
    member_targets = members.assign(t=_target_array(targets, "member", members["member_id"]))
    summed = member_targets[member_targets["t"].notna()].groupby("team_id")["t"].sum()
    team_target = _target_array(targets, "team", frame["team_id"])
    fallback = pd.array(frame["team_id"].map(summed).to_numpy(dtype=object), dtype="Int64")
    target = pd.array(np.where(pd.notna(team_target), team_target, fallback), dtype="Int64")
    frame = frame.assign(
        period=period.label,
        members=frame["team_id"].map(members["team_id"].value_counts()).fillna(0).astype("int64"),
        target_revenue_minor=target,
        attainment=ratio(frame["net_revenue_minor"].where(pd.notna(target)), target.to_numpy(dtype="float64", na_value=np.nan)),
    )
    return frame.sort_values("team_id", kind="stable").reset_index(drop=True)[list(TEAM_METRICS + TEAM_METRICS_EXTRA)]


# ----------------------------------------------------------------------------- trend and mix


def _week_start(days: pd.Series) -> pd.Series:
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


def weekly_trend(data: SalesData, period: Period, weeks: int, facts: Facts | None = None) -> pd.DataFrame:
    """TREND: the last ``weeks`` ISO weeks ending with the week holding the period's last day
    (for a week period: that week), every member x week, zero-filled, oldest first.

    Members are the active ones plus any inactive member with activity in those weeks.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    facts = sales_facts(data) if facts is None else facts
    span = trailing_weeks(week(period.end - timedelta(days=1)), weeks)
    window = Period(span[0].start, span[-1].end, "window", f"{span[0].label}..{span[-1].label}")
    orders = orders_in(facts.orders, window)
    orders = orders[orders["attributed"]]
    refunds = refunds_in(facts.refunds, window)
    refunds = refunds[refunds["attributed"]]
    keys = ["member_id", "week_start"]
    revenue = orders.assign(week_start=_week_start(orders["order_day"])).groupby(keys).agg(
        revenue_minor=("revenue_minor", "sum"), orders=("order_id", "size")
    )
    refunded = refunds.assign(week_start=_week_start(refunds["refund_day"])).groupby(keys)["amount_minor"].sum()
    roster = facts.roster
    moved = set(revenue.index.get_level_values(0)) | set(refunded.index.get_level_values(0))
    members = roster[roster["active"] | roster["member_id"].isin(moved)]
    starts = pd.DatetimeIndex([pd.Timestamp(w.start) for w in span], dtype="datetime64[ns]")
    grid = pd.MultiIndex.from_product([members["member_id"].to_numpy(dtype=object), starts], names=keys)
    sums = revenue.reindex(grid, fill_value=0).astype("int64")
    refunds_minor = refunded.reindex(grid, fill_value=0).astype("int64")
    by_member = members.set_index("member_id")
    member_ids = grid.get_level_values(0)
    frame = pd.DataFrame(
        {
            "member_id": member_ids.to_numpy(dtype=object),
            "team_id": by_member["team_id"].reindex(member_ids).to_numpy(dtype=object),
            "period": np.tile([w.label for w in span], len(members)),
            "week_start": grid.get_level_values(1).to_numpy(),
            "net_revenue_minor": (sums["revenue_minor"] - refunds_minor).to_numpy(),
            "orders": sums["orders"].to_numpy(),
            "currency": by_member["currency"].reindex(member_ids).to_numpy(dtype=object),
            "revenue_minor": sums["revenue_minor"].to_numpy(),
            "refunds_minor": refunds_minor.to_numpy(),
        }
    )
    return frame.sort_values(["team_id", "member_id", "week_start"], kind="stable").reset_index(drop=True)[
        list(TREND + TREND_EXTRA)
    ]


def mix(data: SalesData, period: Period, dimension: str, facts: Facts | None = None) -> pd.DataFrame:
    """MIX: per team, net revenue and orders by ``dimension`` ("platform" or "country") with
    each value's share of the team's net revenue (float; shares sum to 1 per team when the
    team's net revenue is positive, NaN otherwise). Refunds take their order's platform and
    their own (else their order's) country. A missing value is <NA>. Sorted by team, net desc."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"mix dimension must be one of {DIMENSIONS}, got {dimension!r}")
    facts = sales_facts(data) if facts is None else facts
    orders = orders_in(facts.orders, period)
    orders = orders[orders["attributed"]]
    refunds = refunds_in(facts.refunds, period)
    refunds = refunds[refunds["attributed"]]
    keys = ["team_id", "value"]
    placed = orders.assign(value=orders[dimension]).groupby(keys, dropna=False).agg(
        revenue_minor=("revenue_minor", "sum"), orders=("order_id", "size")
    )
    refunded = refunds.assign(value=refunds[dimension]).groupby(keys, dropna=False)["amount_minor"].sum()
    index = placed.index.union(refunded.index, sort=False)
    frame = pd.DataFrame(
        {
            "revenue_minor": placed["revenue_minor"].reindex(index, fill_value=0).astype("int64"),
            "refunds_minor": refunded.reindex(index, fill_value=0).astype("int64"),
            "orders": placed["orders"].reindex(index, fill_value=0).astype("int64"),
        },
        index=index,
    ).reset_index()
    frame = frame.assign(net_revenue_minor=frame["revenue_minor"] - frame["refunds_minor"])
    team_net = frame.groupby("team_id")["net_revenue_minor"].transform("sum")
    currency = data.teams.drop_duplicates("team_id").set_index("team_id")["base_currency"]
    frame = frame.assign(
        dimension=dimension,
        value=frame["value"].astype(object).where(frame["value"].notna(), None),
        share=ratio(frame["net_revenue_minor"], team_net.where(team_net > 0, 0)),
        currency=frame["team_id"].map(currency).fillna(data.default_currency).to_numpy(dtype=object),
    )
    return frame.sort_values(["team_id", "net_revenue_minor", "value"], ascending=[True, False, True], kind="stable").reset_index(
        drop=True
    )[list(MIX + MIX_EXTRA)]
