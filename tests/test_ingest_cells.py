"""Reading cells exactly: numbers, amounts, ids, dates and times (pure, no files)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import String

from connectors import cells
from connectors.fields import FIELDS, TABLE_OF_KIND
from warehouse.models import TABLES


def _one(parser, cell, **kwargs):
    result = parser(pd.Series([cell], dtype=object), **kwargs)
    return result.values.iloc[0], result.errors.iloc[0]


@pytest.mark.parametrize(
    "cell, decimal_comma, expected",
    [
        (2.55, False, Decimal("2.55")),  # an Excel float, read through its 15 significant digits
        (0.1 + 0.2, False, Decimal("0.3")),  # formula noise
        (12, False, Decimal(12)),
        ("1,234.50", False, Decimal("1234.50")),
        (" 12.5 ", False, Decimal("12.5")),
        ("(12.50)", False, Decimal("-12.50")),
        ("-0.99", False, Decimal("-0.99")),
        ("1.234,50", True, Decimal("1234.50")),
        ("1 234,50", True, Decimal("1234.50")),
        ("12,5", True, Decimal("12.5")),
        ("1E+3", False, Decimal("1E+3")),
    ],
)
def test_numbers_are_exact(cell, decimal_comma, expected):
    value, error = _one(cells.parse_decimals, cell, decimal_comma=decimal_comma)
    assert error is None and value == expected


@pytest.mark.parametrize("cell", ["12,34abc", "$12.50", "1,23", "abc", True, datetime(2026, 1, 1), float("inf"), "1.2.3", "."])
def test_unreadable_numbers_say_so(cell):
    value, error = _one(cells.parse_decimals, cell, decimal_comma=False)
    assert value is None and error.startswith("cannot read")


def test_decimals_finer_than_the_warehouse_are_refused():
    value, error = _one(cells.parse_decimals, "0.0000000000001", decimal_comma=False)
    assert value is None and "more than 12 decimal places" in error


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False, allow_infinity=False))
def test_an_amount_stored_by_excel_as_a_float_comes_back_to_the_cent(amount):
    result = cells.parse_amounts(pd.Series([float(amount)], dtype=object), pd.Series(["USD"]), decimal_comma=False)
    assert result.errors.iloc[0] is None and result.values.iloc[0] == int(amount * 100)


def test_amounts_are_minor_units_of_the_row_currency():
    result = cells.parse_amounts(
        pd.Series(["12.50", 100, "100.5", "0.125", None], dtype=object),
        pd.Series(["USD", "JPY", "JPY", "KWD", "USD"]),
        decimal_comma=False,
    )
    assert result.values.tolist() == [1250, 100, None, 125, None]
    assert result.errors.tolist()[2] == "100.5 has more decimals than JPY allows (0)"


@pytest.mark.parametrize(
    "quantity, price, currency, minor",
    [("3", "0.333", "USD", 100), ("0.5", "0.99", "USD", 50), ("-0.5", "0.99", "USD", -50), ("6", "2.95", "GBP", 1770), ("3", "333.5", "JPY", 1001)],
)
def test_line_gross_rounds_half_up_only_past_the_currency(quantity, price, currency, minor):
    assert cells.line_minor(Decimal(quantity), Decimal(price), currency) == minor


@pytest.mark.parametrize("cell, expected", [(12345, "12345"), (12345.0, "12345"), ("12345.0", "12345"), (" C-12 ", "C-12"), ("007", "007"), (1.5, "1.5")])
def test_ids_are_text_without_float_artefacts(cell, expected):
    assert _one(cells.parse_ids, cell, max_length=64) == (expected, None)


def test_long_ids_and_bool_ids_are_rejected():
    assert "longer than 4" in _one(cells.parse_ids, "ABCDE", max_length=4)[1]
    assert _one(cells.parse_ids, True, max_length=4)[1] == "cannot read 'TRUE' as an id"


def test_the_parsed_value_of_true_is_not_the_parsed_value_of_one():
    result = cells.parse_decimals(pd.Series([1, True, 1.0], dtype=object), decimal_comma=False)
    assert result.values.tolist() == [Decimal(1), None, Decimal(1)]


@pytest.mark.parametrize(
    "cell, date_format, dayfirst, utc",
    [
        (datetime(2026, 11, 10, 9, 30), None, False, datetime(2026, 11, 10, 1, 30)),
        (date(2026, 11, 10), None, False, datetime(2026, 11, 9, 16, 0)),
        ("2026-11-10 09:30", None, False, datetime(2026, 11, 10, 1, 30)),
        ("2026-11-10T09:30:00", None, False, datetime(2026, 11, 10, 1, 30)),
        ("2026-11-10T09:30:00Z", None, False, datetime(2026, 11, 10, 9, 30)),
        ("2026-11-10 09:30+02:00", None, False, datetime(2026, 11, 10, 7, 30)),
        ("2026/11/10", None, False, datetime(2026, 11, 9, 16, 0)),
        ("10/11/2026 08:00", None, True, datetime(2026, 11, 10, 0, 0)),
        ("10.11.2026", "%d.%m.%Y", False, datetime(2026, 11, 9, 16, 0)),
        ("2026-11-10", "%d.%m.%Y", False, datetime(2026, 11, 9, 16, 0)),  # ISO is always understood
        (20261110, "%Y%m%d", False, datetime(2026, 11, 9, 16, 0)),
        ("2026年11月10日", "%Y年%m月%d日", False, datetime(2026, 11, 9, 16, 0)),
    ],
)
def test_timestamps_become_naive_utc(cell, date_format, dayfirst, utc):
    value, error = _one(cells.parse_timestamps, cell, date_format=date_format, dayfirst=dayfirst, timezone="Asia/Shanghai")
    assert error is None and value == utc


@pytest.mark.parametrize("cell", ["10/11/2026", "2026", "2026-11", "2026-13-45", "yesterday", time(9, 30), 45000])
def test_unreadable_dates_name_what_was_expected(cell):
    value, error = _one(cells.parse_timestamps, cell, date_format=None, dayfirst=False, timezone="UTC")
    assert pd.isna(value) and error.startswith("cannot read") and "expected an Excel date or ISO text" in error


def test_clock_changes_resolve_predictably():
    london_times = pd.Series(["2010-10-31 01:30", "2010-03-28 01:30", "2010-07-01 12:00", "2010-12-01 12:00"], dtype=object)
    result = cells.parse_timestamps(london_times, date_format=None, dayfirst=False, timezone="Europe/London")
    assert result.values.tolist() == [
        pd.Timestamp("2010-10-31 00:30"),  # repeated hour: the first (summer time) one
        pd.Timestamp("2010-03-28 01:00"),  # skipped hour: moved past the gap
        pd.Timestamp("2010-07-01 11:00"),
        pd.Timestamp("2010-12-01 12:00"),
    ]


@pytest.mark.parametrize(
    "cell, expected",
    [("2026-W46", "2026-W46"), ("2026-10", "2026-10"), (datetime(2026, 10, 1), "2026-10"), ("2026-10-01", "2026-10"), ("2026-10-02", None)],
)
def test_periods(cell, expected):
    assert _one(cells.parse_periods, cell)[0] == expected


@pytest.mark.parametrize("cell, expected", [("是", True), ("否", False), ("Yes", True), (0, False), (True, True), ("maybe", None)])
def test_yes_no(cell, expected):
    assert _one(cells.parse_bools, cell)[0] == expected


SALES_LINE_COLUMNS = {"customer_name": ("customers", "name"), "sku": ("order_lines", "sku"), "description": ("order_lines", "description")}


def test_text_limits_match_the_warehouse_columns():
    checked = 0
    for kind, specs in FIELDS.items():
        for spec in specs:
            if spec.type not in ("id", "text"):
                continue
            table, column = SALES_LINE_COLUMNS.get(spec.name, ("orders", spec.name)) if kind == "sales_lines" else (TABLE_OF_KIND[kind], spec.name)
            if column in TABLES[table].c:
                column_type = TABLES[table].c[column].type
                assert isinstance(column_type, String) and column_type.length == spec.length, (kind, spec.name)
                checked += 1
    assert checked > 40
