"""Spreadsheet cells read into exact values, one column at a time.

A parser takes a Series of raw cells - whatever openpyxl or the csv reader gave:
``str``, ``int``, ``float``, ``bool``, ``datetime``, ``None`` - and returns
:class:`Cells`: the values (``None`` where the cell is blank) and, per cell,
what is wrong with it (``None`` when fine). Nothing raises on a bad cell.

Rules worth knowing:

* Numbers are exact. A float from Excel is read through its 15 significant
  digits (Excel's own precision), so ``2.55`` is ``Decimal('2.55')`` and a
  formula's ``0.30000000000000004`` is ``Decimal('0.3')``. Text amounts may use
  thousands separators (``1,234.50``, or ``1.234,50`` with ``decimal_comma``)
  and accounting negatives ``(12.50)``; nothing else (no currency symbols).
* Ids are text: ``12345``, ``12345.0`` (a float cell or a float column written
  to csv) and ``"12345"`` are all ``"12345"``.
* Timestamps come from Excel date cells, ISO text (``2026-11-10 09:30``,
  ``2026-11-10T09:30+08:00``) or text in ``date_format``; with ``dayfirst`` and
  no ``date_format``, other text is read day first (``10/11/2026`` = 10 Nov).
  Naive times are local to the given timezone and come out as naive UTC; an
  ambiguous local time (the hour repeated when clocks go back) is taken as the
  first one, a time skipped when clocks go forward is moved past the gap.

Each distinct cell value is parsed once, and date text is parsed by pandas in
bulk, so a 35k-row column costs milliseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from transforms.money import exponent, round_to_minor
from transforms.periods import parse_period

MAX_DECIMALS = 12  # warehouse ExactDecimal is NUMERIC(38, 12)
MAX_INTEGER_DIGITS = 26
MAX_MINOR = 2**63 - 1

_INTEGRAL_FLOAT_TEXT = re.compile(r"^[+-]?\d+\.0+$")
_NUMBER_POINT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_NUMBER_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)?(,\d+)?$")
_NUMBER_EXP = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_ISO_DATE_START = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:$|[ T])")
_WITH_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$")
_TRUE = {"true", "yes", "y", "1", "是", "t"}
_FALSE = {"false", "no", "n", "0", "否", "f"}


@dataclass(frozen=True)
class Cells:
    """Parsed values and, per cell, what is wrong (``None`` = fine), on the raw column's index."""

    values: pd.Series
    errors: pd.Series


def is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def shown(value: object) -> str:
    """A cell as the user sees it (for messages and the rejected row's JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _per_distinct(raw: pd.Series, read: Callable[[object], tuple[object, str | None]]) -> Cells:
    """Apply ``read`` (cell -> (value, error)) once per distinct non-blank cell."""
    cache: dict[tuple, tuple[object, str | None]] = {}
    values: list[object] = []
    errors: list[str | None] = []
    for cell in raw.tolist():
        if is_blank(cell):
            values.append(None)
            errors.append(None)
            continue
        key = (type(cell), cell)  # type first: True must not hit the cache entry of 1
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = read(cell)
        values.append(hit[0])
        errors.append(hit[1])
    return Cells(pd.Series(values, index=raw.index, dtype=object), pd.Series(errors, index=raw.index, dtype=object))


# --------------------------------------------------------------------------- text and ids


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return shown(value)


def parse_ids(raw: pd.Series, max_length: int) -> Cells:
    """Record ids as text: ``12345``, ``12345.0`` and ``"12345"`` all give ``"12345"``."""

    def read(cell):
        if isinstance(cell, bool) or isinstance(cell, (datetime, date, time)):
            return None, f"cannot read {shown(cell)!r} as an id"
        if isinstance(cell, float) and not math.isfinite(cell):
            return None, f"cannot read {shown(cell)!r} as an id"
        text = _number_text(cell) if isinstance(cell, (int, float)) else str(cell).strip()
        if _INTEGRAL_FLOAT_TEXT.match(text):
            text = text.split(".")[0]
        if len(text) > max_length:
            return None, f"id longer than {max_length} characters: {text[:40]!r}..."
        return text, None

    return _per_distinct(raw, read)


def parse_texts(raw: pd.Series, max_length: int) -> Cells:
    """Free text, stripped; numbers as shown (``21844``, not ``21844.0``)."""

    def read(cell):
        text = _number_text(cell) if isinstance(cell, (int, float)) and not isinstance(cell, bool) else shown(cell).strip()
        if len(text) > max_length:
            return None, f"text longer than {max_length} characters: {text[:40]!r}..."
        return text, None

    return _per_distinct(raw, read)


def parse_choices(raw: pd.Series, choices: Iterable[str], what: str) -> Cells:
    """One of ``choices`` (matched ignoring case), returned in its canonical spelling."""
    canonical = {c.casefold(): c for c in choices}
    expected = ", ".join(canonical.values())

    def read(cell):
        text = shown(cell).strip()
        found = canonical.get(text.casefold())
        if found is None:
            return None, f"{text!r} is not a valid {what} (expected one of: {expected})"
        return found, None

    return _per_distinct(raw, read)


def parse_currencies(raw: pd.Series, allowed: Iterable[str]) -> Cells:
    """ISO 4217 codes, upper-cased, that the workspace lists in ``currencies``."""
    allowed = set(allowed)

    def read(cell):
        text = shown(cell).strip().upper()
        if text not in allowed:
            return None, f"unknown currency {shown(cell).strip()!r} (not one of the currencies in yeji.yaml)"
        return text, None

    return _per_distinct(raw, read)


def parse_bools(raw: pd.Series) -> Cells:
    def read(cell):
        if isinstance(cell, bool):
            return cell, None
        text = shown(cell).strip().casefold()
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return None, f"cannot read {shown(cell)!r} as yes/no (expected true/false, yes/no, 1/0, 是/否)"

    return _per_distinct(raw, read)


def parse_ints(raw: pd.Series, minimum: int = 1) -> Cells:
    def read(cell):
        number, error = _decimal(cell, decimal_comma=False)
        if error or number != number.to_integral_value() or number < minimum:
            return None, f"cannot read {shown(cell)!r} as a whole number of at least {minimum}"
        return int(number), None

    return _per_distinct(raw, read)


def parse_periods(raw: pd.Series) -> Cells:
    """``2026-W46`` or ``2026-10``; an Excel date on the 1st of a month (Excel turns a typed
    ``2026-10`` into 1 Oct 2026) is that month."""

    def first_of_month(day: object) -> str | None:
        if isinstance(day, (datetime, date)) and day.day == 1 and not (isinstance(day, datetime) and day.time() != time(0)):
            return f"{day.year}-{day.month:02d}"
        return None

    def read(cell):
        month = first_of_month(cell)
        if month:
            return month, None
        text = shown(cell).strip()
        try:
            return str(parse_period(text)), None
        except ValueError:
            pass
        if _ISO_DATE_START.match(text):  # the same date, once more as text (a csv saved from Excel)
            month = first_of_month(pd.to_datetime(text, format="ISO8601", errors="coerce"))
            if month:
                return month, None
        return None, f"cannot read {text!r} as a period (expected a week like 2026-W46 or a month like 2026-10)"

    return _per_distinct(raw, read)


# --------------------------------------------------------------------------- numbers


def _decimal(cell: object, decimal_comma: bool) -> tuple[Decimal | None, str | None]:
    """A cell as an exact Decimal, or why not."""
    bad = None, f"cannot read {shown(cell)!r} as a number"
    if isinstance(cell, bool) or isinstance(cell, (datetime, date, time)):
        return bad
    if isinstance(cell, int):
        number = Decimal(cell)
    elif isinstance(cell, float):
        if not math.isfinite(cell):
            return bad
        number = Decimal(format(cell, ".15g"))
    else:
        text = str(cell).strip()
        for space in (" ", "\u00a0", "\u202f", "\u3000"):
            text = text.replace(space, "")
        negative = text.startswith("(") and text.endswith(")")
        if negative:
            text = text[1:-1]
        if decimal_comma and _NUMBER_COMMA.match(text) and any(ch.isdigit() for ch in text):
            text = text.replace(".", "").replace(",", ".")
        elif not decimal_comma and _NUMBER_POINT.match(text) and any(ch.isdigit() for ch in text):
            text = text.replace(",", "")
        elif not _NUMBER_EXP.match(text):
            return bad
        try:
            number = Decimal(text)
        except InvalidOperation:
            return bad
        if negative:
            number = -number
    if not number.is_finite():
        return bad
    return number, None


def _in_warehouse_range(number: Decimal) -> str | None:
    sign, digits, exp = number.normalize().as_tuple()
    if exp < -MAX_DECIMALS:
        return f"{number} has more than {MAX_DECIMALS} decimal places"
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        return f"{number} is too large"
    return None


def parse_decimals(raw: pd.Series, decimal_comma: bool, what: str = "a number") -> Cells:
    """Exact decimals (quantities, unit prices, rates, scores)."""

    def read(cell):
        number, error = _decimal(cell, decimal_comma)
        if error:
            return None, error.replace("as a number", f"as {what}")
        error = _in_warehouse_range(number)
        return (None, error) if error else (number, None)

    return _per_distinct(raw, read)


def parse_amounts(raw: pd.Series, currencies: pd.Series, decimal_comma: bool) -> Cells:
    """Major-unit amounts into integer minor units of each row's currency, refusing to
    round away precision (``12.345`` USD is an error). Rows without a currency get no value."""
    numbers = parse_decimals(raw, decimal_comma, what="an amount")
    values: list[int | None] = []
    errors: list[str | None] = []
    for number, error, currency in zip(numbers.values.tolist(), numbers.errors.tolist(), currencies.tolist()):
        if error or number is None or currency is None:
            values.append(None)
            errors.append(error)
            continue
        minor = number.scaleb(exponent(currency))
        if minor != minor.to_integral_value():
            values.append(None)
            errors.append(f"{number} has more decimals than {currency} allows ({exponent(currency)})")
        elif abs(minor) > MAX_MINOR:
            values.append(None)
            errors.append(f"{number} is too large")
        else:
            values.append(int(minor))
            errors.append(None)
    return Cells(pd.Series(values, index=raw.index, dtype=object), pd.Series(errors, index=raw.index, dtype=object))


def line_minor(quantity: Decimal, price: Decimal, currency: str) -> int:
    """``quantity x price`` exactly, in minor units; rounded half away from zero only
    when the product has more decimals than the currency (0.5 x 0.99 USD = 0.495 -> 50)."""
    return round_to_minor(quantity * price, currency)


# --------------------------------------------------------------------------- dates and times


def _expected_dates(date_format: str | None, dayfirst: bool) -> str:
    if date_format:
        return f"expected {date_format}"
    if dayfirst:
        return "expected a date, day first"
    return "expected an Excel date or ISO text like 2026-11-10; set date_format for other text"


def _text_datetimes(texts: list[str], date_format: str | None, dayfirst: bool) -> tuple[pd.Series, pd.Series]:
    """Distinct date texts -> (naive local times, naive UTC times for text with an offset), NaT if unreadable."""
    text = pd.Series(texts, dtype=object)
    has_offset = text.str.contains(_WITH_OFFSET).fillna(False).to_numpy(bool)
    local = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    utc = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    naive = ~has_offset
    if date_format and naive.any():
        local[naive] = pd.to_datetime(text[naive], format=date_format, errors="coerce")
    iso_like = text.str.match(_ISO_DATE_START).fillna(False).to_numpy(bool)
    todo = naive & iso_like & local.isna().to_numpy()
    if todo.any():
        local[todo] = pd.to_datetime(text[todo], format="ISO8601", errors="coerce")
    if dayfirst and not date_format:
        todo = naive & local.isna().to_numpy()
        if todo.any():
            local[todo] = pd.to_datetime(text[todo], format="mixed", dayfirst=True, errors="coerce")
    aware = has_offset & iso_like
    if aware.any():
        utc[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
    return local, utc


def _read_datetimes(raw: pd.Series, date_format: str | None, dayfirst: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Raw cells -> (naive local datetimes, naive UTC datetimes, errors), NaT where not that kind."""
    n = len(raw)
    local = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    utc = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    errors: list[str | None] = [None] * n
    direct_at: list[int] = []
    direct: list[datetime] = []
    text_at: list[int] = []
    texts: list[str] = []
    for i, cell in enumerate(raw.tolist()):
        if is_blank(cell):
            continue
        if isinstance(cell, datetime):
            direct_at.append(i)
            direct.append(cell.replace(tzinfo=None) if cell.tzinfo is None else cell)
        elif isinstance(cell, date):
            direct_at.append(i)
            direct.append(datetime(cell.year, cell.month, cell.day))
        elif isinstance(cell, (time, bool)):
            errors[i] = f"cannot read {shown(cell)!r} as a date ({_expected_dates(date_format, dayfirst)})"
        elif isinstance(cell, (int, float)):  # e.g. 20261110 with date_format %Y%m%d
            text_at.append(i)
            texts.append(_number_text(cell))
        else:
            text_at.append(i)
            texts.append(str(cell).strip())
    if direct:
        parsed = pd.to_datetime(pd.Series(direct, dtype=object), errors="coerce").to_numpy("datetime64[ns]")
        local[direct_at] = parsed
        for i, ok in zip(direct_at, ~np.isnat(parsed)):
            if not ok:
                errors[i] = f"date {shown(raw.iloc[i])!r} is out of range"
    if texts:
        distinct = list(dict.fromkeys(texts))
        text_local, text_utc = _text_datetimes(distinct, date_format, dayfirst)
        where = {t: k for k, t in enumerate(distinct)}
        codes = np.fromiter((where[t] for t in texts), dtype=np.int64, count=len(texts))
        local[text_at] = text_local.to_numpy("datetime64[ns]")[codes]
        utc[text_at] = text_utc.to_numpy("datetime64[ns]")[codes]
        for i, t in zip(text_at, texts):
            if np.isnat(local[i]) and np.isnat(utc[i]):
                errors[i] = f"cannot read {t!r} as a date ({_expected_dates(date_format, dayfirst)})"
    return (
        pd.Series(local, index=raw.index),
        pd.Series(utc, index=raw.index),
        pd.Series(errors, index=raw.index, dtype=object),
    )


def parse_timestamps(raw: pd.Series, *, date_format: str | None, dayfirst: bool, timezone: str) -> Cells:
    """Timestamps as naive UTC ``datetime64[ns]`` (NaT where blank or bad); naive cells are
    local time in ``timezone``, a date without a time is local midnight."""
    local, utc, errors = _read_datetimes(raw, date_format, dayfirst)
    localized = (
        local.dt.tz_localize(timezone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
        .dt.tz_convert("UTC")
        .dt.tz_localize(None)
    )
    return Cells(localized.where(utc.isna(), utc), errors)


def parse_dates(raw: pd.Series, *, date_format: str | None, dayfirst: bool) -> Cells:
    """Calendar days as ``datetime.date`` objects (a time of day, if any, is dropped)."""
    local, utc, errors = _read_datetimes(raw, date_format, dayfirst)
    days = local.where(utc.isna(), utc).dt.normalize()
    values = pd.Series([None if pd.isna(d) else d.date() for d in days], index=raw.index, dtype=object)
    return Cells(values, errors)
