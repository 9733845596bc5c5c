"""Commission credits, plan assignment and explained lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from config.models import Commission
from tests.factories import fx, order, refund, sales_data
from transforms.commissions import (
    assign_plans,
    commission_lines,
    commission_summary,
    credits_for_month,
    format_percent,
    members_without_plan,
    month_to_date,
    schedule_for,
)
from transforms.periods import parse_period
from transforms.schema import COMMISSION_LINES, COMMISSION_SUMMARY, CREDITS, require_columns

OCT = parse_period("2026-10")
TIERED = {
    "plan_id": "std", "name": "Standard", "kind": "tiered",
    "tiers": [{"up_to": 100000, "rate": "0.01"}, {"up_to": 300000, "rate": "0.02"}, {"rate": "0.03"}],
}
FLAT = {"plan_id": "lead", "name": "Lead", "kind": "flat", "rate": "0.015", "roles": ["lead"]}
MEMBERS = [dict(member_id="M1", name="Mei"), dict(member_id="M2", name="Li", role="lead"),
           dict(member_id="M3", name="Wu", role="intern")]


def commission(*plans, default_plan=None) -> Commission:
    return Commission.model_validate({"plans": list(plans), "default_plan": default_plan})


def october(**rows):
    return sales_data(members=MEMBERS, fx_rates=[fx("2026-10-01", "USD", "CNY", "7.1")], **rows)


# ----------------------------------------------------------------------------- credits


def test_credits_are_orders_positive_and_refunds_negative_in_base_currency():
    data = october(
        orders=[
            order("A1", "2026-10-03 17:00", 60_000_00, currency="USD"),  # local 2026-10-04
            order("A2", "2026-09-30 17:00", 100_00),  # local 2026-10-01: in October
            order("A3", "2026-10-31 16:00", 100_00),  # local 2026-11-01: not in October
            order("A4", "2026-10-05 03:00", 100_00, status="cancelled"),
            order("A5", "2026-10-05 03:00", 100_00, member_id=None),
            order("A6", "2026-09-05 03:00", 500_00),
        ],
        refunds=[
            refund("R1", "2026-10-20 01:00", 10_00, order_id="A6", member_id="M2"),  # refund's own member first
            refund("R2", "2026-10-20 01:00", 20_00, order_id="A6"),  # else the order's member
            refund("R3", "2026-10-20 01:00", 100_00, order_id="A4", kind="cancellation"),  # cancelled order: not again
        ],
    )
    got = credits_for_month(data, OCT)
    require_columns(got, CREDITS, "credits")
    got = got.set_index("record_id")
    assert sorted(got.index) == ["A1", "A2", "R1", "R2"]
    assert got.loc["A1", ["member_id", "base_minor", "fx_rate", "original_amount_minor"]].tolist() == [
        "M1", 426_000_00, Decimal("7.1"), 60_000_00]
    assert got.loc["A1", "credited_date"] == pd.Timestamp("2026-10-04")
    assert got.loc["R1", ["member_id", "base_minor", "kind", "order_id"]].tolist() == ["M2", -10_00, "refund", "A6"]
    assert got.loc["R2", ["member_id", "base_minor"]].tolist() == ["M1", -20_00]


def test_credits_need_a_month():
    with pytest.raises(ValueError, match="monthly"):
        credits_for_month(october(), parse_period("2026-W40"))


# ----------------------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("plans", "default_plan", "expected"),
    [
        ([TIERED, FLAT], None, {"M1": "std", "M2": "lead", "M3": "std"}),  # std: the one unrestricted plan
        ([TIERED, FLAT], "lead", {"M1": "lead", "M2": "lead", "M3": "lead"}),  # default before unrestricted
        ([{**TIERED, "roles": ["sales"]}, FLAT], None, {"M1": "std", "M2": "lead", "M3": None}),  # reported
        ([{**TIERED, "members": ["M2"]}, FLAT], None, {"M1": None, "M2": "std", "M3": None}),  # members win
        ([TIERED, {**FLAT, "plan_id": "other", "roles": None}], None, {"M1": None, "M2": None, "M3": None}),
        ([], None, {"M1": None, "M2": None, "M3": None}),
    ],
)
def test_assign_plans_precedence(plans, default_plan, expected):
    got = assign_plans(october().members, commission(*plans, default_plan=default_plan))
    assert {k: (None if pd.isna(v) else v) for k, v in got.items()} == expected


def test_a_member_claimed_by_two_plans_is_a_configuration_error():
    cfg = commission({**TIERED, "members": ["M1"]}, {**FLAT, "members": ["M1"]})
    with pytest.raises(ValueError, match="M1.*std.*lead"):
        assign_plans(october().members, cfg)


def test_members_without_plan_are_reported_and_not_paid():
    data = october(orders=[order("A1", "2026-10-05 03:00", 100_00, member_id="M3")])
    cfg = commission({**TIERED, "roles": ["sales"]})
    credits = credits_for_month(data, OCT)
    assert commission_lines(credits, data.members, data.teams, cfg, OCT).empty
    unpaid = members_without_plan(credits, data.members, cfg)
    assert unpaid[["member_id", "role", "credits", "base_minor"]].values.tolist() == [["M3", "intern", 1, 100_00]]


# ----------------------------------------------------------------------------- lines


def test_tiered_lines_are_marginal_on_the_month_to_date_base_and_explained():
    data = october(
        orders=[
            order("A1", "2026-10-03 17:00", 60_000_00, currency="USD"),  # 426,000.00 CNY: crosses both bounds
            order("A3", "2026-10-11 03:00", 300_000_00),
            order("A2", "2026-10-10 03:00", 5_000_00, member_id="M2"),
        ],
        refunds=[refund("R1", "2026-10-20 01:00", 100_000_00, order_id="A3")],
    )
    cfg = commission(TIERED, FLAT)
    lines = commission_lines(credits_for_month(data, OCT), data.members, data.teams, cfg, OCT)
    require_columns(lines, COMMISSION_LINES, "commission_lines")
    m1 = lines[lines["member_id"] == "M1"]
    assert m1["order_id"].tolist() == ["A1", "A3", "A3"]
    assert m1["amount_minor"].tolist() == [8_780_00, 9_000_00, -3_000_00]  # 1,000 + 4,000 + 126,000 x 3%
    assert m1["amount_minor"].sum() == 14_780_00  # = F(626,000) exactly
    assert m1["band"].tolist() == [
        "0–100,000 @ 1.00% + 100,000–300,000 @ 2.00% + 300,000+ @ 3.00%", "300,000+ @ 3.00%", "300,000+ @ 3.00%",
    ]
    assert m1["rate"].tolist()[1:] == [Decimal("0.03"), Decimal("0.03")]
    assert m1["rate"].iloc[0] == (Decimal(8780) / Decimal(426000)).quantize(Decimal("1e-10")).normalize()
    assert m1["explanation"].tolist() == [
        "Order A1 (2026-10-04): base 426,000.00 CNY (60,000.00 USD @ 7.1), band 0–100,000 @ 1.00% + 100,000–300,000 @ 2.00% + "
        "300,000+ @ 3.00%, month to date 426,000.00 CNY, commission 8,780.00 CNY",
        "Order A3 (2026-10-11): base 300,000.00 CNY, band 300,000+ @ 3.00%, month to date 726,000.00 CNY, "
        "commission 9,000.00 CNY",
        "Refund R1 of order A3 (2026-10-20): base -100,000.00 CNY, band 300,000+ @ 3.00%, month to date "
        "626,000.00 CNY, commission -3,000.00 CNY",
    ]
    m2 = lines[lines["member_id"] == "M2"].iloc[0]
    assert (m2["rule"], m2["band"], m2["rate"], m2["amount_minor"]) == ("flat", None, Decimal("0.015"), 75_00)
    assert m2["explanation"].endswith("flat rate 1.50%, month to date 5,000.00 CNY, commission 75.00 CNY")


def test_ties_in_time_are_processed_by_order_id():
    data = october(orders=[order("B2", "2026-10-05 03:00", 60_000_00), order("B1", "2026-10-05 03:00", 60_000_00)])
    lines = commission_lines(credits_for_month(data, OCT), data.members, data.teams, commission(TIERED), OCT)
    assert lines["order_id"].tolist() == ["B1", "B2"]
    assert lines["amount_minor"].tolist() == [600_00, 400_00 + 200_00 * 2]


def test_tier_bounds_follow_the_team_currency_exponent():
    data = sales_data(
        teams=[dict(team_id="T1", base_currency="JPY")],
        orders=[order("A1", "2026-10-05 03:00", 150_000, currency="JPY")],
    )
    lines = commission_lines(credits_for_month(data, OCT), data.members, data.teams, commission(TIERED), OCT)
    assert lines.iloc[0]["amount_minor"] == 1_000 + 1_000  # 100,000 yen at 1% + 50,000 yen at 2%
    assert "base 150,000 JPY" in lines.iloc[0]["explanation"]


@pytest.mark.parametrize(("rate", "text"), [("0.02", "2.00%"), ("0.0125", "1.25%"), ("0.00125", "0.125%"), ("0", "0.00%")])
def test_percent_text(rate, text):
    assert format_percent(Decimal(rate)) == text


def test_schedule_labels():
    assert schedule_for(commission(TIERED).plans[0], "CNY").labels == (
        "0–100,000 @ 1.00%", "100,000–300,000 @ 2.00%", "300,000+ @ 3.00%")


# ----------------------------------------------------------------------------- totals


def test_summary_and_month_to_date():
    data = october(
        orders=[
            order("A1", "2026-10-02 03:00", 80_000_00),
            order("A2", "2026-10-09 03:00", 40_000_00),
            order("A3", "2026-10-16 03:00", 10_000_00, member_id="M2"),
        ],
    )
    cfg = commission(TIERED, FLAT)
    lines = commission_lines(credits_for_month(data, OCT), data.members, data.teams, cfg, OCT)
    summary = commission_summary(lines, data.members)
    require_columns(summary, COMMISSION_SUMMARY, "commission_summary")
    assert summary[["member_id", "plan_id", "base_minor", "amount_minor", "lines"]].values.tolist() == [
        ["M1", "std", 120_000_00, 1_400_00, 2],
        ["M2", "lead", 10_000_00, 150_00, 1],
    ]
    with_zero = commission_summary(lines, data.members, cfg, OCT, data.teams)
    assert with_zero.set_index("member_id").loc["M3", ["plan_id", "amount_minor", "lines", "currency"]].tolist() == [
        "std", 0, 0, "CNY"]
    so_far = month_to_date(lines, date(2026, 10, 9)).set_index("member_id")
    assert so_far.loc["M1", ["base_minor", "amount_minor", "lines"]].tolist() == [120_000_00, 1_400_00, 2]
    assert "M2" not in so_far.index
    assert month_to_date(lines, date(2026, 10, 8)).set_index("member_id").loc["M1", "amount_minor"] == 800_00


def test_empty_month_gives_empty_frames_with_the_columns():
    data = october()
    credits = credits_for_month(data, OCT)
    lines = commission_lines(credits, data.members, data.teams, commission(TIERED), OCT)
    require_columns(credits, CREDITS, "credits")
    require_columns(lines, COMMISSION_LINES, "commission_lines")
    require_columns(commission_summary(lines, data.members), COMMISSION_SUMMARY, "commission_summary")
    assert month_to_date(lines, date(2026, 10, 31)).empty
