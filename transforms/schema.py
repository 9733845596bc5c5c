"""Every frame that crosses a module boundary, declared once.

Input frames are the warehouse tables as :func:`warehouse.db.read_table` returns
them (columns named as in :mod:`warehouse.models`; ``*_minor`` int64, decimals as
``Decimal`` objects, timestamps ``datetime64[ns]`` naive UTC). Output frames are
declared here so that reports and flows can rely on their columns; call
:func:`require_columns` at a boundary and a missing column fails with its name.

Money columns end in ``_minor`` and are integer minor units of the currency in
the frame's ``currency`` column (for metrics: the team's base currency). Ratios
(rates, shares, attainment, changes) are floats: they are not money and are
only ever displayed. A ratio with no denominator is NaN, shown as "—".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

# ----------------------------------------------------------------------------- inputs

TEAMS = ("team_id", "name", "base_currency", "lead_member_id")
MEMBERS = ("member_id", "name", "team_id", "role", "manager_id", "email", "language", "active")
CUSTOMERS = ("customer_id", "name", "country", "customer_class", "owner_member_id")
ORDERS = (
    "source", "order_id", "platform", "store", "ordered_at", "customer_id", "member_id", "country",
    "currency", "gross_minor", "discount_minor", "tax_minor", "shipping_minor", "payment_terms", "status",
    "shipped_at",  # first shipment (naive UTC); NaT while not shipped or not known - the plans' shipped stage
)
ORDER_LINES = (
    "source", "order_id", "line_no", "sku", "description", "quantity", "unit_price",
    "gross_minor", "discount_minor", "unit_cost", "cost_minor",
)
REFUNDS = (
    "source", "refund_id", "order_source", "order_id", "kind", "refunded_at", "currency",
    "amount_minor", "member_id", "customer_id", "country", "reason",
)
COLLECTIONS = (
    "source", "collection_id", "order_source", "order_id", "stage", "received_at", "currency", "amount_minor",
)
FX_RATES = ("rate_date", "from_currency", "to_currency", "rate")
# A SKU cost sheet: the unit cost of ``sku`` from ``effective_from`` (a calendar day) until the next row's.
PRODUCT_COSTS = ("source", "sku", "effective_from", "currency", "unit_cost")
TARGETS = ("scope", "scope_id", "period", "metric", "value", "currency")
SCORES = ("member_id", "period", "dimension", "score")
# Platform fees (referral, FBA, shipping labels, payment...) charged on an order: positive = kept by the platform.
FEES = ("source", "fee_id", "order_source", "order_id", "fee_type", "posted_at", "currency", "amount_minor")
INQUIRIES = (
    "source", "inquiry_id", "received_at", "first_reply_at", "owner_member_id", "customer_id",
    "country", "channel", "converted_order_id",
)


@dataclass(frozen=True)
class SalesData:
    """Everything the metrics and commissions need, as read from the warehouse."""

    teams: pd.DataFrame
    members: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    order_lines: pd.DataFrame
    refunds: pd.DataFrame
    collections: pd.DataFrame
    fx_rates: pd.DataFrame
    targets: pd.DataFrame
    scores: pd.DataFrame
    inquiries: pd.DataFrame
    fees: pd.DataFrame = field(default_factory=lambda: empty_fees())  # optional: no fees = none known
    # optional: costs of lines the platform gives none for (Amazon, WooCommerce), by SKU and day
    product_costs: pd.DataFrame = field(default_factory=lambda: empty_product_costs())
    timezone: str = "Asia/Shanghai"
    default_currency: str = "CNY"  # for rows with no member (unattributed)
    new_customer_window_days: int = 365
    fx_pivot_currency: str = "USD"  # cross rates go through it when no direct or inverse rate exists
    extra: dict = field(default_factory=dict)

    def check(self) -> "SalesData":
        for name, cols in INPUTS.items():
            require_columns(getattr(self, name), cols, name)
        return self


def empty_fees() -> pd.DataFrame:
    """A FEES frame with no rows, warehouse-shaped (for data with no fee source)."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in FEES})
    return out.astype({"amount_minor": "int64", "posted_at": "datetime64[ns]"})


def empty_product_costs() -> pd.DataFrame:
    """A PRODUCT_COSTS frame with no rows, warehouse-shaped (for data with no cost sheet)."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in PRODUCT_COSTS})
    return out.astype({"effective_from": "datetime64[ns]"})


INPUTS = {
    "teams": TEAMS, "members": MEMBERS, "customers": CUSTOMERS, "orders": ORDERS,
    "order_lines": ORDER_LINES, "refunds": REFUNDS, "collections": COLLECTIONS,
    "fx_rates": FX_RATES, "targets": TARGETS, "scores": SCORES, "inquiries": INQUIRIES, "fees": FEES,
    "product_costs": PRODUCT_COSTS,
}

# ----------------------------------------------------------------------------- outputs

# One row per member per period (transforms.metrics.member_metrics).
MEMBER_METRICS = (
    "member_id", "team_id", "period", "currency",
    "revenue_minor",  # gross - discounts of orders placed in the period, base currency (tax and shipping excluded)
    "refunds_minor",  # refunds and cancellations dated in the period, base currency
    "net_revenue_minor",  # revenue_minor - refunds_minor
    "orders",  # orders placed in the period (not cancelled)
    "average_order_value_minor",  # revenue_minor // orders (0 when no orders), rounded half up
    "cost_known_revenue_minor",  # revenue of orders whose every line has a unit cost
    "gross_profit_minor",  # on those orders: revenue - cost; <NA> when no order has known cost
    "gross_margin",  # gross_profit / cost_known_revenue (float, NaN when unknown)
    "customers",  # distinct customers ordering in the period
    "new_customers",  # ... whose first ever order is in the period
    "returning_customers",  # ... who ordered before the period
    "refund_rate",  # refunds_minor / revenue_minor (float)
    "target_revenue_minor",  # <NA> when no target
    "attainment",  # net_revenue / target (float, NaN when no target)
    "collections_received_minor",  # money received in the period (collections dated in it)
    "collections_outstanding_minor",  # at period end: order totals (non-prepaid orders up to period end) - collected
    "inquiries",  # received in the period
    "inquiries_replied_24h",
    "reply_within_24h_rate",  # float
    "inquiries_converted",
    "inquiry_conversion_rate",  # float
    "previous_net_revenue_minor",
    "net_revenue_change",  # (net - previous) / |previous| (float, NaN when previous is 0)
    "previous_orders",
    "orders_change",
    "rank_in_team",  # 1 = highest net revenue in the team for the period (dense rank, int)
    "team_size",
)

# One row per team per period (transforms.metrics.team_metrics): same money/ratio columns, summed.
TEAM_METRICS = (
    "team_id", "period", "currency", "members", "revenue_minor", "refunds_minor", "net_revenue_minor", "orders",
    "average_order_value_minor", "gross_profit_minor", "gross_margin", "new_customers", "returning_customers",
    "refund_rate", "target_revenue_minor", "attainment", "collections_received_minor",
    "collections_outstanding_minor", "inquiries", "reply_within_24h_rate", "inquiry_conversion_rate",
    "previous_net_revenue_minor", "net_revenue_change",
)

# Weekly trend for charts (transforms.metrics.weekly_trend): one row per member per week, oldest first.
TREND = ("member_id", "team_id", "period", "week_start", "net_revenue_minor", "orders", "currency")

# transforms.customers.top_customers: top N per member in the period.
TOP_CUSTOMERS = ("member_id", "customer_id", "customer_name", "country", "net_revenue_minor", "orders", "currency", "rank")

# transforms.customers.quiet_customers: customers whose last order is older than the quiet limit.
QUIET_CUSTOMERS = (
    "member_id", "customer_id", "customer_name", "country", "customer_class", "last_order_date",
    "days_since_last_order", "lifetime_revenue_minor", "orders", "currency",
)

# transforms.metrics.mix: team revenue by a dimension (platform or country) in the period.
MIX = ("team_id", "dimension", "value", "net_revenue_minor", "orders", "share", "currency")

# transforms.commissions.commission_lines: one explained line per credited order (and per refund).
COMMISSION_LINES = (
    "month", "member_id", "plan_id", "order_source", "order_id", "credited_at", "rule", "band",
    "base_minor", "rate", "fx_rate", "amount_minor", "currency", "explanation",
)

# transforms.commissions.commission_summary: one row per member per month.
COMMISSION_SUMMARY = ("month", "member_id", "team_id", "plan_id", "base_minor", "amount_minor", "lines", "currency")
COMMISSION_SUMMARY_EXTRA = ("held_minor",)  # held by stages at month end (shown, not paid)

# transforms.commissions.credits_for_month: one credited transaction per order placed (positive base)
# and per refund/cancellation (negative base) in the month, in the team's base currency.
CREDITS = (
    "month", "member_id", "team_id", "kind",  # kind: order | refund | cancellation
    "source", "record_id",  # the credited record: the order's (source, order_id) or the refund's (source, refund_id)
    "order_source", "order_id",  # the order (for a refund: the order refunded, when known)
    "credited_at",  # naive UTC timestamp of the order or refund
    "credited_date",  # its local calendar day (datetime64, midnight)
    "base_minor", "currency", "fx_rate",  # base in the team's base currency, and the rate used (Decimal)
    "original_currency", "original_amount_minor",  # the same amount in the record's own currency
)

# Columns the transforms add beyond the contracts above (additive; never required by them).
MEMBER_METRICS_EXTRA = ("name", "active", "cost_known_orders")
TEAM_METRICS_EXTRA = (
    "customers", "cost_known_revenue_minor", "inquiries_replied_24h", "inquiries_converted", "previous_orders",
    "orders_change",
)
TREND_EXTRA = ("revenue_minor", "refunds_minor")
TOP_CUSTOMERS_EXTRA = ("team_id", "revenue_minor", "refunds_minor")
QUIET_CUSTOMERS_EXTRA = ("team_id",)
MIX_EXTRA = ("revenue_minor", "refunds_minor")
COMMISSION_LINES_EXTRA = (
    "team_id", "kind", "record_id", "credited_date",
    "cumulative_base_minor",  # the member's month-to-date base after this line
    "cumulative_amount_minor",  # the member's month-to-date commission after this line
    "line_type",  # credit | clawback | release | project | member | pool | draw | adjustment
    "multiplier",  # Decimal: the line's weight (role x customer class) or month-level multiplier; None = 1
    "held_minor",  # held by stages after this line (shown, not paid)
    "plan_currency",  # the currency of base and tiers when the payout currency differs (else = currency)
    "payout_fx_rate",  # plan currency -> payout currency at the payout date (None when the same)
    "adjusts_month",  # adjustment lines: the closed month they correct
    "stage",  # staged plans: the stages the order reached by month end (signed+shipped, none); else None
    "multiplier_reason",  # month-level lines: attainment and its band, evaluation score, cap / floor; else None
)
MONTH_TO_DATE = COMMISSION_SUMMARY + ("as_of",)

# Rejected input rows (connectors): where and what.
REJECTS = ("source", "kind", "location", "sheet", "row_number", "column_name", "record_key", "error", "raw")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> pd.DataFrame:
    """Fail with the frame's name and the missing columns, not with a KeyError deep inside."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{name}: missing column(s) {', '.join(missing)}")
    return frame
