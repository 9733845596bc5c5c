"""Metric definitions (docs/architecture.md, "Metrics") on tiny inline data."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tests.factories import collection, fx, inquiry, line, order, refund, sales_data, target
from transforms.facts import order_facts, sales_facts, unattributed_orders
from transforms.metrics import member_metrics, mix, team_metrics, weekly_trend
from transforms.periods import parse_period
from transforms.schema import MEMBER_METRICS, MIX, TEAM_METRICS, TREND, require_columns

W46, W47 = parse_period("2026-W46"), parse_period("2026-W47")  # Nov 9-15, Nov 16-22 2026
NOV = parse_period("2026-11")
RATES = [
    fx("2026-11-01", "USD", "CNY", "7.1"),
    fx("2026-11-12", "USD", "CNY", "7.2"),
    fx("2026-11-01", "JPY", "CNY", "0.0475"),
    fx("2026-11-01", "EUR", "CNY", "8"),
]


def row(frame: pd.DataFrame, member_id: str) -> pd.Series:
    return frame.set_index("member_id").loc[member_id]


# ----------------------------------------------------------------------------- revenue and FX


@pytest.mark.parametrize(
    ("currency", "ordered_at", "gross", "discount", "expected"),
    [
        ("CNY", "2026-11-10 03:00", 100_00, 10_00, 90_00),
        ("USD", "2026-11-10 03:00", 100_00, 0, 710_00),  # rate of 2026-11-01 (latest on or before)
        ("USD", "2026-11-12 03:00", 100_00, 0, 720_00),  # new rate from its own day
        ("USD", "2026-11-11 17:00", 100_00, 0, 720_00),  # UTC 11th = local 12th in Shanghai
        ("JPY", "2026-11-10 03:00", 5_000, 0, 237_50),  # 0-decimal currency: 5,000 yen
        ("JPY", "2026-11-10 03:00", 3, 0, 14),  # 0.1425 CNY -> 0.14 (half away from zero)
    ],
)
def test_revenue_is_gross_minus_discount_converted_at_the_order_day(currency, ordered_at, gross, discount, expected):
    data = sales_data(
        orders=[order("A1", ordered_at, gross, discount_minor=discount, currency=currency, tax_minor=5_00, shipping_minor=7_00)],
        fx_rates=RATES,
    )
    got = row(member_metrics(data, W46), "M1")
    assert got["revenue_minor"] == expected  # tax and shipping excluded
    assert got["orders"] == 1 and got["currency"] == "CNY"


def test_missing_fx_rate_raises_naming_currency_and_date():
    data = sales_data(orders=[order("A1", "2026-11-10 03:00", 100_00, currency="GBP")], fx_rates=RATES)
    with pytest.raises(ValueError, match=r"GBP->CNY on or before 2026-11-10"):
        member_metrics(data, W46)


def test_rate_only_after_the_order_day_is_missing_not_guessed():
    data = sales_data(
        orders=[order("A1", "2026-10-30 03:00", 100_00, currency="USD")], fx_rates=[fx("2026-11-01", "USD", "CNY", "7.1")]
    )
    with pytest.raises(ValueError, match=r"USD->CNY on or before 2026-10-30"):
        order_facts(data)


@pytest.mark.parametrize(
    ("timezone", "expected_week"),
    [("Asia/Shanghai", "2026-W47"), ("UTC", "2026-W46"), ("America/New_York", "2026-W46")],
)
def test_orders_are_bucketed_by_local_day(timezone, expected_week):
    # 2026-11-15 17:00 UTC is Monday 2026-11-16 01:00 in Shanghai, still Sunday in UTC and New York.
    data = sales_data(orders=[order("A1", "2026-11-15 17:00", 100_00)], timezone=timezone)
    weeks = {p.label: member_metrics(data, p) for p in (W46, W47)}
    assert row(weeks[expected_week], "M1")["orders"] == 1
    assert sum(int(row(f, "M1")["orders"]) for f in weeks.values()) == 1


# ----------------------------------------------------------------------------- refunds and cancellations


def test_refund_in_a_later_week_reduces_that_weeks_net_revenue():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00, currency="USD")],
        refunds=[refund("R1", "2026-11-17 03:00", 20_00, order_id="A1", currency="USD")],
        fx_rates=RATES,
    )
    first, second = row(member_metrics(data, W46), "M1"), row(member_metrics(data, W47), "M1")
    assert (first["revenue_minor"], first["refunds_minor"], first["net_revenue_minor"]) == (710_00, 0, 710_00)
    # converted at the refund's own day (7.2), credited to the order's member
    assert (second["revenue_minor"], second["refunds_minor"], second["net_revenue_minor"]) == (0, 144_00, -144_00)
    assert np.isnan(second["refund_rate"])  # no revenue in W47: no denominator
    assert second["previous_net_revenue_minor"] == 710_00
    assert second["net_revenue_change"] == pytest.approx((-144_00 - 710_00) / 710_00)


def test_refund_is_credited_to_its_own_member_first():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00)],
        refunds=[refund("R1", "2026-11-11 03:00", 30_00, order_id="A1", member_id="M2")],
    )
    got = member_metrics(data, W46)
    assert row(got, "M1")["refunds_minor"] == 0 and row(got, "M2")["refunds_minor"] == 30_00


def test_cancelled_order_is_excluded_and_its_refund_not_subtracted_twice():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00), order("A2", "2026-11-10 04:00", 300_00, status="cancelled")],
        refunds=[refund("R1", "2026-11-11 03:00", 300_00, order_id="A2", kind="cancellation")],
    )
    got = row(member_metrics(data, W46), "M1")
    assert (got["revenue_minor"], got["orders"], got["refunds_minor"], got["net_revenue_minor"]) == (100_00, 1, 0, 100_00)


# ----------------------------------------------------------------------------- cost and profit


@pytest.mark.parametrize(
    ("line_costs", "profit", "margin"),
    [
        ([30_00, 10_00], 60_00, 0.6),
        ([30_00, None], pd.NA, np.nan),  # one line without cost: the order's cost is unknown
        ([], pd.NA, np.nan),  # no lines at all: unknown
    ],
)
def test_unknown_cost_gives_unknown_profit_never_zero(line_costs, profit, margin):
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00)],
        order_lines=[line("A1", i + 1, c) for i, c in enumerate(line_costs)],
    )
    got = row(member_metrics(data, W46), "M1")
    if profit is pd.NA:
        assert got["gross_profit_minor"] is pd.NA and got["cost_known_revenue_minor"] == 0
        assert np.isnan(got["gross_margin"])
    else:
        assert got["gross_profit_minor"] == profit and got["gross_margin"] == pytest.approx(margin)


def test_profit_covers_only_orders_with_known_cost_and_converts_cost_at_the_order_rate():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00, currency="USD"), order("A2", "2026-11-10 04:00", 500_00)],
        order_lines=[line("A1", 1, 40_00), line("A2", 1, None)],
        fx_rates=RATES,
    )
    got = row(member_metrics(data, W46), "M1")
    assert got["revenue_minor"] == 710_00 + 500_00
    assert got["cost_known_revenue_minor"] == 710_00
    assert got["gross_profit_minor"] == 710_00 - 284_00
    assert got["gross_margin"] == pytest.approx(426 / 710)


# ----------------------------------------------------------------------------- customers


@pytest.mark.parametrize(
    ("history", "new", "returning"),
    [
        ([], 1, 0),
        ([order("A0", "2026-10-01 03:00", 1_00)], 0, 1),  # ordered before the period
        ([order("A0", "2025-10-01 03:00", 1_00)], 1, 0),  # only beyond the 365-day window: new again
        ([order("A0", "2026-10-01 03:00", 1_00, status="cancelled")], 1, 0),  # a cancelled order is no history
        ([order("A0", "2026-10-01 03:00", 1_00, member_id="M2")], 0, 1),  # history with another member counts
    ],
)
def test_new_versus_returning_customers(history, new, returning):
    data = sales_data(
        orders=history + [order("A1", "2026-11-10 03:00", 100_00), order("A2", "2026-11-11 03:00", 100_00)]
    )
    got = row(member_metrics(data, W46), "M1")
    assert (got["customers"], got["new_customers"], got["returning_customers"]) == (1, new, returning)


def test_team_counts_distinct_customers_across_members():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 1_00), order("A2", "2026-11-11 03:00", 1_00, member_id="M2")]
    )
    members, team = member_metrics(data, W46), team_metrics(data, W46).iloc[0]
    assert members["new_customers"].tolist() == [1, 1]  # each member served the new customer
    assert (team["customers"], team["new_customers"]) == (1, 1)


# ----------------------------------------------------------------------------- inquiries


@pytest.mark.parametrize(
    ("first_reply_at", "within"),
    [
        ("2026-11-11 03:00:00", 1),  # exactly 24 h counts
        ("2026-11-11 03:00:01", 0),
        ("2026-11-10 04:00:00", 1),
        (None, 0),  # never replied
    ],
)
def test_reply_within_24_hours_boundary(first_reply_at, within):
    data = sales_data(inquiries=[inquiry("Q1", "2026-11-10 03:00", first_reply_at)])
    got = row(member_metrics(data, W46), "M1")
    assert (got["inquiries"], got["inquiries_replied_24h"], got["reply_within_24h_rate"]) == (1, within, float(within))


def test_inquiry_conversion_and_no_inquiries_gives_nan():
    data = sales_data(
        inquiries=[
            inquiry("Q1", "2026-11-10 03:00", converted_order_id="A9"),
            inquiry("Q2", "2026-11-10 03:00"),
            inquiry("Q3", "2026-11-10 03:00", owner_member_id=None),
        ]
    )
    got = member_metrics(data, W46)
    assert row(got, "M1")["inquiry_conversion_rate"] == 0.5
    assert np.isnan(row(got, "M2")["inquiry_conversion_rate"]) and row(got, "M2")["inquiries"] == 0
    assert team_metrics(data, W46).iloc[0]["inquiries"] == 2  # unowned inquiries belong to no team


# ----------------------------------------------------------------------------- targets, ranks


@pytest.mark.parametrize(
    ("targets", "member_target", "team_target"),
    [
        ([], pd.NA, pd.NA),
        ([target("M1", "2026-W46", "500")], 500_00, 500_00),  # team falls back to the sum of member targets
        ([target("M1", "2026-W46", "500"), target("M2", "2026-W46", "250.5")], 500_00, 750_50),
        ([target("M1", "2026-W46", "500"), target("T1", "2026-W46", "2000", scope="team")], 500_00, 2000_00),
        ([target("M1", "2026-W46", "100", currency="USD")], 710_00, 710_00),  # converted at the period start
        ([target("M1", "2026-W45", "500")], pd.NA, pd.NA),  # another period
        ([target("M1", "2026-W46", "5", metric="orders")], pd.NA, pd.NA),  # not a revenue target
    ],
)
def test_attainment_with_and_without_target(targets, member_target, team_target):
    data = sales_data(orders=[order("A1", "2026-11-10 03:00", 250_00)], targets=targets, fx_rates=RATES)
    member, team = row(member_metrics(data, W46), "M1"), team_metrics(data, W46).iloc[0]
    for got, expected in ((member, member_target), (team, team_target)):
        if expected is pd.NA:
            assert got["target_revenue_minor"] is pd.NA and np.isnan(got["attainment"])
        else:
            assert got["target_revenue_minor"] == expected
            assert got["attainment"] == pytest.approx(250_00 / expected)


def test_rank_is_dense_and_ties_share_a_rank():
    members = [dict(member_id=m, name=m) for m in ("M1", "M2", "M3", "M4")]
    data = sales_data(
        members=members,
        orders=[
            order("A1", "2026-11-10 03:00", 100_00, member_id="M1"),
            order("A2", "2026-11-10 03:00", 300_00, member_id="M2"),
            order("A3", "2026-11-10 03:00", 100_00, member_id="M3"),
        ],
    )
    got = member_metrics(data, W46).set_index("member_id")
    assert got["rank_in_team"].to_dict() == {"M2": 1, "M1": 2, "M3": 2, "M4": 3}
    assert set(got["team_size"]) == {4}


def test_average_order_value_rounds_half_up_and_is_zero_without_orders():
    data = sales_data(orders=[order("A1", "2026-11-10 03:00", 1_01), order("A2", "2026-11-10 04:00", 1_00)])
    got = member_metrics(data, W46).set_index("member_id")["average_order_value_minor"]
    assert got.to_dict() == {"M1": 1_01, "M2": 0}  # 201 / 2 = 100.5 -> 101


# ----------------------------------------------------------------------------- collections


def test_collections_received_and_outstanding_carried_at_the_order_rate():
    data = sales_data(
        orders=[
            order("A1", "2026-11-02 03:00", 1_000_00, currency="USD", tax_minor=0, shipping_minor=100_00,
                  payment_terms="TT30/70"),
            order("A2", "2026-11-02 03:00", 50_00, payment_terms="prepaid"),
        ],
        collections=[
            collection("P1", "A1", "2026-11-10 03:00", 330_00, currency="USD"),  # deposit, rate 7.1
            collection("P2", "A1", "2026-11-20 03:00", 770_00, currency="USD"),  # balance next week, rate 7.2
        ],
        fx_rates=RATES,
    )
    first, second = row(member_metrics(data, W46), "M1"), row(member_metrics(data, W47), "M1")
    assert first["collections_received_minor"] == 330_00 * 71 // 10
    assert first["collections_outstanding_minor"] == 770_00 * 71 // 10  # remainder at the order's rate
    assert second["collections_received_minor"] == 770_00 * 72 // 10
    assert second["collections_outstanding_minor"] == 0  # fully paid: exactly 0 despite the new rate


# ----------------------------------------------------------------------------- rows and teams


def test_every_active_member_has_a_row_and_inactive_ones_only_with_activity():
    members = [
        dict(member_id="M1", name="a"), dict(member_id="M2", name="b"),
        dict(member_id="M3", name="c", active=False), dict(member_id="M4", name="d", active=False),
    ]
    data = sales_data(members=members, orders=[order("A1", "2026-11-10 03:00", 100_00, member_id="M3")])
    got = member_metrics(data, W46)
    assert sorted(got["member_id"]) == ["M1", "M2", "M3"]
    assert row(got, "M2")["revenue_minor"] == 0 and np.isnan(row(got, "M2")["refund_rate"])
    assert team_metrics(data, W46).iloc[0]["revenue_minor"] == got["revenue_minor"].sum()


def test_unattributed_orders_are_listed_not_credited():
    data = sales_data(orders=[order("A1", "2026-11-10 03:00", 100_00, member_id=None),
                              order("A2", "2026-11-10 03:00", 100_00, member_id="M9")])
    assert member_metrics(data, W46)["revenue_minor"].sum() == 0
    assert team_metrics(data, W46).iloc[0]["revenue_minor"] == 0
    assert sorted(unattributed_orders(data, W46)["order_id"]) == ["A1", "A2"]


def test_team_metrics_in_each_teams_base_currency():
    data = sales_data(
        teams=[dict(team_id="T1"), dict(team_id="T2", base_currency="USD")],
        members=[dict(member_id="M1", name="a"), dict(member_id="M2", name="b", team_id="T2")],
        orders=[order("A1", "2026-11-10 03:00", 100_00, currency="USD"),
                order("A2", "2026-11-10 03:00", 100_00, currency="USD", member_id="M2")],
        fx_rates=RATES,
    )
    got = team_metrics(data, W46).set_index("team_id")
    assert got.loc["T1", ["currency", "revenue_minor"]].tolist() == ["CNY", 710_00]
    assert got.loc["T2", ["currency", "revenue_minor"]].tolist() == ["USD", 100_00]
    assert got["members"].tolist() == [1, 1]


# ----------------------------------------------------------------------------- trend and mix


def test_weekly_trend_is_every_member_by_week_zero_filled():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00), order("A0", "2026-10-01 03:00", 999_00)],
        refunds=[refund("R1", "2026-11-17 03:00", 30_00, order_id="A1")],
    )
    got = weekly_trend(data, W47, 4)
    assert len(got) == 2 * 4
    m1 = got[got["member_id"] == "M1"]
    assert m1["period"].tolist() == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert m1["net_revenue_minor"].tolist() == [0, 0, 100_00, -30_00]
    assert m1["orders"].tolist() == [0, 0, 1, 0]
    assert m1["week_start"].iloc[-1] == pd.Timestamp("2026-11-16")
    assert got.loc[got["member_id"] == "M2", "net_revenue_minor"].eq(0).all()


def test_weekly_trend_of_a_month_ends_with_the_week_of_its_last_day():
    got = weekly_trend(sales_data(), NOV, 3)
    assert got["period"].unique().tolist() == ["2026-W47", "2026-W48", "2026-W49"]  # Monday 2026-11-30 is in W49


@pytest.mark.parametrize("dimension", ["platform", "country"])
def test_mix_shares_sum_to_one_per_team(dimension):
    data = sales_data(
        orders=[
            order("A1", "2026-11-10 03:00", 300_00, platform="amazon", country="Germany"),
            order("A2", "2026-11-10 03:00", 100_00, platform="shopify", country="France", member_id="M2"),
            order("A3", "2026-11-10 03:00", 100_00, platform="shopify", country=None),
        ],
        refunds=[refund("R1", "2026-11-11 03:00", 50_00, order_id="A1")],
    )
    got = mix(data, W46, dimension)
    assert got["share"].sum() == pytest.approx(1.0)
    assert got["net_revenue_minor"].sum() == 450_00
    assert got["orders"].sum() == 3
    assert got.iloc[0]["dimension"] == dimension


def test_mix_rejects_unknown_dimensions():
    with pytest.raises(ValueError, match="platform"):
        mix(sales_data(), W46, "store")


# ----------------------------------------------------------------------------- contracts


def test_outputs_have_the_contract_columns_even_when_empty():
    data = sales_data()
    require_columns(member_metrics(data, W46), MEMBER_METRICS, "member_metrics")
    require_columns(team_metrics(data, W46), TEAM_METRICS, "team_metrics")
    require_columns(weekly_trend(data, W46, 4), TREND, "trend")
    require_columns(mix(data, W46, "platform"), MIX, "mix")


def test_money_columns_are_exact_integers():
    data = sales_data(orders=[order("A1", "2026-11-10 03:00", 123_456_789_012_34, currency="USD")], fx_rates=RATES)
    got = member_metrics(data, W46)
    for col in ("revenue_minor", "net_revenue_minor", "refunds_minor", "collections_received_minor"):
        assert got[col].dtype == "int64", col
    # 123,456,789,012.34 USD x 7.1 = 876,543,201,987.614 CNY -> 876,543,201,987.61 (no float on the way)
    assert row(got, "M1")["revenue_minor"] == 87_654_320_198_761


def test_inputs_are_not_modified():
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00, currency="USD")],
        order_lines=[line("A1", 1, 10_00)],
        refunds=[refund("R1", "2026-11-17 03:00", 20_00, order_id="A1", currency="USD")],
        collections=[collection("P1", "A1", "2026-11-10 03:00", 5_00)],
        inquiries=[inquiry("Q1", "2026-11-10 03:00")],
        targets=[target("M1", "2026-W46", "500")],
        fx_rates=RATES,
    )
    before = {name: getattr(data, name).copy(deep=True) for name in ("orders", "order_lines", "refunds", "collections",
                                                                     "inquiries", "targets", "fx_rates", "members")}
    facts = sales_facts(data)
    member_metrics(data, W46, facts)
    team_metrics(data, W46, facts)
    weekly_trend(data, W46, 4, facts)
    mix(data, W46, "country", facts)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(data, name), frame, obj=name)


def test_a_missing_column_fails_with_its_name():
    data = sales_data()
    broken = data.orders.drop(columns=["discount_minor"])
    with pytest.raises(KeyError, match="orders: missing column.*discount_minor"):
        order_facts(type(data)(**{**data.__dict__, "orders": broken}))


def test_target_decimals_are_exact():
    data = sales_data(targets=[target("M1", "2026-W46", Decimal("1234.56"))])
    assert row(member_metrics(data, W46), "M1")["target_revenue_minor"] == 1234_56
