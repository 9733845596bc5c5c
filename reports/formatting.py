"""Numbers, money, ratios and dates as a reader sees them, per language.

Money is formatted from integer minor units with :func:`transforms.money.exponent`
using integer arithmetic only: ``1234567`` CNY -> ``¥12,345.67``, exactly, at any
size. Ratios (floats by contract) are display-only. A missing value (None, NaN,
``pd.NA``) is shown as an em dash. These functions are registered as Jinja
filters in :mod:`reports.render`; templates never format numbers themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from reports.i18n import t
from transforms.money import exponent
from transforms.periods import Period

DASH = "—"

# Currency symbols per language; unambiguous in a cross-border context (¥ alone is
# CNY in Chinese and JPY in English, so each language spells the other one out).
_SYMBOLS = {
    "zh-CN": {"CNY": "¥", "USD": "US$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$", "AUD": "A$", "CAD": "CA$"},
    "en": {"CNY": "CN¥", "USD": "US$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$", "AUD": "A$", "CAD": "CA$"},
}


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self):
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            object.__setattr__(self, "minor", int(self.minor))

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    @property
    def is_negative(self) -> bool:
        return self.minor < 0


def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, Decimal) and value.is_nan():
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, Money)) else False
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- numbers and money


def format_amount(minor: int, currency: str) -> str:
    """Minor units -> ``12,345.67`` (grouped, exact, no symbol)."""
    minor = int(minor)
    digits = exponent(currency)
    whole, fraction = divmod(abs(minor), 10**digits)
    text = f"{whole:,}"
    if digits:
        text += "." + str(fraction).zfill(digits)
    return ("-" if minor < 0 else "") + text


def currency_symbol(currency: str, lang: str) -> str | None:
    return _SYMBOLS.get(lang, _SYMBOLS["en"]).get(currency.upper())


def format_money(value: Money | None, lang: str, *, symbol: bool = True) -> str:
    """``Money(1234567, "CNY")`` -> ``¥12,345.67`` (zh-CN) / ``CN¥12,345.67`` (en);
    currencies without a symbol read ``AED 1,234.00``; ``symbol=False`` gives the bare amount."""
    if value is None or is_missing(value):
        return DASH
    amount = format_amount(abs(value.minor), value.currency)
    sign = "-" if value.minor < 0 else ""
    if not symbol:
        return sign + amount
    sym = currency_symbol(value.currency, lang)
    return f"{sign}{sym}{amount}" if sym else f"{sign}{value.currency} {amount}"


def format_count(value: object) -> str:
    if is_missing(value):
        return DASH
    return f"{int(value):,}"


def format_percent(value: object, digits: int = 1) -> str:
    """A ratio (0.1234) -> ``12.3%``; missing -> em dash."""
    if is_missing(value):
        return DASH
    number = float(value) * 100
    if math.isinf(number):
        return DASH
    text = f"{number:,.{digits}f}"
    if text.startswith("-") and float(text[1:].replace(",", "")) == 0:
        text = text[1:]
    return text + "%"


def format_decimal(value: object) -> str:
    """An exact decimal (FX rate, quantity) as written: ``7.1234``; never scientific notation."""
    if is_missing(value):
        return DASH
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number.normalize(), "f")
    return text


def format_rate(value: object) -> str:
    """A Decimal rate (``0.025``) -> ``2.5%``, exactly; a blended rate with more than four
    decimals in percent (a line spanning two tiers) reads ``≈1.28%`` (the amount stays exact)."""
    if is_missing(value):
        return DASH
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    percent = (number * 100).normalize()
    if -percent.as_tuple().exponent > 4:
        return "≈" + format(percent.quantize(Decimal("0.01")), "f") + "%"
    return format(percent, "f") + "%"


def format_grouped_decimal(value: Decimal) -> str:
    """``Decimal("50000")`` -> ``50,000``; ``12500.5`` -> ``12,500.5`` (plan bounds)."""
    return format(value.normalize(), ",f")


def compact_major(value: Decimal, lang: str) -> str:
    """Axis labels: ``120000`` -> ``12万`` (zh-CN) / ``120k`` (en)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if lang == "zh-CN":
        steps = ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万"))
    else:
        steps = ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k"))
    for size, suffix in steps:
        if magnitude >= size:
            scaled = (magnitude / size).quantize(Decimal("0.1")).normalize()
            return f"{sign}{format(scaled, 'f')}{suffix}"
    return f"{sign}{format(magnitude.normalize(), ',f')}"


# ----------------------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class Change:
    """A change against the previous period. ``unit`` is ``"pct"`` (relative change) or
    ``"pp"`` (difference of two ratios, in percentage points). ``good_when_up`` says
    which direction is good news (refund rate: down)."""

    value: float | None
    unit: str = "pct"
    good_when_up: bool = True

    @property
    def direction(self) -> str:
        if self.value is None or is_missing(self.value):
            return "none"
        if abs(self.value) < 0.0005:
            return "flat"
        return "up" if self.value > 0 else "down"

    @property
    def tone(self) -> str:
        """``good`` / ``bad`` / ``neutral``: the colour of the arrow."""
        d = self.direction
        if d in ("none", "flat"):
            return "neutral"
        return "good" if (d == "up") == self.good_when_up else "bad"


def format_change(change: Change | None, lang: str) -> str:
    """``▲ 12.3%``, ``▼ 1.2 个百分点`` / ``▼ 1.2 pp``, ``持平`` / ``flat``, or an em dash."""
    if change is None or change.direction == "none":
        return DASH
    if change.direction == "flat":
        return t("common.flat", lang)
    arrow = "▲" if change.direction == "up" else "▼"
    magnitude = abs(float(change.value)) * 100
    if change.unit == "pp":
        return f"{arrow} {magnitude:,.1f} {t('common.pp', lang)}"
    return f"{arrow} {magnitude:,.1f}%"


# ----------------------------------------------------------------------------- dates and periods

_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def _as_date(value: object) -> date | None:
    if is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def format_date(value: object, lang: str, style: str = "iso") -> str:
    """``iso`` 2026-11-09 (tables, both languages); ``long`` 2026年11月9日 / 9 Nov 2026;
    ``short`` 11月9日 / 9 Nov; ``numeric`` 11/9 / 9/11 (chart axes)."""
    day = _as_date(value)
    if day is None:
        return DASH
    if style == "iso":
        return day.isoformat()
    if lang == "zh-CN":
        if style == "long":
            return f"{day.year}年{day.month}月{day.day}日"
        if style == "short":
            return f"{day.month}月{day.day}日"
        return f"{day.month}/{day.day}"
    month = _EN_MONTHS[day.month - 1][:3]
    if style == "long":
        return f"{day.day} {month} {day.year}"
    if style == "short":
        return f"{day.day} {month}"
    return f"{day.day}/{day.month}"


def format_datetime(value: datetime, lang: str) -> str:
    """The generated-at stamp: ``2026-11-16 08:05 (Asia/Shanghai)``."""
    zone = getattr(value.tzinfo, "key", None) or (value.tzname() or "")
    text = value.strftime("%Y-%m-%d %H:%M")
    if zone:
        text += f"（{zone}）" if lang == "zh-CN" else f" ({zone})"
    return text


def format_period(period: Period, lang: str) -> str:
    """``2026-W46 · 11月9日–11月15日`` / ``2026-W46 · 9–15 Nov 2026``; ``2026年10月`` / ``October 2026``."""
    if period.kind == "month":
        if lang == "zh-CN":
            return f"{period.start.year}年{period.start.month}月"
        return f"{_EN_MONTHS[period.start.month - 1]} {period.start.year}"
    first = period.start
    last = date.fromordinal(period.end.toordinal() - 1)
    if lang == "zh-CN":
        return f"{period.label} · {first.month}月{first.day}日–{last.month}月{last.day}日"
    if first.month == last.month:
        return f"{period.label} · {first.day}–{last.day} {_EN_MONTHS[last.month - 1][:3]} {last.year}"
    if first.year == last.year:
        return f"{period.label} · {first.day} {_EN_MONTHS[first.month - 1][:3]} – {last.day} {_EN_MONTHS[last.month - 1][:3]} {last.year}"
    return f"{period.label} · {format_date(first, 'en', 'long')} – {format_date(last, 'en', 'long')}"


def format_period_short(period: Period, lang: str) -> str:
    """For subjects: ``2026-W46（11月9日–11月15日）`` / ``2026-W46 (9–15 Nov)``; months as above."""
    if period.kind == "month":
        return format_period(period, lang)
    first = period.start
    last = date.fromordinal(period.end.toordinal() - 1)
    if lang == "zh-CN":
        return f"{period.label}（{first.month}月{first.day}日–{last.month}月{last.day}日）"
    if first.month == last.month:
        return f"{period.label} ({first.day}–{last.day} {_EN_MONTHS[last.month - 1][:3]})"
    return f"{period.label} ({first.day} {_EN_MONTHS[first.month - 1][:3]} – {last.day} {_EN_MONTHS[last.month - 1][:3]})"


# ----------------------------------------------------------------------------- generic value


def format_value(value: object, kind: str, lang: str) -> str:
    """Dispatch on a figure's kind: money, count, ratio, date, days, text."""
    if kind == "money":
        return format_money(value, lang)  # type: ignore[arg-type]
    if kind == "amount":
        return format_money(value, lang, symbol=False)  # type: ignore[arg-type]
    if kind == "count":
        return format_count(value)
    if kind == "ratio":
        return format_percent(value)
    if kind == "date":
        return format_date(value, lang)
    if kind == "days":
        return DASH if is_missing(value) else t("customer.days", lang, days=f"{int(value):,}")
    if kind == "rate":
        return format_rate(value)
    if kind == "decimal":
        return format_decimal(value)
    return DASH if is_missing(value) else str(value)
