"""Top customers per member and customers going quiet."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.factories import fx, order, refund, sales_data
from transforms.customers import quiet_customers, top_customers
from transforms.periods import parse_period
from transforms.schema import QUIET_CUSTOMERS, TOP_CUSTOMERS, require_columns

NOV = parse_period("2026-11")


def test_top_customers_per_member_by_net_revenue_with_names_falling_back_to_ids():
    data = sales_data(
        customers=[dict(customer_id="C1", name="Acme GmbH", country="Germany"), dict(customer_id="C2", name=None)],
        orders=[
            order("A1", "2026-11-02 03:00", 500_00, customer_id="C1"),
            order("A2", "2026-11-03 03:00", 400_00, customer_id="C2", country="Chile"),
            order("A3", "2026-11-04 03:00", 300_00, customer_id="C3"),
            order("A4", "2026-11-05 03:00", 900_00, customer_id="C1", member_id="M2"),
            order("A5", "2026-10-05 03:00", 9_999_00, customer_id="C3"),  # before the period
        ],
        refunds=[refund("R1", "2026-11-06 03:00", 250_00, order_id="A1")],
    )
    got = top_customers(data, NOV, 2)
    m1 = got[got["member_id"] == "M1"]
    assert m1["customer_id"].tolist() == ["C2", "C3"]  # C1 is 500 - 250 = 250 net: third, cut by n=2
    assert m1["rank"].tolist() == [1, 2]
    assert m1["customer_name"].tolist() == ["C2", "C3"]
    assert m1["country"].tolist() == ["Chile", "France"]
    m2 = got[got["member_id"] == "M2"].iloc[0]
    assert (m2["customer_id"], m2["customer_name"], m2["country"], m2["net_revenue_minor"]) == ("C1", "Acme GmbH", "Germany", 900_00)
    require_columns(got, TOP_CUSTOMERS, "top_customers")


def test_top_customers_ties_are_ranked_by_customer_id():
    data = sales_data(orders=[order("A1", "2026-11-02 03:00", 100_00, customer_id="C2"),
                              order("A2", "2026-11-02 03:00", 100_00, customer_id="C1")])
    assert top_customers(data, NOV, 5)["customer_id"].tolist() == ["C1", "C2"]


@pytest.mark.parametrize(
    ("last_order", "quiet"),
    [
        ("2026-10-01 03:00", False),  # 45 days before 2026-11-15: not yet quiet
        ("2026-09-30 03:00", True),  # 46 days
        ("2025-11-15 03:00", True),  # 365 days: still within the lookback
        ("2025-11-14 03:00", False),  # 366 days: outside the lookback
        ("2026-11-16 03:00", False),  # after the as-of day: ignored, and nothing earlier
    ],
)
def test_quiet_after_the_limit_within_the_lookback(last_order, quiet):
    data = sales_data(orders=[order("A1", last_order, 100_00)])
    got = quiet_customers(data, date(2026, 11, 15), 45)
    assert (len(got) == 1) is quiet
    if quiet:
        assert got.iloc[0]["days_since_last_order"] == (pd.Timestamp("2026-11-15") - pd.Timestamp(last_order).normalize()).days


def test_quiet_customers_belong_to_their_owner_sorted_by_lifetime_revenue():
    data = sales_data(
        customers=[dict(customer_id="C3", owner_member_id="M2", customer_class="key_account")],
        orders=[
            order("A1", "2026-06-01 03:00", 100_00, customer_id="C1"),
            order("A2", "2026-06-02 03:00", 300_00, customer_id="C1", member_id="M2"),  # C1: mostly M2's
            order("A3", "2026-06-03 03:00", 50_00, customer_id="C2"),
            order("A4", "2026-06-04 03:00", 900_00, customer_id="C3"),  # declared owner M2 wins
            order("A5", "2026-06-05 03:00", 80_00, customer_id="C4", status="cancelled"),  # no real order
        ],
    )
    got = quiet_customers(data, date(2026, 11, 15), 45)
    assert got[["member_id", "customer_id", "lifetime_revenue_minor", "orders"]].values.tolist() == [
        ["M1", "C2", 50_00, 1],
        ["M2", "C3", 900_00, 1],
        ["M2", "C1", 400_00, 2],
    ]
    assert got.set_index("customer_id").loc["C3", "customer_class"] == "key_account"
    require_columns(got, QUIET_CUSTOMERS, "quiet_customers")


def test_lifetime_revenue_is_in_the_owners_currency():
    data = sales_data(
        teams=[dict(team_id="T1"), dict(team_id="T2", base_currency="USD")],
        members=[dict(member_id="M1", name="a"), dict(member_id="M2", name="b", team_id="T2")],
        customers=[dict(customer_id="C1", owner_member_id="M2")],
        orders=[order("A1", "2026-06-01 03:00", 710_00, member_id="M1"), order("A2", "2026-06-02 03:00", 10_00,
                                                                                 currency="USD", member_id="M2")],
        fx_rates=[fx("2026-01-01", "CNY", "USD", "0.1"), fx("2026-01-01", "USD", "CNY", "7.1")],
    )
    got = quiet_customers(data, date(2026, 11, 15), 45).iloc[0]
    assert (got["member_id"], got["currency"], got["lifetime_revenue_minor"]) == ("M2", "USD", 71_00 + 10_00)


def test_no_quiet_customers_is_an_empty_frame_with_the_columns():
    got = quiet_customers(sales_data(), date(2026, 11, 15), 45)
    assert got.empty
    require_columns(got, QUIET_CUSTOMERS, "quiet_customers")


def test_one_off_shoppers_are_not_listed_as_going_quiet_unless_key_accounts():
    from datetime import date

    from tests.factories import order, sales_data
    from transforms.customers import quiet_customers

    data = sales_data(
        customers=[
            dict(customer_id="ONCE", name="One-off"),
            dict(customer_id="TWICE", name="Regular"),
            dict(customer_id="KEY", name="Key", customer_class="key_account"),
        ],
        orders=[
            order("A1", "2026-08-01 03:00", 100_00, customer_id="ONCE", member_id="M1"),
            order("A2", "2026-07-01 03:00", 100_00, customer_id="TWICE", member_id="M1"),
            order("A3", "2026-08-02 03:00", 100_00, customer_id="TWICE", member_id="M1"),
            order("A4", "2026-08-03 03:00", 100_00, customer_id="KEY", member_id="M1"),
        ],
    )
    quiet = quiet_customers(data, date(2026, 11, 15), 45, min_orders=2)
    assert sorted(quiet["customer_id"]) == ["KEY", "TWICE"]
    assert sorted(quiet_customers(data, date(2026, 11, 15), 45)["customer_id"]) == ["KEY", "ONCE", "TWICE"]
