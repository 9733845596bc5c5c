"""The one place currency is converted: exact, by date, and robust to the caller's frame."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from transforms.facts import converted_to_base, previous_order_days, previous_order_days_with
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


def test_previous_orders_not_in_the_rows_count_by_their_local_day():
    # on a weekly window the customers' latest earlier orders come as instants (UTC): A's is
    # 2026-10-31 16:30 UTC = 2026-11-01 in Shanghai, the same local day as A's first row (not
    # earlier, so it does not count there) and earlier than A's later rows; B's own earlier row
    # (11-03) is later than B's instant and wins; C has no row before; D's row is not counted
    days = pd.to_datetime(["2026-11-01", "2026-11-10", "2026-11-03", "2026-11-06", "2026-11-04", "2026-11-12"]).to_numpy()
    customers = np.array(["A", "A", "B", "B", "C", "D"], dtype=object)
    counted = np.array([True, True, True, True, True, False])
    previous = pd.DataFrame({"customer_id": ["A", "B", "D"],
                             "ordered_at": pd.to_datetime(["2026-10-31 16:30", "2026-10-20 03:00", "2026-10-01 00:00"])})
    own = previous_order_days(customers, days, counted)
    got = pd.Series(previous_order_days_with(previous, "Asia/Shanghai", customers, days, counted, own))
    expected = pd.Series(pd.to_datetime([None, "2026-11-01", "2026-10-20", "2026-11-03", None, None]))
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert previous_order_days_with(None, "UTC", customers, days, counted, own) is own


# ----------------------------------------------------------------------------- inverse and cross rates

TWELVE = Decimal("1e-12")


def _rates(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rate_date": pd.to_datetime([r[0] for r in rows]),
            "from_currency": [r[1] for r in rows],
            "to_currency": [r[2] for r in rows],
            "rate": [Decimal(r[3]) for r in rows],
        }
    )


def _one(currency: str, day: str, rates: pd.DataFrame, to: str = "CNY", **kw) -> tuple[Decimal, str]:
    got = attach_rates(pd.DataFrame({"day": pd.to_datetime([day]), "cur": [currency]}), rates, "day", "cur", to, **kw)
    return got["fx_rate"].iloc[0], got["fx_basis"].iloc[0]


@pytest.mark.parametrize(
    ("opposite", "expected"),
    [
        ("0.140845", "7.100003550002"),  # 7.1000035500017750... -> 12 places, half away from zero
        ("3", "0.333333333333"),
        ("1.5", "0.666666666667"),  # ...6666 -> ...667
        ("0.125", "8"),
    ],
)
def test_an_inverse_rate_is_one_over_the_opposite_row_rounded_once_to_12_places(opposite, expected):
    rate, basis = _one("USD", "2026-11-05", _rates(("2026-11-01", "CNY", "USD", opposite)))
    assert rate == Decimal(expected)
    assert rate == (1 / Decimal(opposite)).quantize(TWELVE, rounding=ROUND_HALF_UP)
    assert basis == "1/(CNY->USD 2026-11-01)"


def test_a_cross_rate_goes_through_the_pivot_and_is_rounded_once():
    rates = _rates(("2026-11-01", "EUR", "USD", "1.0853"), ("2026-11-02", "USD", "CNY", "7.123456789012"))
    rate, basis = _one("EUR", "2026-11-03", rates)
    exact = Decimal("1.0853") * Decimal("7.123456789012")  # 7.7310876531147236: 16 places
    assert rate == exact.quantize(TWELVE, rounding=ROUND_HALF_UP) == Decimal("7.731087653115")
    assert basis == "via USD: EUR->USD 2026-11-01 x USD->CNY 2026-11-02"
    # both legs must be in force: on 11-01 the USD->CNY leg is not
    with pytest.raises(ValueError, match=r"no FX rate EUR->CNY on or before 2026-11-01 .*none through USD"):
        _one("EUR", "2026-11-01", rates)
    # an inverse leg is exact until the single rounding: 1/0.5 x 0.000000000001 = 0.000000000002
    half = _rates(("2026-11-01", "USD", "GBP", "0.5"), ("2026-11-01", "USD", "CNY", "0.000000000001"))
    assert _one("GBP", "2026-11-01", half) == (Decimal("0.000000000002"), "via USD: 1/(USD->GBP 2026-11-01) x USD->CNY 2026-11-01")
    rounded_half_up = _rates(("2026-11-01", "GBP", "USD", "0.5"), ("2026-11-01", "USD", "CNY", "0.000000000001"))
    assert _one("GBP", "2026-11-01", rounded_half_up)[0] == Decimal("0.000000000001")  # 5e-13 -> 1e-12


def test_the_pivot_is_a_setting_and_legs_may_both_be_inverses():
    ecb = _rates(("2026-11-02", "EUR", "USD", "1.08"), ("2026-11-02", "EUR", "CNY", "7.7"))  # a EUR-based rate table
    rate, basis = _one("USD", "2026-11-02", ecb, pivot="EUR")
    assert rate == (Decimal("7.7") / Decimal("1.08")).quantize(TWELVE, rounding=ROUND_HALF_UP)
    assert basis == "via EUR: 1/(EUR->USD 2026-11-02) x EUR->CNY 2026-11-02"
    with pytest.raises(ValueError, match=r"none direct, none CNY->USD to invert; load"):
        _one("USD", "2026-11-02", ecb)  # the default pivot, USD, cannot bridge USD->CNY: the message says no pivot
    both = _rates(("2026-11-02", "USD", "GBP", "0.8"), ("2026-11-02", "CNY", "USD", "0.14"))
    assert _one("GBP", "2026-11-02", both)[0] == (1 / (Decimal("0.8") * Decimal("0.14"))).quantize(TWELVE, rounding=ROUND_HALF_UP)


def test_a_direct_rate_is_preferred_on_its_date_and_the_latest_rate_date_wins():
    rates = _rates(
        ("2026-11-02", "USD", "CNY", "7.1"), ("2026-11-02", "CNY", "USD", "0.15"),  # inconsistent on purpose
        ("2026-11-02", "EUR", "CNY", "7.7"), ("2026-11-02", "EUR", "USD", "2"),
    )
    assert _one("USD", "2026-11-02", rates) == (Decimal("7.1"), "USD->CNY 2026-11-02")
    assert _one("EUR", "2026-11-02", rates) == (Decimal("7.7"), "EUR->CNY 2026-11-02")  # not 2 x 7.1
    # a newer opposite row is newer information: from its date on it is used, inverted
    newer = pd.concat([rates, _rates(("2026-11-04", "CNY", "USD", "0.125"))], ignore_index=True)
    assert _one("USD", "2026-11-03", newer)[0] == Decimal("7.1")
    assert _one("USD", "2026-11-04", newer) == (Decimal(8), "1/(CNY->USD 2026-11-04)")


def test_amounts_convert_exactly_at_a_derived_rate_and_missing_rates_still_fail_before_converting():
    rates = _rates(("2026-11-01", "EUR", "USD", "1.0853"), ("2026-11-01", "USD", "CNY", "7.123456789012"))
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-11-02", "2026-11-02", "2026-11-02"]), "currency": ["EUR", "USD", "CNY"],
                          "target": ["CNY", "CNY", "CNY"], "amount": pd.array([123_456_789_01, 100_00, 5], dtype="Int64")})
    got = converted_to_base(frame, {"base": "amount"}, "day", "currency", rates, target_column="target")
    cross = (Decimal("1.0853") * Decimal("7.123456789012")).quantize(TWELVE, rounding=ROUND_HALF_UP)
    expected = (Decimal("123456789.01") * cross).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).scaleb(2)
    assert got["base"].tolist() == [int(expected), 712_35, 5]
    assert got["fx_rate"].tolist() == [cross, Decimal("7.123456789012"), Decimal(1)]
    assert got["fx_basis"].tolist()[:2] == ["via USD: EUR->USD 2026-11-01 x USD->CNY 2026-11-01", "USD->CNY 2026-11-01"]
    assert got["fx_basis"].iloc[2] is None
    with pytest.raises(ValueError, match=r"no FX rate GBP->CNY on or before 2026-11-02 \(1 row\(s\) affected\): none direct,"
                                         r" none CNY->GBP to invert, none through USD"):
        converted_to_base(frame.assign(currency=["EUR", "GBP", "CNY"]), {"base": "amount"}, "day", "currency", rates,
                          target_column="target")


def _in_force(table: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Per day and currency, the rate_table row in force: its latest rate date on or before the day."""
    grid = pd.MultiIndex.from_product([days, sorted(table["currency"].unique())], names=["day", "currency"]).to_frame(index=False)
    return pd.merge_asof(grid.sort_values("day"), table.sort_values("rate_date"), left_on="day", right_on="rate_date",
                         by="currency", direction="backward").sort_values(["day", "currency"]).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(3))
def test_rates_built_for_a_range_of_days_are_those_of_the_whole_fx_history(seed):
    """attach_rates builds only the rates that can be in force on its rows' days (the cost of a
    lookup must not grow with the FX history): on every day of the range, the rate found, how it
    was found and its basis are those of the table built from every row (direct, inverse and
    cross rates on sparse, uneven dates)."""
    from transforms.money import rate_table

    rng = np.random.default_rng(seed)
    pairs = [("USD", "CNY"), ("CNY", "USD"), ("EUR", "USD"), ("EUR", "CNY"), ("USD", "EUR"), ("GBP", "USD"),
             ("JPY", "CNY"), ("CNY", "JPY")]
    rows = []
    for from_c, to_c in pairs:
        days = rng.choice(120, size=int(rng.integers(1, 25)), replace=False)
        rows += [(pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(d)), from_c, to_c,
                  Decimal(int(rng.integers(1, 10**6))) / 1000) for d in days]
    fx = pd.DataFrame(rows, columns=["rate_date", "from_currency", "to_currency", "rate"])
    currencies = ["USD", "EUR", "GBP", "JPY"]
    whole = rate_table(fx, currencies, "CNY", "USD")
    for _ in range(8):
        first = pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(rng.integers(0, 130)))
        last = first + pd.Timedelta(days=int(rng.integers(0, 30)))
        part = rate_table(fx, currencies, "CNY", "USD", days=(first, last))
        assert len(part) <= len(whole)
        expected = _in_force(whole, pd.date_range(first, last))
        got = _in_force(part, pd.date_range(first, last)).reindex(columns=expected.columns)
        pd.testing.assert_frame_equal(got, expected)
