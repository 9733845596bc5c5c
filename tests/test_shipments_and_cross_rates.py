"""Shipment dates release a plan's ``shipped`` stage, and a commission line records the rate it
was converted at even when that rate was derived (an inverse, or a cross rate through the pivot)."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from config.plans import Commission
from tests.factories import fx, order, sales_data
from transforms.commission_credits import plan_credits
from transforms.commissions import lines_for_data
from transforms.periods import parse_period

OCT, NOV = parse_period("2026-10"), parse_period("2026-11")
STAGED = Commission.model_validate({"plans": [{
    "plan_id": "p", "name": "plan", "kind": "flat", "rate": "0.1",
    "stages": [{"event": "signed", "percent": 30}, {"event": "shipped", "percent": 30}, {"event": "collected", "percent": 40}],
}]})
RATES = [fx("2026-10-01", "EUR", "USD", "1.1"), fx("2026-10-01", "USD", "CNY", "7.1")]  # no EUR->CNY row


def _data(**kw):
    return sales_data(
        members=[dict(member_id="M1", name="Mei")],
        orders=[order("A1", "2026-10-05 03:00", 1000_00, payment_terms="TT30/70", shipped_at="2026-10-20 03:00"),
                order("A2", "2026-10-06 03:00", 2000_00, payment_terms="TT30/70"),  # not shipped yet
                order("A3", "2026-10-07 03:00", 500_00, currency="EUR", payment_terms="TT30/70",
                      shipped_at="2026-10-31 16:30")],  # 00:30 on 1 November in Shanghai
        fx_rates=RATES, **kw)


def test_the_shipped_stage_is_released_by_the_orders_first_shipment_on_its_local_day():
    data = _data()
    credits = plan_credits(data, [OCT]).set_index("order_id")
    assert credits.loc["A1", "shipped_day"] == pd.Timestamp("2026-10-20")
    assert credits.loc["A3", "shipped_day"] == pd.Timestamp("2026-11-01") and pd.isna(credits.loc["A2", "shipped_day"])

    october = lines_for_data(data, STAGED, OCT, None).set_index("order_id")
    # A1 earned 100.00: signed 30% + shipped 30% paid, the collected 40% held
    assert october.loc["A1", ["amount_minor", "held_minor"]].tolist() == [60_00, 40_00]
    # A2 earned 200.00, only signed: 60.00 paid, 140.00 held until it ships and is paid for
    assert october.loc["A2", ["amount_minor", "held_minor"]].tolist() == [60_00, 140_00]
    november = lines_for_data(data, STAGED, NOV, None)
    assert november[["order_id", "line_type"]].values.tolist() == [["A3", "release"]]  # shipped on 1 Nov (local)


def test_shipments_given_apart_count_too_and_the_earliest_shipment_wins():
    shipments = pd.DataFrame({"order_source": ["shop", "shop"], "order_id": ["A1", "A2"],
                              "shipped_at": pd.to_datetime(["2026-10-10 03:00", "2026-10-12 03:00"])})
    data = dataclasses.replace(_data(), extra={"shipments": shipments})
    credits = plan_credits(data, [OCT]).set_index("order_id")
    assert credits.loc["A1", "shipped_day"] == pd.Timestamp("2026-10-10")  # earlier than the order's own 10-20
    assert credits.loc["A2", "shipped_day"] == pd.Timestamp("2026-10-12")


def test_a_commission_line_records_the_cross_rate_its_base_was_converted_at():
    lines = lines_for_data(_data(), STAGED, OCT, None).set_index("order_id")
    cross = (Decimal("1.1") * Decimal("7.1")).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
    assert lines.loc["A3", "fx_rate"] == cross == Decimal("7.81")
    assert lines.loc["A3", "base_minor"] == 3905_00  # 500.00 EUR x 7.81
    assert "7.81" in lines.loc["A3", "explanation"]
    assert lines.loc["A1", "fx_rate"] == Decimal(1)


def test_a_plan_in_another_currency_converts_through_the_workspaces_pivot():
    """Thresholds in USD, credits in CNY, and the only rates go through EUR: the plan's
    conversion uses ``settings.fx_pivot_currency``, and without that pivot it refuses."""
    plan = Commission.model_validate({"plans": [{"plan_id": "p", "name": "plan", "kind": "flat", "rate": "0.1",
                                                 "currency": "USD", "payout_currency": "CNY"}]})
    rates = [fx("2026-10-01", "USD", "EUR", "0.9"), fx("2026-10-01", "CNY", "EUR", "0.125")]
    orders = [order("A1", "2026-10-05 03:00", 7200_00)]
    data = dataclasses.replace(sales_data(members=[dict(member_id="M1", name="Mei")], orders=orders, fx_rates=rates),
                               fx_pivot_currency="EUR")
    lines = lines_for_data(data, plan, OCT, None)
    assert lines["amount_minor"].sum() == 720_00  # 10% of 7,200 CNY, whichever way it travels
    default = sales_data(members=[dict(member_id="M1", name="Mei")], orders=orders, fx_rates=rates)
    with pytest.raises(Exception, match="CNY"):
        lines_for_data(default, plan, OCT, None)
