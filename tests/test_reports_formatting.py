"""Formatting, labels and charts: pure functions, no PDF."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from reports import charts
from reports.context import ReconciliationError, _round_div, safe_name
from reports.formatting import (
    Change,
    Money,
    compact_major,
    format_amount,
    format_change,
    format_count,
    format_date,
    format_datetime,
    format_decimal,
    format_money,
    format_percent,
    format_period,
    format_period_short,
    format_rate,
)
from reports.i18n import CATALOGUE, country_name, normalize_language, platform_name, t
from reports.templating import _css_string, _page_parts
from transforms.periods import parse_period


@pytest.mark.parametrize("minor, currency, expected", [
    (1_234_567, "CNY", "12,345.67"),
    (5, "CNY", "0.05"),
    (-5, "CNY", "-0.05"),
    (0, "USD", "0.00"),
    (-123_456_789, "USD", "-1,234,567.89"),
    (1_234_567, "JPY", "1,234,567"),  # no minor digits
    (1_234_567, "KWD", "1,234.567"),  # three
    (123_456_789_012_345_678, "CNY", "1,234,567,890,123,456.78"),  # beyond float precision, still exact
])
def test_amounts_are_exact_from_minor_units(minor, currency, expected):
    assert format_amount(minor, currency) == expected


@pytest.mark.parametrize("money, lang, expected", [
    (Money(1_234_567, "CNY"), "zh-CN", "¥12,345.67"),
    (Money(1_234_567, "CNY"), "en", "CN¥12,345.67"),
    (Money(-99_999, "USD"), "zh-CN", "-US$999.99"),
    (Money(50_000, "JPY"), "zh-CN", "JP¥50,000"),
    (Money(123_400, "AED"), "en", "AED 1,234.00"),
    (Money(1_000, "KWD"), "en", "KWD 1.000"),
    (None, "en", "—"),
])
def test_money_with_symbol_per_language(money, lang, expected):
    assert format_money(money, lang) == expected


def test_money_never_goes_through_float():
    big = Money(2**62 + 1, "CNY")  # float would round this
    assert format_money(big, "zh-CN", symbol=False).replace(",", "").replace(".", "") == str(2**62 + 1)


def test_money_refuses_mixed_currency_sums():
    with pytest.raises(ValueError):
        Money(1, "CNY") + Money(1, "USD")


@pytest.mark.parametrize("value, expected", [(0.1234, "12.3%"), (1.0, "100.0%"), (float("nan"), "—"), (None, "—"),
                                             (pd.NA, "—"), (-0.00001, "0.0%"), (12.5, "1,250.0%")])
def test_percent(value, expected):
    assert format_percent(value) == expected


def test_counts_rates_and_decimals():
    assert format_count(1234567) == "1,234,567" and format_count(pd.NA) == "—"
    assert format_rate(Decimal("0.025")) == "2.5%" and format_rate(Decimal("0.04")) == "4%"
    assert format_rate(Decimal("0.012345")) == "1.2345%"
    assert format_rate(Decimal("0.0127990969")) == "≈1.28%"  # a line spanning two tiers
    assert format_decimal(Decimal("7.103400")) == "7.1034" and format_decimal(Decimal("1E+1")) == "10"


@pytest.mark.parametrize("change, lang, text, tone", [
    (Change(0.1234), "zh-CN", "▲ 12.3%", "good"),
    (Change(-0.05), "en", "▼ 5.0%", "bad"),
    (Change(0.012, "pp"), "zh-CN", "▲ 1.2 个百分点", "good"),
    (Change(0.012, "pp", good_when_up=False), "en", "▲ 1.2 pp", "bad"),  # refund rate up is bad news
    (Change(-0.03, "pp", good_when_up=False), "en", "▼ 3.0 pp", "good"),
    (Change(0.0001), "zh-CN", "持平", "neutral"),
    (Change(None), "en", "—", "neutral"),
    (Change(float("nan")), "en", "—", "neutral"),
])
def test_changes_have_direction_and_tone(change, lang, text, tone):
    assert format_change(change, lang) == text
    assert change.tone == tone


def test_dates_and_periods_per_language():
    day = date(2026, 11, 9)
    assert format_date(day, "zh-CN", "long") == "2026年11月9日"
    assert format_date(day, "en", "long") == "9 Nov 2026"
    assert format_date(pd.Timestamp("2026-11-09 13:00"), "en") == "2026-11-09"
    assert format_date(pd.NaT, "en") == "—"
    week = parse_period("2026-W46")
    assert format_period(week, "zh-CN") == "2026-W46 · 11月9日–11月15日"
    assert format_period(week, "en") == "2026-W46 · 9–15 Nov 2026"
    assert format_period(parse_period("2026-W44"), "en") == "2026-W44 · 26 Oct – 1 Nov 2026"
    assert format_period(parse_period("2026-W53"), "en") == "2026-W53 · 28 Dec 2026 – 3 Jan 2027"
    assert format_period(parse_period("2026-10"), "zh-CN") == "2026年10月"
    assert format_period(parse_period("2026-10"), "en") == "October 2026"
    assert format_period_short(week, "zh-CN") == "2026-W46（11月9日–11月15日）"
    stamp = datetime(2026, 11, 16, 8, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert format_datetime(stamp, "zh-CN") == "2026-11-16 08:05（Asia/Shanghai）"


def test_compact_axis_labels():
    assert compact_major(Decimal(150000), "zh-CN") == "15万"
    assert compact_major(Decimal(25000), "zh-CN") == "2.5万"
    assert compact_major(Decimal(300000000), "zh-CN") == "3亿"
    assert compact_major(Decimal(150000), "en") == "150k"
    assert compact_major(Decimal(-2500000), "en") == "-2.5M"
    assert compact_major(Decimal(500), "en") == "500"


def test_catalogues_hold_the_same_keys_and_placeholders():
    zh, en = CATALOGUE["zh-CN"], CATALOGUE["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_labels_and_codes():
    assert t("kpi.rank_value", "zh-CN", rank=2, size=6) == "第 2 名 / 共 6 人"
    with pytest.raises(KeyError, match="no label"):
        t("kpi.nope", "en")
    with pytest.raises(KeyError, match="unknown language"):
        t("kpi.orders", "fr")
    assert [normalize_language(v) for v in ("zh", "zh_CN", "EN-us", "", None, "fr")] == [
        "zh-CN", "zh-CN", "en", "zh-CN", "zh-CN", "zh-CN"]
    assert country_name("US", "zh-CN") == "美国" and country_name("United Kingdom", "zh-CN") == "英国"
    assert country_name("Atlantis", "en") == "Atlantis" and country_name(None, "en") == "—"
    assert platform_name("amazon", "zh-CN") == "亚马逊" and platform_name("etsy2", "en") == "etsy2"


def test_page_label_split_and_css_strings():
    assert _page_parts("zh-CN") == ("第 ", " 页，共 ", " 页")
    assert _page_parts("en") == ("Page ", " of ", "")
    assert _css_string('a "b" \\ c') == '"a \\"b\\" \\\\ c"'


def test_safe_names_are_stable_and_distinct():
    assert safe_name("M001") == "M001"
    assert safe_name("M/001") != safe_name("M_001")
    assert safe_name("M/001") == safe_name("M/001")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", safe_name("张伟 ../x"))


def test_integer_average_rounds_half_away_from_zero():
    assert _round_div(5, 2) == 3 and _round_div(-5, 2) == -3 and _round_div(4, 3) == 1


def test_trend_chart_highlights_the_current_week_and_handles_gaps():
    points = [charts.TrendPoint(f"W{i}", "", v, current=(i == 4)) for i, v in
              enumerate([100_00, None, -50_00, 300_00, 250_00])]
    svg = str(charts.trend_chart(points, "CNY", "zh-CN", font="'Noto Sans CJK SC'"))
    assert svg.count("<rect") == 4  # no bar for the week without data
    assert charts.BAR_CURRENT in svg and charts.BAR_NEGATIVE in svg
    assert "¥250.00" in svg and "W4" in svg and "stroke-dasharray" in svg
    empty = str(charts.trend_chart([charts.TrendPoint("W1", "", None, True)], "USD", "en", font="x"))
    assert "<rect" not in empty and "<svg" in empty


def test_reconciliation_error_is_a_value_error():
    assert issubclass(ReconciliationError, ValueError)
