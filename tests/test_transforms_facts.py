"""The shared preparation: one row per order, refund and collection, in base currency."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from tests.factories import collection, fee, fx, line, order, refund, sales_data
from transforms.facts import (
    COLLECTION_FACTS,
    ORDER_FACTS,
    REFUND_FACTS,
    collection_facts,
    order_facts,
    refund_facts,
    sales_facts,
)

RATES = [fx("2026-11-01", "USD", "CNY", "7.1"), fx("2026-11-12", "USD", "CNY", "7.2")]


def test_order_facts_columns_and_base_amounts():
    data = sales_data(
        orders=[order("A1", "2026-11-15 17:00", 100_00, discount_minor=10_00, tax_minor=5_00, shipping_minor=3_00,
                      currency="USD", member_id=None)],
        order_lines=[line("A1", 1, 40_00)],
        fx_rates=RATES,
    )
    got = order_facts(data)
    assert list(got.columns) == list(ORDER_FACTS)
    row = got.iloc[0]
    assert row["order_day"] == pd.Timestamp("2026-11-16") and row["fx_rate"] == Decimal("7.2")
    assert (row["revenue_minor"], row["tax_minor"], row["shipping_minor"], row["total_minor"]) == (648_00, 36_00, 21_60, 705_60)
    assert (row["cost_minor"], row["gross_profit_minor"]) == (288_00, 360_00)
    assert not row["attributed"] and row["currency"] == "CNY"  # unattributed: the default currency


def test_gross_profit_deducts_fees_converted_at_the_order_day_and_stays_unknown_without_cost():
    data = sales_data(
        orders=[order("A1", "2026-11-15 17:00", 100_00, currency="USD", member_id=None),
                order("A2", "2026-11-15 17:00", 100_00, currency="USD", member_id=None)],
        order_lines=[line("A1", 1, 40_00), line("A2", 1, None)],
        fees=[fee("F1", "A1", 5_00, currency="USD"), fee("F2", "A1", 10_00, currency="CNY", fee_type="shipping_label"),
              fee("F3", "A1", -1_00, currency="USD", fee_type="refund_of_fee"), fee("F4", "A2", 5_00, currency="USD"),
              fee("F9", "ZZ", 99_00)],  # an order not in the data: ignored
        fx_rates=RATES,
    )
    got = order_facts(data).set_index("order_id")
    # A1: 720.00 revenue - 288.00 cost - (4.00 USD at 7.2 = 28.80 + 10.00 CNY) fees
    assert got.loc["A1", "fees_minor"] == 38_80 and got.loc["A1", "gross_profit_minor"] == 720_00 - 288_00 - 38_80
    assert got.loc["A2", "fees_minor"] == 36_00 and pd.isna(got.loc["A2", "gross_profit_minor"])  # unknown cost: unknown


def test_orders_without_fees_have_zero_fees():
    got = order_facts(sales_data(orders=[order("A1", "2026-11-15 17:00", 100_00)], order_lines=[line("A1", 1, 40_00)]))
    assert got.iloc[0]["fees_minor"] == 0 and got.iloc[0]["gross_profit_minor"] == 100_00 - 40_00


@pytest.mark.parametrize(
    ("refund_fields", "member", "attributed"),
    [
        (dict(order_id="A1"), "M2", True),  # the order's member
        (dict(order_id="A1", member_id="M1"), "M1", True),  # its own member first
        (dict(order_id="A1", order_source=None), "M2", True),  # no source: matched on a unique order id
        (dict(order_id="ZZ"), None, False),  # unknown order, no member: unattributed, not dropped
    ],
)
def test_refund_attribution(refund_fields, member, attributed):
    data = sales_data(
        orders=[order("A1", "2026-11-10 03:00", 100_00, member_id="M2")],
        refunds=[refund("R1", "2026-11-11 03:00", 10_00, **refund_fields)],
    )
    got = refund_facts(data)
    assert list(got.columns) == list(REFUND_FACTS)
    assert len(got) == 1
    assert (got.iloc[0]["member_id"], bool(got.iloc[0]["attributed"])) == (member, attributed)


def test_refund_amounts_are_positive_magnitudes_converted_at_the_refund_day():
    data = sales_data(
        orders=[order("A1", "2026-11-02 03:00", 100_00, currency="USD")],
        refunds=[refund("R1", "2026-11-13 03:00", -10_00, order_id="A1", currency="USD")],  # a negative export
        fx_rates=RATES,
    )
    got = refund_facts(data).iloc[0]
    assert (got["amount_original_minor"], got["amount_minor"], got["fx_rate"]) == (10_00, 72_00, Decimal("7.2"))


def test_collections_find_their_orders_member():
    data = sales_data(
        orders=[order("A1", "2026-11-02 03:00", 100_00, member_id="M2")],
        collections=[collection("P1", "A1", "2026-11-13 03:00", 30_00, currency="USD"),
                     collection("P2", "A9", "2026-11-13 03:00", 5_00)],
        fx_rates=RATES,
    )
    got = collection_facts(data)
    assert list(got.columns) == list(COLLECTION_FACTS)
    assert got[["member_id", "matched", "amount_minor"]].values.tolist() == [["M2", True, 216_00], [None, False, 5_00]]


def test_facts_are_prepared_once_per_sales_data():
    data = sales_data(orders=[order("A1", "2026-11-02 03:00", 100_00)])
    assert sales_facts(data) is sales_facts(data)
    assert sales_facts(sales_data()) is not sales_facts(data)


# ----------------------------------------------------------------------------- the SKU cost sheet


def cost(sku: str, effective_from: str, unit_cost: str, currency: str = "CNY") -> dict:
    return dict(sku=sku, effective_from=effective_from, unit_cost=unit_cost, currency=currency)


COSTS = [cost("GP-1", "2026-10-01", "300"), cost("GP-1", "2026-11-11", "320.5"), cost("GP-2", "2026-10-01", "0.333", "EUR")]


def test_lines_without_a_cost_take_the_sheet_cost_in_force_on_the_orders_local_day():
    data = sales_data(
        orders=[order("A1", "2026-11-10 15:59", 100_00, currency="USD"),  # 23:59 in Shanghai: the 10th
                order("A2", "2026-11-10 16:00", 100_00, currency="USD"),  # 00:00 on the 11th: the new cost
                order("A3", "2026-09-30 03:00", 100_00, currency="USD")],  # before the sheet's first row
        order_lines=[line("A1", 1, None, sku="GP-1", quantity="2"), line("A2", 1, None, sku="GP-1", quantity="2"),
                     line("A3", 1, None, sku="GP-1", quantity="2")],
        product_costs=COSTS, fx_rates=RATES + [fx("2026-09-01", "USD", "CNY", "7.1")],
    )
    got = order_facts(data).set_index("order_id")
    assert got.loc["A1", "cost_minor"] == 600_00 and got.loc["A2", "cost_minor"] == 641_00  # CNY sheet, CNY team: as is
    assert got.loc["A1", "gross_profit_minor"] == 710_00 - 600_00
    assert got.loc[["A1", "A2"], "cost_known"].tolist() == [True, True]
    assert not got.loc["A3", "cost_known"] and got.loc["A3", "cost_minor"] is pd.NA
    assert got.loc["A3", "gross_profit_minor"] is pd.NA  # unknown, never zero


def test_a_platform_cost_is_kept_and_every_line_needs_a_cost():
    data = sales_data(
        orders=[order("A1", "2026-11-12 03:00", 100_00, currency="USD"), order("A2", "2026-11-12 03:00", 100_00, currency="USD")],
        order_lines=[line("A1", 1, 10_00, sku="GP-1", quantity="1", unit_cost="10"),  # Shopify's own cost (USD)
                     line("A1", 2, None, sku="GP-1", quantity="1"),
                     line("A2", 1, None, sku="GP-1", quantity="1"), line("A2", 2, None, sku="NOT-IN-SHEET", quantity="1")],
        product_costs=COSTS, fx_rates=RATES,
    )
    got = order_facts(data).set_index("order_id")
    assert got.loc["A1", "cost_minor"] == 72_00 + 320_50  # 10.00 USD x 7.2, plus the sheet's CNY cost of line 2
    assert got.loc["A1", "cost_known"] and not got.loc["A2", "cost_known"]
    assert got.loc["A2", "cost_minor"] is pd.NA


def test_a_foreign_currency_cost_is_summed_per_order_then_converted_once_exactly():
    rates = RATES + [fx("2026-11-01", "EUR", "CNY", "7.777777")]
    data = sales_data(
        orders=[order("A1", "2026-11-12 03:00", 100_00, currency="EUR"), order("G1", "2026-11-12 03:00", 100_00)],
        order_lines=[line("A1", 1, None, sku="GP-2", quantity="3"), line("A1", 2, None, sku="GP-2", quantity="1.5")],
        product_costs=COSTS, fx_rates=rates,
    )
    got = order_facts(data).set_index("order_id")
    # lines: 3 x 0.333 = 0.999 -> 1.00 EUR, 1.5 x 0.333 = 0.4995 -> 0.50 EUR (each rounded like a platform line);
    # 1.50 EUR x 7.777777 = 11.6666655 -> 11.67 CNY, converted once for the order
    assert got.loc["A1", "cost_minor"] == 11_67
    assert not got.loc["G1", "cost_known"]  # no lines at all: cost unknown


def test_order_facts_say_where_the_rate_came_from_and_when_the_order_shipped():
    data = sales_data(
        orders=[order("A1", "2026-11-12 03:00", 100_00, currency="EUR", shipped_at="2026-11-14 20:00"),
                order("A2", "2026-11-12 03:00", 100_00, currency="USD")],
        fx_rates=[fx("2026-11-01", "EUR", "USD", "1.1"), fx("2026-11-01", "USD", "CNY", "7.1")],
    )
    got = order_facts(data).set_index("order_id")
    assert got.loc["A1", "fx_rate"] == Decimal("7.81") and got.loc["A1", "revenue_minor"] == 781_00
    assert got.loc["A1", "fx_basis"] == "via USD: EUR->USD 2026-11-01 x USD->CNY 2026-11-01"
    assert got.loc["A2", "fx_basis"] == "USD->CNY 2026-11-01"
    assert got.loc["A1", "shipped_at"] == pd.Timestamp("2026-11-14 20:00") and pd.isna(got.loc["A2", "shipped_at"])
