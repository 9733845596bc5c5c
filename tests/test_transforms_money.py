"""The one place currency is converted: exact, by date, and robust to the caller's frame."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from transforms.facts import converted_to_base, previous_order_days
from transforms.money import attach_rates, convert_minor

RATES = pd.DataFrame(
    {
        "rate_date": pd.to_datetime(["2026-11-01", "2026-11-12", "2026-11-01"]),
        "from_currency": ["USD", "USD", "JPY"],
        "to_currency": ["CNY", "CNY", "CNY"],
        "rate": [Decimal("7.1"), Decimal("7.2"), Decimal("0.0475")],
    }
)


@pytest.mark.parametrize(
    ("amount", "currency", "rate", "to", "expected"),
    [
        (100_00, "USD", "7.1", "CNY", 710_00),
        (5_000, "JPY", "0.0475", "CNY", 237_50),  # 0 -> 2 decimals
        (3, "JPY", "0.0475", "CNY", 14),  # 0.1425 -> 0.14
        (5, "JPY", "0.049", "CNY", 25),  # 0.245 -> 0.25: half away from zero
        (-5, "JPY", "0.049", "CNY", -25),
        (1_00, "CNY", "20.5", "JPY", 21),  # 2 -> 0 decimals: 20.5 -> 21
        (123_456_789_012_345_67, "USD", "7.123456789012", "CNY", 879_439_101_839_615_85),  # Decimal: ...84.924 -> ...85; float cannot
    ],
)
def test_convert_minor_is_exact_and_rounds_half_away_from_zero(amount, currency, rate, to, expected):
    got = convert_minor(pd.Series([amount]), pd.Series([currency]), pd.Series([Decimal(rate)]), to)
    assert got.tolist() == [expected]


def test_equal_decimals_written_differently_convert_the_same():
    got = convert_minor(pd.Series([1_00, 1_00]), pd.Series(["USD", "USD"]), pd.Series([Decimal("7.1"), Decimal("7.10")]), "CNY")
    assert got.tolist() == [710, 710]


def test_attach_rates_uses_the_latest_rate_on_or_before_each_day_and_any_index():
    frame = pd.DataFrame(
        {"day": pd.to_datetime(["2026-11-12", "2026-11-11", "2026-11-30", "2026-11-05"]), "currency": ["USD", "USD", "CNY", "JPY"]},
        index=[7, 7, 3, 3],  # a filtered frame may repeat labels
    )
    got = attach_rates(frame, RATES, "day", "currency", "CNY")
    assert got["fx_rate"].tolist() == [Decimal("7.2"), Decimal("7.1"), Decimal(1), Decimal("0.0475")]
    assert "fx_rate" not in frame.columns  # the input is left alone


def test_attach_rates_accepts_other_datetime_resolutions():
    frame = pd.DataFrame({"day": pd.Series(pd.to_datetime(["2026-11-12"])).astype("datetime64[us]"), "currency": ["USD"]})
    assert attach_rates(frame, RATES, "day", "currency", "CNY")["fx_rate"].tolist() == [Decimal("7.2")]


def test_missing_rate_names_currency_and_date():
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-10-31"]), "currency": ["USD"]})
    with pytest.raises(ValueError, match=r"no FX rate USD->CNY on or before 2026-10-31 \(1 row"):
        attach_rates(frame, RATES, "day", "currency", "CNY")


def test_converted_to_base_handles_several_targets_and_keeps_unknown_amounts_unknown():
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-11-12", "2026-11-12", "2026-11-12"]),
            "currency": ["USD", "USD", "CNY"],
            "target": ["CNY", "USD", "CNY"],
            "amount": pd.array([100_00, 100_00, None], dtype="Int64"),
        }
    )
    got = converted_to_base(frame, {"base": "amount"}, "day", "currency", RATES, target_column="target")
    assert got["base"].tolist()[:2] == [720_00, 100_00] and got["base"].iloc[2] is pd.NA
    assert got["fx_rate"].tolist() == [Decimal("7.2"), Decimal(1), Decimal(1)]


def test_previous_order_days_are_the_latest_earlier_day_per_customer():
    days = pd.to_datetime(["2026-11-10", "2026-11-01", "2026-11-10", "2026-11-03", "2026-11-05", "2026-11-04"]).to_numpy()
    customers = np.array(["A", "A", "A", "B", None, "B"], dtype=object)
    counted = np.array([True, True, True, True, True, False])
    got = pd.Series(previous_order_days(customers, days, counted))
    expected = pd.Series(pd.to_datetime(["2026-11-01", None, "2026-11-01", None, None, None]))
    pd.testing.assert_series_equal(got, expected, check_names=False)
