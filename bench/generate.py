"""Seeded, realistic sales data at any size, built directly as warehouse-shaped frames.

:func:`generate` returns a checked :class:`transforms.schema.SalesData` shaped exactly as
:func:`warehouse.db.read_table` returns the warehouse (``*_minor`` int64, nullable ``Int64``
where a value may be missing, ``Decimal`` objects for quantities, prices, costs, rates,
target values and scores, ``datetime64[ns]`` naive UTC timestamps), so the transforms see
what a real run sees. Everything is vectorised with numpy: a million order lines take a
few seconds. The same ``Shape`` and ``seed`` always give the same frames.

The company: ``teams`` teams of about 50 people each, in CNY (most) or USD (every fourth
team). Two thirds of the teams sell through stores in several currencies (Shopify and
Amazon US in USD, Amazon DE in EUR, Amazon JP in JPY, WooCommerce UK in GBP), prepaid;
the rest are B2B foreign-trade teams invoicing in USD or CNY on T/T 30/70 with a deposit
and a balance collected weeks later (some balances still open at the end). Sales volume
grows slowly over the history, members sell unevenly (a long tail), customers reorder,
about 4% of orders are refunded and 1% cancelled, some lines have no known cost, some
orders are unattributed. Daily FX rates follow a seeded random walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from transforms.schema import INPUTS, SalesData

# (platform, store, currency, source); a team's stores are the first ``k`` of this list.
STORES = (
    ("shopify", "shopify-us", "USD", "shopify"),
    ("amazon", "amazon-us", "USD", "amazon"),
    ("amazon", "amazon-de", "EUR", "amazon"),
    ("amazon", "amazon-jp", "JPY", "amazon"),
    ("woocommerce", "woo-uk", "GBP", "woocommerce"),
)
B2B_STORES = (("erp", "erp-usd", "USD", "erp"), ("erp", "erp-cny", "CNY", "erp"))
COUNTRIES = {
    "USD": ("United States", "Canada", "Mexico"),
    "EUR": ("Germany", "France", "Italy", "Spain", "Netherlands"),
    "JPY": ("Japan",),
    "GBP": ("United Kingdom", "Ireland"),
    "CNY": ("Saudi Arabia", "United Arab Emirates", "Brazil", "Nigeria", "Chile"),
}
B2B_COUNTRIES = ("Saudi Arabia", "United Arab Emirates", "Brazil", "Nigeria", "Chile", "Kenya", "Turkey")
# Units of the currency per 1 CNY, roughly (the random walk starts here).
PER_CNY = {"CNY": 1.0, "USD": 0.14, "EUR": 0.13, "GBP": 0.11, "JPY": 20.5}
EXPONENT = {"JPY": 0}
ROLES = ("sales", "sales", "sales", "sales", "sales", "sales", "sales", "follow_up", "customer_service", "assistant")
LINES_PER_ORDER = 1 + 0.6 + 0.6**2 + 0.6**3  # mean of min(geometric(0.4), 4): 1-4 lines, 2.18 on average


@dataclass(frozen=True)
class Shape:
    """How much data: ``lines`` order lines spread over ``days`` days ending on ``end``
    (inclusive), for ``members`` people. Orders are about ``lines / 2.18``."""

    lines: int = 100_000
    members: int = 500
    days: int = 365
    end: date = date(2026, 11, 15)  # a Sunday: the week 2026-W46 is the last complete week

    @property
    def teams(self) -> int:
        return max(1, round(self.members / 50))

    @property
    def orders(self) -> int:
        return max(1, int(self.lines / LINES_PER_ORDER))


def _exp(currency: str) -> int:
    return EXPONENT.get(currency, 2)


def _ids(prefix: str, numbers: np.ndarray, width: int = 0) -> np.ndarray:
    return np.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], dtype=object)


def _decimals(values: np.ndarray, places: int) -> np.ndarray:
    """Integers scaled by 10**places -> Decimal objects, each distinct value built once."""
    uniques, codes = np.unique(values, return_inverse=True)
    table = np.array([Decimal(int(u)).scaleb(-places) for u in uniques.tolist()], dtype=object)
    return table[codes]


def _nullable(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    out = pd.array(values.astype("int64"), dtype="Int64")
    out[missing] = pd.NA
    return out


def _objects(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    if missing is not None:
        out[missing] = None
    return out


def _timestamps(start: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    return (start + seconds.astype("timedelta64[s]")).astype("datetime64[ns]")


def generate(shape: Shape = Shape(), seed: int = 7) -> SalesData:
    """A checked :class:`SalesData` of the given shape (see the module docstring)."""
    rng = np.random.default_rng(seed)
    end_ts = np.datetime64(shape.end + timedelta(days=1), "s") - np.timedelta64(8, "h")  # local midnight, in UTC
    start_ts = end_ts - np.timedelta64(shape.days, "D")
    span_s = shape.days * 86_400

    # -- teams and members -------------------------------------------------------------
    n_teams, n_members = shape.teams, shape.members
    team_ids = _ids("T", np.arange(1, n_teams + 1), 2)
    team_base = np.array(["USD" if t % 4 == 3 else "CNY" for t in range(n_teams)], dtype=object)
    team_b2b = np.array([t % 3 == 2 for t in range(n_teams)])
    member_ids = _ids("m", np.arange(1, n_members + 1), 4)
    member_team = np.arange(n_members) % n_teams
    lead = np.zeros(n_members, dtype=bool)
    lead[:n_teams] = True  # the first member of each team leads it
    role = np.array(ROLES, dtype=object)[rng.integers(0, len(ROLES), n_members)]
    role[lead] = "lead"
    active = rng.random(n_members) > 0.03
    active[lead] = True
    teams = pd.DataFrame({
        "team_id": team_ids,
        "name": np.array([f"Team {t}" for t in range(1, n_teams + 1)], dtype=object),
        "base_currency": team_base,
        "lead_member_id": member_ids[:n_teams],
    })
    members = pd.DataFrame({
        "member_id": member_ids,
        "name": np.array([f"Member {i}" for i in range(1, n_members + 1)], dtype=object),
        "team_id": team_ids[member_team],
        "role": role,
        "manager_id": _objects(member_ids[member_team], lead),
        "email": np.array([f"{m}@bench.yeji.local" for m in member_ids], dtype=object),
        "language": np.where(rng.random(n_members) < 0.7, "zh-CN", "en").astype(object),
        "active": active,
    })

    # -- customers: a pool per member, a long tail of repeat buyers ---------------------
    n_orders = shape.orders
    per_member = max(4, n_orders // (n_members * 3))
    n_customers = per_member * n_members
    customer_ids = _ids("C", np.arange(1, n_customers + 1), 7)
    customer_member = np.repeat(np.arange(n_members), per_member)
    customer_b2b = team_b2b[member_team[customer_member]]
    customer_country = np.where(
        customer_b2b,
        np.array(B2B_COUNTRIES, dtype=object)[rng.integers(0, len(B2B_COUNTRIES), n_customers)],
        None,
    )
    customers = pd.DataFrame({
        "customer_id": customer_ids,
        "name": np.array([f"Customer {i}" for i in range(1, n_customers + 1)], dtype=object),
        "country": customer_country,
        "customer_class": np.where(customer_b2b & (rng.random(n_customers) < 0.1), "key_account", None).astype(object),
        "owner_member_id": _objects(member_ids[customer_member], ~customer_b2b),
    })

    # -- orders -------------------------------------------------------------------------
    # Members sell unevenly (Pareto weights); volume grows ~20% a year (sqrt-shaped times).
    weight = rng.pareto(2.0, n_members) + 0.2
    weight[role != "sales"] *= 0.15
    order_member = rng.choice(n_members, n_orders, p=weight / weight.sum())
    order_team = member_team[order_member]
    u = rng.random(n_orders)
    growth = 0.2 * shape.days / 365
    offset = (np.sqrt(1 + growth * (2 + growth) * u) - 1) / growth if growth > 0 else u
    seconds = np.sort((offset * span_s).astype("int64"))
    b2b = team_b2b[order_team]
    store_pick = rng.integers(0, 1 << 30, n_orders)
    store_table = np.array(STORES + B2B_STORES, dtype=object)
    store_index = np.where(b2b, len(STORES) + store_pick % len(B2B_STORES), store_pick % len(STORES))
    platform, store, currency, source = (store_table[store_index, k] for k in range(4))
    # A member's own customer most of the time (repeat buyers: a skewed pick in the pool).
    pick = np.minimum((rng.pareto(1.2, n_orders) * 2).astype("int64"), per_member - 1)
    customer_index = order_member * per_member + pick
    order_country = np.where(
        b2b, customer_country[customer_index],
        np.array([COUNTRIES[c][i % len(COUNTRIES[c])] for c, i in zip(currency.tolist(), store_pick.tolist())], dtype=object),
    )
    unattributed = (~b2b) & (rng.random(n_orders) < 0.02)
    cancelled = rng.random(n_orders) < 0.01
    order_numbers = np.arange(1, n_orders + 1)
    order_ids = _ids("O", order_numbers, 8)

    # -- order lines: 1-4 per order (2.18 on average), prices from a catalogue per currency ----------------
    n_lines = np.minimum(rng.geometric(0.4, n_orders), 4)
    total = int(n_lines.sum())
    line_order = np.repeat(np.arange(n_orders), n_lines)
    first_of_order = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    line_no = np.arange(total) - np.repeat(first_of_order, n_lines) + 1
    line_currency = currency[line_order]
    exps = np.where(line_currency == "JPY", 0, 2)
    sku = rng.integers(0, 400, total)
    price_cny = (np.exp(rng.normal(6.0, 1.1, 400)) + 20)  # a catalogue of 400 SKUs, CNY 20 .. ~20,000
    line_b2b = b2b[line_order]
    quantity = np.where(line_b2b, rng.integers(10, 500, total), rng.integers(1, 4, total))
    fx0 = np.array([PER_CNY[c] for c in line_currency.tolist()])
    # unit price in minor units of the line's currency, rounded to whole units (x.00 / x yen)
    unit_major = np.maximum(1, np.round(price_cny[sku] * fx0 * np.where(line_b2b, 0.6, 1.0)))
    unit_minor = (unit_major * np.where(exps == 0, 1, 100)).astype("int64")
    gross_line = unit_minor * quantity
    discounted = rng.random(total) < 0.15
    discount_line = np.where(discounted, gross_line // 10, 0).astype("int64")
    cost_known = rng.random(total) > 0.05
    cost_minor = (unit_minor * 55 // 100) * quantity
    lines_frame = pd.DataFrame({
        "source": source[line_order],
        "order_id": order_ids[line_order],
        "line_no": line_no.astype("int64"),
        "sku": _ids("SKU-", sku, 4),
        "description": None,
        "quantity": _decimals(quantity, 0),
        "unit_price": np.where(exps == 0, _decimals(unit_minor, 0), _decimals(unit_minor, 2)),
        "gross_minor": gross_line.astype("int64"),
        "discount_minor": discount_line,
        "unit_cost": np.where(cost_known, np.where(exps == 0, _decimals(unit_minor * 55 // 100, 0),
                                                   _decimals(unit_minor * 55 // 100, 2)), None),
        "cost_minor": _nullable(cost_minor, ~cost_known),
    })
    gross = np.bincount(line_order, weights=gross_line, minlength=n_orders).astype("int64")
    discount = np.bincount(line_order, weights=discount_line, minlength=n_orders).astype("int64")
    # (bincount sums in float64: exact while each order stays below 2**53 minor units)
    tax = np.where(platform == "shopify", gross // 12, 0).astype("int64")
    shipping = np.where(b2b, 0, np.where(currency == "JPY", 800, 899)).astype("int64")
    orders = pd.DataFrame({
        "source": source,
        "order_id": order_ids,
        "platform": platform,
        "store": store,
        "ordered_at": _timestamps(start_ts, seconds),
        "customer_id": customer_ids[customer_index],
        "member_id": _objects(member_ids[order_member], unattributed),
        "country": order_country,
        "currency": currency,
        "gross_minor": gross,
        "discount_minor": discount,
        "tax_minor": tax,
        "shipping_minor": shipping,
        "payment_terms": np.where(b2b, "TT30/70", "prepaid").astype(object),
        "status": np.where(cancelled, "cancelled", "open").astype(object),
        "shipped_at": np.full(n_orders, np.datetime64("NaT"), dtype="datetime64[ns]"),  # no shipments generated
    })

    # -- refunds: ~4% of store orders, 3-30 days later, full or partial -----------------
    refunded = np.flatnonzero(~b2b & ~cancelled & (rng.random(n_orders) < 0.04))
    refund_at = seconds[refunded] + rng.integers(3 * 86_400, 30 * 86_400, len(refunded))
    refunded, refund_at = refunded[refund_at < span_s], refund_at[refund_at < span_s]
    revenue = gross - discount
    partial = rng.random(len(refunded)) < 0.4
    amount = np.where(partial, revenue[refunded] // 3, revenue[refunded])
    refunds = pd.DataFrame({
        "source": source[refunded],
        "refund_id": _ids("R", np.arange(1, len(refunded) + 1), 8),
        "order_source": source[refunded],
        "order_id": order_ids[refunded],
        "kind": np.where(rng.random(len(refunded)) < 0.1, "cancellation", "refund").astype(object),
        "refunded_at": _timestamps(start_ts, refund_at),
        "currency": currency[refunded],
        "amount_minor": amount.astype("int64"),
        "member_id": None,
        "customer_id": customer_ids[customer_index[refunded]],
        "country": order_country[refunded],
        "reason": None,
    })

    # -- collections: B2B T/T 30/70, deposit within days, balance 3-8 weeks later --------
    trade = np.flatnonzero(b2b & ~cancelled)
    total_due = revenue[trade] + tax[trade] + shipping[trade]
    deposit = total_due * 3 // 10
    dep_at = seconds[trade] + rng.integers(86_400, 5 * 86_400, len(trade))
    bal_at = seconds[trade] + rng.integers(21 * 86_400, 56 * 86_400, len(trade))
    short = rng.random(len(trade)) < 0.05  # bank charges: a balance arrives a little short
    balance = total_due - deposit - np.where(short, np.minimum(2500, total_due // 100), 0)
    rows = [(trade[dep_at < span_s], dep_at[dep_at < span_s], deposit[dep_at < span_s], "deposit"),
            (trade[bal_at < span_s], bal_at[bal_at < span_s], balance[bal_at < span_s], "balance")]
    coll_order = np.concatenate([r[0] for r in rows])
    collections = pd.DataFrame({
        "source": "bank",
        "collection_id": _ids("P", np.arange(1, len(coll_order) + 1), 8),
        "order_source": source[coll_order],
        "order_id": order_ids[coll_order],
        "stage": np.concatenate([np.full(len(r[0]), r[3], dtype=object) for r in rows]),
        "received_at": _timestamps(start_ts, np.concatenate([r[1] for r in rows])),
        "currency": currency[coll_order],
        "amount_minor": np.concatenate([r[2] for r in rows]).astype("int64"),
    })

    # -- inquiries: ~0.3 per order, replies after an exponential delay, some never -------
    n_inq = max(1, int(n_orders * 0.3))
    inq_at = np.sort(rng.integers(0, span_s, n_inq))
    delay = (rng.exponential(14 * 3600, n_inq)).astype("int64")
    no_reply = (rng.random(n_inq) < 0.08) | (inq_at + delay >= span_s)
    inq_member = rng.integers(0, n_members, n_inq)
    converted = rng.random(n_inq) < 0.12
    inquiries = pd.DataFrame({
        "source": "crm",
        "inquiry_id": _ids("Q", np.arange(1, n_inq + 1), 8),
        "received_at": _timestamps(start_ts, inq_at),
        "first_reply_at": pd.array(_timestamps(start_ts, inq_at + delay)).copy(),
        "owner_member_id": member_ids[inq_member],
        "customer_id": None,
        "country": None,
        "channel": np.array(("email", "whatsapp", "alibaba", "website"), dtype=object)[rng.integers(0, 4, n_inq)],
        "converted_order_id": _objects(order_ids[rng.integers(0, n_orders, n_inq)], ~converted),
    })
    inquiries.loc[no_reply, "first_reply_at"] = pd.NaT

    # -- FX: daily random walk from every currency into every base currency -------------
    days = pd.date_range(shape.end - timedelta(days=shape.days + 7), shape.end, freq="D")
    fx_rows = []
    walk = {c: np.exp(np.cumsum(rng.normal(0, 0.003, len(days)))) for c in PER_CNY}
    for base in sorted(set(team_base.tolist())):
        for cur in PER_CNY:
            if cur == base:
                continue
            # units of base per 1 unit of cur, 6 decimals
            value = (PER_CNY[base] * walk[base]) / (PER_CNY[cur] * walk[cur])
            fx_rows.append(pd.DataFrame({
                "rate_date": days.values.astype("datetime64[ns]"),
                "from_currency": cur,
                "to_currency": base,
                "rate": _decimals(np.round(value * 1e6).astype("int64"), 6),
            }))
    fx_rates = pd.concat(fx_rows, ignore_index=True)

    # -- targets: monthly and weekly revenue targets for sellers, monthly for teams ------
    sellers = np.flatnonzero(np.isin(role, ["sales", "lead"]))
    months = pd.period_range(pd.Timestamp(shape.end) - pd.Timedelta(days=shape.days), pd.Timestamp(shape.end), freq="M")
    weeks = pd.period_range(pd.Timestamp(shape.end) - pd.Timedelta(days=shape.days), pd.Timestamp(shape.end), freq="W-SUN")
    week_labels = [f"{p.start_time.isocalendar().year}-W{p.start_time.isocalendar().week:02d}" for p in weeks]
    month_labels = [f"{p.year}-{p.month:02d}" for p in months]
    monthly = np.round(weight[sellers] / weight[sellers].mean() * 16).astype("int64") * 10_000 + 10_000
    targets = pd.concat([
        pd.DataFrame({
            "scope": "member",
            "scope_id": np.tile(member_ids[sellers], len(month_labels)),
            "period": np.repeat(np.array(month_labels, dtype=object), len(sellers)),
            "metric": "revenue",
            "value": _decimals(np.tile(monthly, len(month_labels)), 0),
            "currency": None,
        }),
        pd.DataFrame({
            "scope": "member",
            "scope_id": np.tile(member_ids[sellers], len(week_labels)),
            "period": np.repeat(np.array(week_labels, dtype=object), len(sellers)),
            "metric": "revenue",
            "value": _decimals(np.tile(monthly // 4, len(week_labels)), 0),
            "currency": None,
        }),
        pd.DataFrame({
            "scope": "team",
            "scope_id": np.tile(team_ids, len(month_labels)),
            "period": np.repeat(np.array(month_labels, dtype=object), n_teams),
            "metric": "revenue",
            "value": _decimals(np.full(n_teams * len(month_labels), 2_000_000), 0),
            "currency": None,
        }),
    ], ignore_index=True)
    last_weeks = week_labels[-4:]
    scores = pd.DataFrame({
        "member_id": np.tile(member_ids, len(last_weeks)),
        "period": np.repeat(np.array(last_weeks, dtype=object), n_members),
        "dimension": "quality",
        "score": _decimals(rng.integers(60, 100, n_members * len(last_weeks)), 0),
    })
    frames = dict(teams=teams, members=members, customers=customers, orders=orders, order_lines=lines_frame,
                  refunds=refunds, collections=collections, fx_rates=fx_rates, targets=targets, scores=scores,
                  inquiries=inquiries)
    frames = {k: v[list(INPUTS[k])].reset_index(drop=True) for k, v in frames.items()}
    return SalesData(**frames, timezone="Asia/Shanghai", default_currency="CNY", new_customer_window_days=365).check()


def lines_ending_at(per_day: int, days: int) -> int:
    """Lines of a ``days``-long history whose last days see ``per_day`` lines a day: volume
    grows (see :func:`generate`), so a longer history averages fewer lines a day than it
    ends with, and histories of different lengths compared at the same final volume have
    the same last weeks' work."""
    growth = 0.2 * days / 365  # as in generate(); the density at the end is (1 + g) / (1 + g/2) times the mean
    return round(per_day * days * (1 + growth / 2) / (1 + growth))


def to_warehouse(data: SalesData, conn) -> None:
    """Write generated data into a migrated warehouse (an open connection), table by table,
    through :func:`warehouse.db.upsert_frame` as a load would: a real warehouse to read from."""
    from flows.common import SALES_TABLES
    from warehouse.db import upsert_frame
    from warehouse.models import TABLES

    for name, table in SALES_TABLES.items():
        frame = getattr(data, name)
        if "source" in TABLES[table].c and "source" not in frame.columns:  # reference tables: one source
            frame = frame.assign(source="generated")
        nullable = {c: frame[c].to_numpy(dtype=object, na_value=None) for c in frame.columns
                    if isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype)}  # <NA> -> NULL
        upsert_frame(conn, table, frame.assign(**nullable))


def fresh(data: SalesData) -> SalesData:
    """The same frames in a new :class:`SalesData` object, so no memoised facts are reused."""
    from dataclasses import replace

    return replace(data, extra={})


# The plans the benchmarks measure, fixed so results stay comparable run to run (the demo's own
# plan files name demo members and evaluation dimensions the generated data does not have).
BENCH_COMMISSION = {
    "default_plan": "standard_flat",
    "plans": [
        {"plan_id": "sales_tiered", "name": "Sales (tiered)", "kind": "tiered", "roles": ["sales", "lead"],
         "tiers": [{"up_to": 100000, "rate": "0.01"}, {"up_to": 300000, "rate": "0.015"},
                   {"up_to": 800000, "rate": "0.02"}, {"rate": "0.025"}]},
        {"plan_id": "support_flat", "name": "Follow-up & service (flat)", "kind": "flat",
         "roles": ["follow_up", "customer_service"], "rate": "0.008"},
        {"plan_id": "standard_flat", "name": "Standard (flat)", "kind": "flat", "rate": "0.005"},
    ],
}


def settings():
    """The demo workspace's settings (report options) with the benchmark's fixed commission plans."""
    from config.loader import DEFAULTS, load_settings
    from config.plans import Commission

    demo = load_settings(DEFAULTS / "yeji.yaml")
    return demo.model_copy(update={"commission": Commission.model_validate(BENCH_COMMISSION)})
