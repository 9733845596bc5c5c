"""Shared preparation: one row per order, refund, collection and inquiry, in base currency.

Every metric, customer list and commission starts from these frames, so the
definitions in ``docs/architecture.md`` ("Metrics") are applied in one place:

* local calendar days in ``data.timezone`` (:func:`transforms.periods.local_dates`);
* each row's member, team and the team's base currency (``currency``); rows with
  no known member are *unattributed* and use ``data.default_currency``;
* money converted to that base currency at the rate of the row's local day
  (:func:`transforms.money.attach_rates` / :func:`transforms.money.convert_minor`);
  a missing rate raises ``ValueError`` naming currency and date.

All ``*_minor`` columns of a facts frame are in its ``currency`` column (the base
currency); amounts in the row's own currency are ``*_original_minor``.
Nothing here reads or writes anything, and no input frame is modified.

New customers: an order is a *new-customer order* when its customer had no (not
cancelled) order on an earlier local day within ``data.new_customer_window_days``
(default 365; set it large to mean "ever"). So "first ever order" is judged over a
fixed window, and the answer does not depend on how much history the flow loaded.
Orders of the same day share their history: both of a new customer's first-day
orders are new-customer orders. On a weekly window the customers' latest orders before it
are not rows but instants, ``data.extra["previous_orders"]`` (:func:`previous_order_days_with`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from transforms.money import DEFAULT_PIVOT, attach_rates, convert_minor, round_to_minor
from transforms.periods import Period, in_period, local_dates
from transforms.schema import SalesData, require_columns

ORDER_FACTS = (
    "source", "order_id", "platform", "store", "ordered_at", "order_day", "customer_id", "member_id",
    "team_id", "attributed", "country", "payment_terms", "prepaid", "status", "cancelled",
    "order_currency", "fx_rate", "currency",
    "fx_basis",  # where fx_rate comes from: a direct row, an inverse, or a cross rate (None: same currency)
    "shipped_at",  # first shipment (naive UTC), NaT while not shipped or not known
    "revenue_original_minor",  # gross - discount in the order's currency
    "total_original_minor",  # revenue + tax + shipping in the order's currency
    "revenue_minor", "tax_minor", "shipping_minor", "total_minor",  # base currency
    "cost_known", "cost_minor", "gross_profit_minor",  # <NA> cost and profit when any line lacks a cost
    "fees_minor",  # platform fees charged on the order (base currency; 0 when none); deducted from gross profit
    "previous_order_day",  # the latest earlier local day the customer ordered (not cancelled), else NaT
    "new_customer_order",  # the customer had no order on an earlier day within new_customer_window_days
)
REFUND_FACTS = (
    "source", "refund_id", "order_source", "order_id", "kind", "refunded_at", "refund_day", "member_id",
    "team_id", "attributed", "customer_id", "country", "platform", "order_cancelled", "counted",
    "original_currency", "amount_original_minor", "fx_rate", "fx_basis", "currency", "amount_minor",
)
COLLECTION_FACTS = (
    "source", "collection_id", "order_source", "order_id", "stage", "received_at", "received_day",
    "member_id", "team_id", "attributed", "matched", "original_currency", "amount_original_minor",
    "fx_rate", "fx_basis", "currency", "amount_minor",
)
INQUIRY_FACTS = (
    "source", "inquiry_id", "received_at", "received_day", "member_id", "team_id", "customer_id", "country",
    "channel", "replied_within_24h", "converted",
)
ROSTER = ("member_id", "name", "team_id", "role", "active", "currency")

REPLY_LIMIT = pd.Timedelta(hours=24)


@dataclass(frozen=True)
class Facts:
    """The prepared facts of one :class:`SalesData`; build once, share between transforms."""

    orders: pd.DataFrame
    refunds: pd.DataFrame
    collections: pd.DataFrame
    inquiries: pd.DataFrame
    roster: pd.DataFrame


_FACTS_BY_DATA: dict[int, Facts] = {}


def sales_facts(data: SalesData) -> Facts:
    """Every facts frame of ``data``, prepared once per :class:`SalesData` object.

    The metrics, customer lists and commissions of one run all start from the same facts,
    so they are memoised by the identity of ``data`` (a frozen object whose frames are
    never modified) and released when ``data`` is. Treat the returned frames as read-only.
    """
    key = id(data)
    cached = _FACTS_BY_DATA.get(key)
    if cached is None:
        cached = _prepare_facts(data)
        _FACTS_BY_DATA[key] = cached
        weakref.finalize(data, _FACTS_BY_DATA.pop, key, None)
    return cached


def _prepare_facts(data: SalesData) -> Facts:
    roster = member_roster(data)
    orders = order_facts(data, roster)
    return Facts(
        orders=orders,
        refunds=refund_facts(data, orders, roster),
        collections=collection_facts(data, orders, roster),
        inquiries=inquiry_facts(data, roster),
        roster=roster,
    )


# ----------------------------------------------------------------------------- members


def member_roster(data: SalesData) -> pd.DataFrame:
    """One row per member: team and the team's base currency (``currency``), ``active`` as bool.

    A member whose team is not in ``teams`` gets ``data.default_currency``.
    """
    require_columns(data.members, ("member_id", "name", "team_id", "role", "active"), "members")
    require_columns(data.teams, ("team_id", "base_currency"), "teams")
    bases = data.teams.drop_duplicates("team_id").set_index("team_id")["base_currency"]
    members = data.members.drop_duplicates("member_id", keep="last")
    return pd.DataFrame(
        {
            "member_id": members["member_id"].to_numpy(dtype=object),
            "name": members["name"].to_numpy(dtype=object),
            "team_id": members["team_id"].to_numpy(dtype=object),
            "role": members["role"].to_numpy(dtype=object),
            "active": members["active"].astype("boolean").fillna(True).to_numpy(dtype=bool),
            "currency": members["team_id"].map(bases).fillna(data.default_currency).to_numpy(dtype=object),
        }
    )


def _attribution(member_ids: pd.Series, roster: pd.DataFrame, default_currency: str) -> pd.DataFrame:
    """member_id -> team_id, currency, attributed (a known member); positional, same length."""
    known = roster.set_index("member_id")
    team = member_ids.map(known["team_id"])
    attributed = member_ids.isin(known.index) & member_ids.notna()
    currency = member_ids.map(known["currency"]).where(attributed, default_currency)
    return pd.DataFrame(
        {
            "team_id": team.where(attributed, None).to_numpy(dtype=object),
            "attributed": attributed.to_numpy(),
            "currency": currency.to_numpy(dtype=object),
        }
    )


# ----------------------------------------------------------------------------- conversion


def converted_to_base(
    frame: pd.DataFrame,
    amounts: dict[str, str],
    date_column: str,
    currency_column: str,
    fx_rates: pd.DataFrame,
    target_column: str = "currency",
    pivot: str = DEFAULT_PIVOT,
) -> pd.DataFrame:
    """``frame`` (with a fresh RangeIndex) plus ``fx_rate``, ``fx_basis`` and, for each
    ``{output: input}`` in ``amounts``, the input minor units converted from ``currency_column``
    into each row's ``target_column`` currency at the rate of ``date_column`` (cross rates
    through ``pivot``). Inputs with <NA> stay <NA> (``Int64``); others are ``int64``."""
    fx_rate, fx_basis, converted = _convert(
        frame[date_column].to_numpy(),
        frame[currency_column].to_numpy(dtype=object),
        frame[target_column].to_numpy(dtype=object),
        {name: frame[col].array for name, col in amounts.items()},
        fx_rates,
        pivot,
    )
    return frame.reset_index(drop=True).assign(fx_rate=fx_rate, fx_basis=fx_basis, **converted)


def convert_arrays(
    days: np.ndarray,
    currencies: np.ndarray,
    targets: np.ndarray,
    amounts: dict[str, object],
    fx_rates: pd.DataFrame,
    pivot: str = DEFAULT_PIVOT,
) -> tuple[pd.Series, dict[str, object]]:
    """Convert several minor-unit arrays row by row from ``currencies`` into ``targets`` at
    the rate of ``days``: one :func:`attach_rates` and one :func:`convert_minor` per distinct
    target currency (a handful), never per row. Rows already in their target currency keep
    their amount (rate 1). Returns the ``fx_rate`` Series (Decimal) and the converted arrays
    (``int64``, or ``Int64`` with <NA> where the input was missing).
    """
    fx_rate, _, out = _convert(days, currencies, targets, amounts, fx_rates, pivot)
    return fx_rate, out


def _convert(days, currencies, targets, amounts: dict[str, object], fx_rates: pd.DataFrame,
             pivot: str) -> tuple[pd.Series, pd.Series, dict[str, object]]:
    """:func:`convert_arrays`, also returning each row's ``fx_basis`` (how its rate was found)."""
    n = len(days)
    fx_rate = np.empty(n, dtype=object)
    fx_basis = np.full(n, None, dtype=object)
    known = {name: ~np.asarray(pd.isna(values), dtype=bool) for name, values in amounts.items()}
    ints = {name: pd.array(values, dtype="Int64").to_numpy(dtype="int64", na_value=0) for name, values in amounts.items()}
    results = {name: values.copy() for name, values in ints.items()}
    codes, uniques = pd.factorize(pd.Series(targets, dtype=object))
    if (codes < 0).any():
        raise ValueError("some rows have no target currency to convert into")
    for k, target in enumerate(uniques):
        positions = np.flatnonzero(codes == k) if len(uniques) > 1 else np.arange(n)
        part = pd.DataFrame({"day": days[positions], "currency": currencies[positions]})
        attached = attach_rates(part, fx_rates, "day", "currency", target, pivot)
        rates = attached["fx_rate"].to_numpy()
        fx_rate[positions] = rates
        fx_basis[positions] = attached["fx_basis"].to_numpy(dtype=object)
        foreign = (part["currency"] != target).to_numpy()
        for name in amounts:
            selected = np.flatnonzero(foreign & known[name][positions])
            if not len(selected):
                continue
            rows = positions[selected]
            results[name][rows] = convert_minor(
                pd.Series(ints[name][rows]),
                pd.Series(currencies[rows], dtype=object),
                pd.Series(rates[selected], dtype=object),
                target,
            ).to_numpy()
    out: dict[str, object] = {}
    for name in amounts:
        if known[name].all():
            out[name] = results[name]
        else:
            out[name] = pd.array(results[name], dtype="Int64")
            out[name][~known[name]] = pd.NA
    return pd.Series(fx_rate, dtype=object), pd.Series(fx_basis, dtype=object), out


def _normalized(values: pd.Series, missing: str) -> np.ndarray:
    """Text codes trimmed and lower-cased (missing -> ``missing``), each distinct value once."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    lowered = np.array([str(u).strip().lower() for u in uniques] + [missing], dtype=object)
    return lowered[codes]  # code -1 (missing) picks the last entry


def _objects(values) -> np.ndarray:
    """Values as an object array with None (not NaN) where missing."""
    array = np.asarray(values, dtype=object)
    return np.where(pd.isna(array), None, array)


def _first_known(first, second) -> np.ndarray:
    """Positionally, ``first`` where it has a value, else ``second`` (object, None if neither)."""
    a, b = _objects(first), _objects(second)
    return np.where(pd.isna(a), b, a)


def _minor(series: pd.Series) -> np.ndarray:
    """A money column as int64 with missing values as 0 (for optional amounts like tax)."""
    return series.astype("Int64").to_numpy(dtype="int64", na_value=0)


# ----------------------------------------------------------------------------- orders


def order_costs(order_lines: pd.DataFrame, sheet_costed: np.ndarray | None = None) -> pd.DataFrame:
    """Per (source, order_id): ``cost_original_minor`` = sum of the lines' own costs (in the
    order's currency) when every line has a cost - its own, or (``sheet_costed``, positional)
    one from the cost sheet, added separately - else <NA>; ``cost_known`` says which."""
    require_columns(order_lines, ("source", "order_id", "cost_minor"), "order_lines")
    cost = order_lines["cost_minor"].astype("Int64")
    own = cost.notna().to_numpy()
    lines = pd.DataFrame(
        {
            "source": order_lines["source"].to_numpy(dtype=object),
            "order_id": order_lines["order_id"].to_numpy(dtype=object),
            "has_cost": own if sheet_costed is None else own | sheet_costed,
            "cost": cost.to_numpy(dtype="int64", na_value=0),
        }
    )
    grouped = lines.groupby(["source", "order_id"], sort=False).agg(
        lines=("has_cost", "size"), costed=("has_cost", "sum"), cost=("cost", "sum")
    )
    known = grouped["costed"] == grouped["lines"]
    cost = pd.array(grouped["cost"].to_numpy("int64"), dtype="Int64")
    cost[~known.to_numpy()] = pd.NA
    return pd.DataFrame({"cost_known": known.to_numpy(), "cost_original_minor": cost}, index=grouped.index).reset_index()


def sheet_line_costs(order_lines: pd.DataFrame, product_costs: pd.DataFrame | None, orders: pd.DataFrame) -> pd.DataFrame:
    """For each order line (positionally) with no unit cost of its own: the cost of its SKU on
    the cost sheet in force on its order's local day (the row with the latest
    ``effective_from`` on or before that day), ``quantity x unit_cost`` in minor units of the
    sheet's currency (``sheet_cost_minor``, ``Int64``; ``sheet_currency``), rounded half away
    from zero like a platform's line cost. <NA> where the line has its own cost, no SKU, no
    known order, or no sheet row on or before the day. ``orders``: source, order_id, order_day.

    SKUs match exactly (the sheet and the store spell them the same). One ``merge_asof`` for
    all lines; the products are computed once per distinct (quantity, cost, currency).
    """
    n = len(order_lines)
    cost = np.full(n, None, dtype=object)
    currency = np.full(n, None, dtype=object)
    if product_costs is None or product_costs.empty or not n:
        return pd.DataFrame({"sheet_cost_minor": pd.array(cost, dtype="Int64"), "sheet_currency": currency})
    require_columns(product_costs, ("sku", "effective_from", "currency", "unit_cost"), "product_costs")
    index = pd.MultiIndex.from_arrays([orders["source"].to_numpy(dtype=object), orders["order_id"].to_numpy(dtype=object)])
    pos = index.get_indexer(pd.MultiIndex.from_arrays(
        [order_lines["source"].to_numpy(dtype=object), order_lines["order_id"].to_numpy(dtype=object)]))
    skus = order_lines["sku"].to_numpy(dtype=object)
    wanted = np.flatnonzero(order_lines["cost_minor"].isna().to_numpy() & pd.notna(skus) & (pos >= 0))
    if not len(wanted):
        return pd.DataFrame({"sheet_cost_minor": pd.array(cost, dtype="Int64"), "sheet_currency": currency})
    left = pd.DataFrame({
        "sku": skus[wanted],
        "_day": pd.to_datetime(orders["order_day"].to_numpy()[pos[wanted]]).astype("datetime64[ns]"),
        "_row": wanted,
    }).sort_values("_day", kind="stable")
    sheet = pd.DataFrame({
        "sku": product_costs["sku"].to_numpy(dtype=object),
        "effective_from": pd.to_datetime(product_costs["effective_from"]).astype("datetime64[ns]").dt.normalize().to_numpy(),
        "currency": product_costs["currency"].to_numpy(dtype=object),
        "unit_cost": product_costs["unit_cost"].to_numpy(dtype=object),
    }).sort_values("effective_from", kind="stable")
    found = pd.merge_asof(left, sheet, left_on="_day", right_on="effective_from", by="sku", direction="backward")
    found = found[found["unit_cost"].notna()]
    rows = found["_row"].to_numpy()
    quantities = order_lines["quantity"].to_numpy(dtype=object)[rows]
    triples = pd.Series(list(zip(quantities, found["unit_cost"].to_numpy(dtype=object), found["currency"].to_numpy(dtype=object))),
                        dtype=object)
    codes, uniques = pd.factorize(triples, sort=False)
    minor = np.array([round_to_minor(Decimal(q) * Decimal(c), cur) for q, c, cur in uniques] + [None], dtype=object)
    cost[rows] = minor[codes]
    currency[rows] = found["currency"].to_numpy(dtype=object)
    return pd.DataFrame({"sheet_cost_minor": pd.array(cost, dtype="Int64"), "sheet_currency": currency})


def _sheet_costs_in_base(sheet: pd.DataFrame, order_lines: pd.DataFrame, keys: pd.DataFrame, order_day: np.ndarray,
                         targets: np.ndarray, fx_rates: pd.DataFrame, pivot: str) -> np.ndarray:
    """Per order (rows of ``keys``): its lines' cost-sheet costs in the order's target (base)
    currency, summed per sheet currency first and converted once at the rate of the order's
    day (a CNY cost sheet and a CNY team convert nothing); 0 for an order with none."""
    out = np.zeros(len(keys), dtype="int64")
    has = sheet["sheet_cost_minor"].notna().to_numpy()
    if not has.any():
        return out
    index = pd.MultiIndex.from_frame(keys[["source", "order_id"]].astype(object))
    pos = index.get_indexer(pd.MultiIndex.from_arrays(
        [order_lines["source"].to_numpy(dtype=object)[has], order_lines["order_id"].to_numpy(dtype=object)[has]]))
    parts = pd.DataFrame({
        "pos": pos, "currency": sheet["sheet_currency"].to_numpy(dtype=object)[has],
        "cost": sheet["sheet_cost_minor"].to_numpy(dtype="int64", na_value=0)[has],
    }).groupby(["pos", "currency"], sort=False)["cost"].sum().reset_index()
    at = parts["pos"].to_numpy()
    _, _, converted = _convert(order_day[at], parts["currency"].to_numpy(dtype=object), targets[at],
                               {"cost": pd.array(parts["cost"].to_numpy("int64"), dtype="Int64")}, fx_rates, pivot)
    np.add.at(out, at, np.asarray(converted["cost"], dtype="int64"))
    return out


def order_facts(data: SalesData, roster: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per order (columns :data:`ORDER_FACTS`), cancelled orders included but flagged.

    Revenue is gross - discount (tax and shipping excluded), converted at the rate of the
    order's local day; so are tax, shipping and the total. Cost is known only when every
    line of the order has a cost: its own (platform or spreadsheet ``unit_cost``, in the
    order's currency), else its SKU's on the cost sheet (``data.product_costs``, see
    :func:`sheet_line_costs`); a line with its own cost keeps it. Customer history
    (``previous_order_day``, ``new_customer_order``) ignores cancelled orders and orders
    with no customer.
    """
    require_columns(data.orders, (
        "source", "order_id", "platform", "store", "ordered_at", "customer_id", "member_id", "country",
        "currency", "gross_minor", "discount_minor", "tax_minor", "shipping_minor", "payment_terms", "status",
        "shipped_at",
    ), "orders")
    roster = member_roster(data) if roster is None else roster
    o = data.orders
    gross, discount = _minor(o["gross_minor"]), _minor(o["discount_minor"])
    tax, shipping = _minor(o["tax_minor"]), _minor(o["shipping_minor"])
    status = _normalized(o["status"], "open")
    terms = o["payment_terms"].to_numpy(dtype=object)
    terms = np.where(pd.isna(terms), "prepaid", terms)
    member_ids = pd.Series(o["member_id"].to_numpy(dtype=object))
    attribution = _attribution(member_ids, roster, data.default_currency)
    keys = pd.DataFrame({"source": o["source"].to_numpy(dtype=object), "order_id": o["order_id"].to_numpy(dtype=object)})
    order_day = local_dates(pd.Series(o["ordered_at"].to_numpy()), data.timezone).to_numpy()
    targets = attribution["currency"].to_numpy(dtype=object)
    pivot = data.fx_pivot_currency
    sheet_base = np.zeros(len(o), dtype="int64")
    if len(data.order_lines):
        sheet = sheet_line_costs(data.order_lines, data.product_costs, keys.assign(order_day=order_day))
        costs = keys.merge(order_costs(data.order_lines, sheet["sheet_cost_minor"].notna().to_numpy()),
                           on=["source", "order_id"], how="left", validate="many_to_one")
        cost_known = costs["cost_known"].eq(True).to_numpy()
        cost_original = pd.array(costs["cost_original_minor"].to_numpy(dtype=object), dtype="Int64")
        sheet_base = _sheet_costs_in_base(sheet, data.order_lines, keys, order_day, targets, data.fx_rates, pivot)
    else:
        cost_known = np.zeros(len(o), dtype=bool)
        cost_original = pd.array([pd.NA] * len(o), dtype="Int64")
    order_currency = o["currency"].to_numpy(dtype=object)
    revenue_original = gross - discount
    fx_rate, fx_basis, base = _convert(
        order_day, order_currency, targets,
        {"revenue_minor": revenue_original, "tax_minor": tax, "shipping_minor": shipping, "cost_minor": cost_original},
        data.fx_rates, pivot,
    )
    # the lines' own costs (order currency, converted above) plus their cost-sheet costs (converted per sheet currency)
    cost_base = pd.array(base["cost_minor"], dtype="Int64") + pd.array(sheet_base, dtype="Int64")
    fees = order_fees(getattr(data, "fees", None), keys, order_day, targets, data.fx_rates, pivot)
    cancelled = status == "cancelled"
    customer_ids = o["customer_id"].to_numpy(dtype=object)
    counted = ~cancelled & pd.notna(customer_ids)
    previous_day = previous_order_days_with(data.extra.get("previous_orders"), data.timezone, customer_ids, order_day,
                                            counted, previous_order_days(customer_ids, order_day, counted))
    recent = (order_day - previous_day) <= np.timedelta64(data.new_customer_window_days, "D")  # NaT: False
    facts = pd.DataFrame(
        {
            "source": keys["source"].to_numpy(),
            "order_id": keys["order_id"].to_numpy(),
            "platform": o["platform"].to_numpy(dtype=object),
            "store": o["store"].to_numpy(dtype=object),
            "ordered_at": pd.to_datetime(o["ordered_at"]).astype("datetime64[ns]").to_numpy(),
            "order_day": order_day,
            "customer_id": customer_ids,
            "member_id": member_ids.to_numpy(),
            "team_id": attribution["team_id"].to_numpy(),
            "attributed": attribution["attributed"].to_numpy(),
            "country": o["country"].to_numpy(dtype=object),
            "payment_terms": terms,
            "prepaid": _normalized(pd.Series(terms, dtype=object), "prepaid") == "prepaid",
            "status": status,
            "cancelled": cancelled,
            "order_currency": order_currency,
            "fx_rate": fx_rate.to_numpy(),
            "fx_basis": fx_basis.to_numpy(dtype=object),
            "shipped_at": pd.to_datetime(o["shipped_at"]).astype("datetime64[ns]").to_numpy(),
            "currency": attribution["currency"].to_numpy(),
            "revenue_original_minor": revenue_original,
            "total_original_minor": revenue_original + tax + shipping,
            "revenue_minor": base["revenue_minor"],
            "tax_minor": base["tax_minor"],
            "shipping_minor": base["shipping_minor"],
            "total_minor": base["revenue_minor"] + base["tax_minor"] + base["shipping_minor"],
            "cost_known": cost_known,
            "cost_minor": cost_base,
            # revenue - cost - platform fees (shipping labels included); <NA> while any line's cost is unknown
            "gross_profit_minor": pd.array(base["revenue_minor"], dtype="Int64") - cost_base - pd.array(fees, dtype="Int64"),
            "fees_minor": fees,
            "previous_order_day": previous_day,
            "new_customer_order": counted & ~recent,
        }
    )
    return facts[list(ORDER_FACTS)]


def order_fees(fees: pd.DataFrame | None, keys: pd.DataFrame, order_day: np.ndarray, targets: np.ndarray,
                fx_rates: pd.DataFrame, pivot: str = DEFAULT_PIVOT) -> np.ndarray:
    """Per order (rows of ``keys``: source, order_id), the sum of its platform fees in its
    target (team base) currency, each fee converted at the rate of the order's day like the
    order's revenue and cost; 0 for an order with none. A fee's ``order_source`` defaults to
    its own ``source``; fees of orders not in ``keys`` are ignored."""
    out = np.zeros(len(keys), dtype="int64")
    if fees is None or fees.empty or keys.empty:
        return out
    require_columns(fees, ("source", "order_source", "order_id", "currency", "amount_minor"), "fees")
    order_source = fees["order_source"].where(fees["order_source"].notna(), fees["source"])
    index = pd.MultiIndex.from_frame(keys[["source", "order_id"]].astype(object))
    pos = index.get_indexer(pd.MultiIndex.from_arrays([order_source.to_numpy(dtype=object), fees["order_id"].to_numpy(dtype=object)]))
    hit = np.flatnonzero(pos >= 0)
    if not len(hit):
        return out
    rows = pos[hit]
    _, converted = convert_arrays(
        order_day[rows], fees["currency"].to_numpy(dtype=object)[hit], targets[rows],
        {"fee_minor": pd.array(fees["amount_minor"].to_numpy()[hit], dtype="Int64")}, fx_rates, pivot)
    np.add.at(out, rows, pd.array(converted["fee_minor"], dtype="Int64").to_numpy("int64", na_value=0))
    return out


def previous_order_days_with(previous_orders: pd.DataFrame | None, timezone: str, customer_ids: np.ndarray,
                             days: np.ndarray, counted: np.ndarray, previous_day: np.ndarray) -> np.ndarray:
    """``previous_day`` (:func:`previous_order_days` of the rows) with the customers' orders that
    are not rows: on a weekly window (:mod:`transforms.window`), ``previous_orders`` gives per
    customer the instant of their latest counted order before it. Its local day counts for a
    counted row of that customer on a later day, when later than the row's own previous day."""
    if previous_orders is None or previous_orders.empty:
        return previous_day
    at = pd.Series(previous_orders["ordered_at"].to_numpy())
    by_customer = pd.Series(local_dates(at, timezone).to_numpy(), index=previous_orders["customer_id"].to_numpy(dtype=object))
    theirs = pd.Series(customer_ids, dtype=object).map(by_customer).to_numpy(dtype="datetime64[ns]")
    later = counted & (theirs < days) & ~(previous_day >= theirs)  # NaT compares False both ways
    return np.where(later, theirs, previous_day)


def previous_order_days(customer_ids: np.ndarray, days: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """For each counted row, the latest *earlier* local day on which the same customer
    ordered (NaT if none, and for rows not counted). Same-day orders share their history, so
    the result does not depend on how orders within a day are ordered. Integer arrays only:
    no per-row Python and no string sort."""
    result = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    codes, _ = pd.factorize(pd.Series(customer_ids, dtype=object))
    ok = counted & (codes >= 0)
    if not ok.any():
        return result
    day_number = days.astype("datetime64[D]").astype("int64")
    first, last = day_number[ok].min(), day_number[ok].max()
    span = int(last - first) + 1
    key = codes.astype("int64") * span + (day_number - first)
    pairs = np.unique(key[ok])  # sorted by customer, then day
    customer, day = pairs // span, pairs % span
    previous = np.full(len(pairs), -1, dtype="int64")
    same_customer = customer[1:] == customer[:-1]
    previous[1:] = np.where(same_customer, day[:-1], -1)
    found = previous[np.searchsorted(pairs, key[ok])]
    earlier = np.where(found >= 0, found + first, 0).astype("datetime64[D]").astype("datetime64[ns]")
    result[ok] = np.where(found >= 0, earlier, np.datetime64("NaT"))
    return result


# ----------------------------------------------------------------------------- refunds


def _order_lookup(orders: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """For rows of ``keys`` (order_source, order_id), the matching order's member_id,
    customer_id, country, platform and cancelled flag (positional; NA where no order).

    A row with no ``order_source`` matches on ``order_id`` alone when that id is unique
    across sources.
    """
    cols = ["member_id", "customer_id", "country", "platform", "cancelled"]
    k = pd.DataFrame(
        {"order_source": keys["order_source"].to_numpy(dtype=object), "order_id": keys["order_id"].to_numpy(dtype=object)}
    )
    # Only the orders that are referred to: refunds and collections are few next to orders.
    orders = orders.loc[orders["order_id"].isin(k["order_id"].dropna().unique()), ["source", "order_id"] + cols]
    by_key = orders.drop_duplicates(["source", "order_id"]).set_index(["source", "order_id"])[cols]
    found = k.merge(
        by_key, left_on=["order_source", "order_id"], right_index=True, how="left"
    ).reset_index(drop=True)
    no_source = k["order_source"].isna() & k["order_id"].notna()
    if no_source.any():
        unique_ids = orders.drop_duplicates("order_id", keep=False).set_index("order_id")[cols]
        by_id = k.loc[no_source, ["order_id"]].merge(unique_ids, left_on="order_id", right_index=True, how="left")
        for c in cols:
            found.loc[no_source.to_numpy(), c] = by_id[c].to_numpy()
    matched = found["cancelled"].notna().to_numpy()
    out = {c: _objects(found[c]) for c in cols if c != "cancelled"}
    return pd.DataFrame({**out, "cancelled": found["cancelled"].eq(True).to_numpy(), "matched": matched})


def refund_facts(data: SalesData, orders: pd.DataFrame | None = None, roster: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per refund or cancellation (columns :data:`REFUND_FACTS`).

    Credited to the refund's own ``member_id``, else to its order's member. Converted at the
    rate of the refund's local day. ``counted`` is False for refunds of an order whose status
    is cancelled: that order never counted as revenue, so subtracting its refund too would
    count the cancellation twice.
    """
    require_columns(data.refunds, (
        "source", "refund_id", "order_source", "order_id", "kind", "refunded_at", "currency", "amount_minor",
        "member_id", "customer_id", "country",
    ), "refunds")
    roster = member_roster(data) if roster is None else roster
    orders = order_facts(data, roster) if orders is None else orders
    r = data.refunds
    found = _order_lookup(orders, r)
    own_member = pd.Series(r["member_id"].to_numpy(dtype=object))
    member_ids = pd.Series(_objects(own_member.where(own_member.notna(), found["member_id"])), dtype=object)
    order_cancelled = found["cancelled"].eq(True).to_numpy()
    base = pd.DataFrame(
        {
            "source": r["source"].to_numpy(dtype=object),
            "refund_id": r["refund_id"].to_numpy(dtype=object),
            "order_source": r["order_source"].to_numpy(dtype=object),
            "order_id": r["order_id"].to_numpy(dtype=object),
            "kind": r["kind"].fillna("refund").to_numpy(dtype=object),
            "refunded_at": pd.to_datetime(r["refunded_at"]).astype("datetime64[ns]").to_numpy(),
            "refund_day": local_dates(pd.Series(r["refunded_at"].to_numpy()), data.timezone).to_numpy(),
            "member_id": member_ids.to_numpy(dtype=object),
            "customer_id": _first_known(r["customer_id"], found["customer_id"]),
            "country": _first_known(r["country"], found["country"]),
            "platform": found["platform"].to_numpy(dtype=object),
            "order_cancelled": order_cancelled,
            "counted": ~order_cancelled,
            "original_currency": r["currency"].to_numpy(dtype=object),
            "amount_original_minor": np.abs(_minor(r["amount_minor"])),
        }
    )
    base = pd.concat([base, _attribution(member_ids, roster, data.default_currency)], axis=1)
    facts = converted_to_base(base, {"amount_minor": "amount_original_minor"}, "refund_day", "original_currency", data.fx_rates,
                              pivot=data.fx_pivot_currency)
    return facts[list(REFUND_FACTS)]


# ----------------------------------------------------------------------------- collections


def collection_facts(data: SalesData, orders: pd.DataFrame | None = None, roster: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per collection (columns :data:`COLLECTION_FACTS`): matched to its order by
    (order_source, order_id) for the member and team, converted at the rate of its local day."""
    require_columns(data.collections, (
        "source", "collection_id", "order_source", "order_id", "stage", "received_at", "currency", "amount_minor",
    ), "collections")
    roster = member_roster(data) if roster is None else roster
    orders = order_facts(data, roster) if orders is None else orders
    c = data.collections
    found = _order_lookup(orders, c)
    member_ids = found["member_id"]
    base = pd.DataFrame(
        {
            "source": c["source"].to_numpy(dtype=object),
            "collection_id": c["collection_id"].to_numpy(dtype=object),
            "order_source": c["order_source"].to_numpy(dtype=object),
            "order_id": c["order_id"].to_numpy(dtype=object),
            "stage": c["stage"].to_numpy(dtype=object),
            "received_at": pd.to_datetime(c["received_at"]).astype("datetime64[ns]").to_numpy(),
            "received_day": local_dates(pd.Series(c["received_at"].to_numpy()), data.timezone).to_numpy(),
            "member_id": member_ids.to_numpy(dtype=object),
            "matched": found["matched"].to_numpy(),
            "original_currency": c["currency"].to_numpy(dtype=object),
            "amount_original_minor": _minor(c["amount_minor"]),
        }
    )
    base = pd.concat([base, _attribution(member_ids, roster, data.default_currency)], axis=1)
    facts = converted_to_base(base, {"amount_minor": "amount_original_minor"}, "received_day", "original_currency", data.fx_rates,
                              pivot=data.fx_pivot_currency)
    return facts[list(COLLECTION_FACTS)]


def outstanding_by_order(orders: pd.DataFrame, collections: pd.DataFrame, as_of_end: pd.Timestamp) -> pd.DataFrame:
    """Per non-prepaid, not cancelled order placed before ``as_of_end`` (an exclusive local
    day): ``outstanding_minor`` = order total - collected before ``as_of_end``, never below 0.

    The receivable is carried at the order-date rate: collections in the order's currency
    are netted in that currency and the remainder converted at the order's own rate, so a
    fully paid order is exactly 0 whatever the rates did since. Collections in another
    currency are subtracted at their own (collection-date) base value.
    """
    open_orders = orders[
        ~orders["prepaid"] & ~orders["cancelled"] & (orders["order_day"] < as_of_end)
    ][["source", "order_id", "member_id", "team_id", "attributed", "order_currency", "fx_rate", "currency", "total_original_minor"]]
    paid = collections[collections["matched"] & (collections["received_day"] < as_of_end)]
    same = paid.merge(
        open_orders[["source", "order_id", "order_currency"]],
        left_on=["order_source", "order_id"], right_on=["source", "order_id"], how="inner", suffixes=("_c", ""),
    )
    same_currency = same["original_currency"] == same["order_currency"]
    in_order_ccy = (
        same[same_currency].groupby(["source", "order_id"])["amount_original_minor"].sum().rename("paid_order_ccy")
    )
    in_base = same[~same_currency].groupby(["source", "order_id"])["amount_minor"].sum().rename("paid_base")
    keyed = open_orders.set_index(["source", "order_id"])
    keyed = keyed.assign(
        paid_order_ccy=in_order_ccy.reindex(keyed.index, fill_value=0).astype("int64"),
        paid_base=in_base.reindex(keyed.index, fill_value=0).astype("int64"),
    ).reset_index()
    remaining = (keyed["total_original_minor"] - keyed["paid_order_ccy"]).clip(lower=0)
    remaining_base = pd.Series(np.zeros(len(keyed), dtype=np.int64))
    for target, positions in keyed.groupby("currency", sort=False).indices.items():
        remaining_base.iloc[positions] = convert_minor(
            remaining.iloc[positions].reset_index(drop=True),
            keyed["order_currency"].iloc[positions].reset_index(drop=True),
            keyed["fx_rate"].iloc[positions].reset_index(drop=True),
            target,
        ).to_numpy()
    outstanding = (remaining_base - keyed["paid_base"]).clip(lower=0).astype("int64")
    return keyed.drop(columns=["paid_order_ccy", "paid_base"]).assign(outstanding_minor=outstanding)


# ----------------------------------------------------------------------------- inquiries


def inquiry_facts(data: SalesData, roster: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per inquiry (columns :data:`INQUIRY_FACTS`): the owner is ``owner_member_id``;
    replied within 24 h when ``first_reply_at - received_at <= 24 h`` (exactly 24 h counts);
    converted when ``converted_order_id`` is set."""
    require_columns(data.inquiries, (
        "source", "inquiry_id", "received_at", "first_reply_at", "owner_member_id", "customer_id", "country",
        "channel", "converted_order_id",
    ), "inquiries")
    roster = member_roster(data) if roster is None else roster
    q = data.inquiries
    received = pd.to_datetime(pd.Series(q["received_at"].to_numpy())).astype("datetime64[ns]")
    replied = pd.to_datetime(pd.Series(q["first_reply_at"].to_numpy())).astype("datetime64[ns]")
    member_ids = pd.Series(q["owner_member_id"].to_numpy(dtype=object))
    attribution = _attribution(member_ids, roster, data.default_currency)
    return pd.DataFrame(
        {
            "source": q["source"].to_numpy(dtype=object),
            "inquiry_id": q["inquiry_id"].to_numpy(dtype=object),
            "received_at": received.to_numpy(),
            "received_day": local_dates(received, data.timezone).to_numpy(),
            "member_id": member_ids.where(attribution["attributed"], None).to_numpy(dtype=object),
            "team_id": attribution["team_id"].to_numpy(dtype=object),
            "customer_id": q["customer_id"].to_numpy(dtype=object),
            "country": q["country"].to_numpy(dtype=object),
            "channel": q["channel"].to_numpy(dtype=object),
            "replied_within_24h": ((replied - received) <= REPLY_LIMIT).to_numpy(dtype=bool),
            "converted": q["converted_order_id"].notna().to_numpy(),
        }
    )[list(INQUIRY_FACTS)]


# ----------------------------------------------------------------------------- windows


def orders_in(orders: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Orders placed in ``period`` that count (not cancelled)."""
    return orders[in_period(orders["order_day"], period) & ~orders["cancelled"]]


def refunds_in(refunds: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Refunds and cancellations dated in ``period`` that count (their order is not cancelled)."""
    return refunds[in_period(refunds["refund_day"], period) & refunds["counted"]]


def collections_in(collections: pd.DataFrame, period: Period) -> pd.DataFrame:
    return collections[in_period(collections["received_day"], period)]


def inquiries_in(inquiries: pd.DataFrame, period: Period) -> pd.DataFrame:
    return inquiries[in_period(inquiries["received_day"], period)]


def unattributed_orders(data: SalesData, period: Period, facts: Facts | None = None) -> pd.DataFrame:
    """Orders in ``period`` credited to no known member (listed in reports, never dropped)."""
    facts = sales_facts(data) if facts is None else facts
    found = orders_in(facts.orders, period)
    return found[~found["attributed"]].reset_index(drop=True)
