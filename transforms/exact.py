"""Exact arithmetic for commissions: scaled integers, explicit rounding, exact allocation.

An exact amount is carried as an integer numerator over a power of ten (``value =
numerator / 10**scale`` minor units). Arrays are int64 when every product provably fits,
else object arrays of Python ints: exact at any size, still vectorised (no Python loop
per row). Rounding happens in one place, :func:`round_scaled`, in the mode the plan names.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

INT64_SAFE = 2**62  # products and a few sums of int64 values below this cannot overflow
MODES = ("half_up", "half_even", "half_down", "down", "up", "floor", "ceiling")


def decimal_places(values) -> int:
    """The decimals needed to write every Decimal in ``values`` exactly."""
    places = 0
    for v in values:
        exp = Decimal(v).normalize().as_tuple().exponent
        if isinstance(exp, int):
            places = max(places, -exp)
    return places


def scaled(value: Decimal, places: int) -> int:
    """``value * 10**places`` as an int; refuses to drop digits."""
    out = Decimal(value).scaleb(places)
    if out != out.to_integral_value():
        raise ValueError(f"{value} has more than {places} decimal places")
    return int(out)


def as_objects(values) -> np.ndarray:
    """An int array as Python ints (object), for products that may exceed int64."""
    if isinstance(values, (list, tuple)):  # a few weights or stage percents, maybe past int64: as Python ints
        return np.array([int(v) if isinstance(v, (int, np.integer)) else v for v in values], dtype=object)
    array = np.asarray(values)
    if array.dtype == object:
        return array
    return array.astype(np.int64).astype(object)


def round_scaled(numerator, denominator: int, mode: str = "half_up") -> np.ndarray:
    """``numerator / denominator`` rounded to an integer in ``mode`` (``denominator`` > 0, one
    for all rows or one per row).

    Modes as in :mod:`decimal`: half_up (half away from zero), half_even (banker's),
    half_down (half toward zero), down (toward zero), up (away from zero), floor, ceiling.
    Returns int64.
    """
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r} (one of {', '.join(MODES)})")
    n = as_objects(numerator)
    if n.size == 0:
        return np.zeros(0, dtype="int64")
    if np.ndim(denominator):  # one denominator per row (e.g. each refunded order's amount)
        d = as_objects(denominator)
    else:
        d = int(denominator)
        if d == 1:
            return n.astype("int64")
    q = n // d  # floor
    r = n - q * d  # 0 <= r < d
    negative = (n < 0).astype(bool)
    exact = (r == 0).astype(bool)
    if mode == "floor":
        out = q
    elif mode == "ceiling":
        out = q + (~exact).astype(int)
    elif mode == "down":
        out = q + ((~exact) & negative).astype(int)
    elif mode == "up":
        out = q + ((~exact) & ~negative).astype(int)
    else:
        twice = (r * 2).astype(object)
        above = (twice > d).astype(bool)
        half = (twice == d).astype(bool)
        if mode == "half_up":  # away from zero
            up = above | (half & ~negative)
        elif mode == "half_down":  # toward zero
            up = above | (half & negative)
        else:  # half_even
            odd = (q % 2 != 0).astype(bool)
            up = above | (half & odd)
        out = q + up.astype(int)
    return np.asarray(out, dtype=object).astype("int64")


def allocate(total: int, weights) -> np.ndarray:
    """Split the integer ``total`` in proportion to non-negative integer ``weights`` so the
    parts sum to exactly ``total`` (largest remainder; ties go to the earlier weight).
    Negative totals are split like their magnitude. All-zero weights split equally."""
    w = as_objects(weights)
    k = len(w)
    if k == 0:
        if total:
            raise ValueError(f"cannot allocate {total} over no parts")
        return np.zeros(0, dtype="int64")
    if any(x < 0 for x in w):
        raise ValueError("allocation weights must not be negative")
    if sum(w) == 0:
        w = np.array([1] * k, dtype=object)
    sign = -1 if total < 0 else 1
    magnitude = abs(int(total))
    whole = sum(w)
    base = (w * magnitude) // whole
    remainder = w * magnitude - base * whole
    short = magnitude - int(sum(base))
    order = sorted(range(k), key=lambda i: (-remainder[i], i))  # per part, not per line
    for i in order[:short]:
        base[i] += 1
    return (np.asarray(base, dtype=object) * sign).astype("int64")


def fits_int64(*arrays, factor: int = 1) -> bool:
    """Whether ``factor`` times the product of the largest magnitudes in ``arrays`` stays below
    2**62: then every product of one element of each (and sums of a few) is exact in int64."""
    bound = int(factor)
    for a in arrays:
        a = np.asarray(a)
        if a.size == 0:
            return True
        largest = max(abs(int(a.max())), abs(int(a.min())))
        if largest >= INT64_SAFE:  # the values themselves must fit, whatever they are multiplied by
            return False
        bound *= max(largest, 1)
    return bound < INT64_SAFE


def ints(values) -> np.ndarray:
    """Python-int (object) or int arrays as int64 when every value fits, else unchanged."""
    array = np.asarray(values)
    if array.dtype != object:
        return array.astype(np.int64)
    return array.astype(np.int64) if fits_int64(array) else array


class Groups:
    """Row groups given by integer codes, sorted once: sums, firsts and ranks per group
    without a Python call per group (works on int64 and on object arrays of Python ints)."""

    def __init__(self, codes):
        self.codes = np.asarray(codes)
        self.order = np.argsort(self.codes, kind="stable")
        sorted_codes = self.codes[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(sorted_codes) else np.zeros(0, dtype=np.int64)
        self.segment = np.empty(len(self.codes), dtype=np.int64)  # group number of each row
        self.segment[self.order] = np.cumsum(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) - 1 if len(sorted_codes) else 0

    def sums(self, values) -> np.ndarray:
        """Each group's sum, on every row of the group."""
        v = np.asarray(values)
        if len(v) == 0:
            return v
        return np.add.reduceat(v[self.order], self.starts)[self.segment]

    def firsts(self, values) -> np.ndarray:
        """Each group's first value (in row order), on every row of the group."""
        v = np.asarray(values)
        return v[self.order[self.starts]][self.segment] if len(v) else v

    def rank_descending(self, values) -> np.ndarray:
        """Each row's rank in its group by ``values`` descending, ties by row order (0 = first)."""
        n = len(self.codes)
        v = ints(values)
        if v.dtype == object:  # beyond int64: an object sort, still without a call per row
            frame = pd.DataFrame({"g": self.segment, "v": -v, "i": np.arange(n)})
            order = frame.sort_values(["g", "v", "i"], kind="stable").index.to_numpy()
        else:
            order = np.lexsort((np.arange(n), -v, self.segment))
        rank = np.empty(n, dtype=np.int64)
        group_start = np.r_[0, np.flatnonzero(np.diff(self.segment[order]) != 0) + 1] if n else np.zeros(0, dtype=np.int64)
        position = np.arange(n) - np.repeat(group_start, np.diff(np.r_[group_start, n]))
        rank[order] = position
        return rank


def renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame just taken (``iloc``) with its index set to 0..n-1 in place: what
    ``reset_index(drop=True)`` gives, without copying every column once more."""
    frame.index = pd.RangeIndex(len(frame))
    return frame


def days_of(column) -> np.ndarray:
    """A column of days or timestamps as ``datetime64[ns]``. ``pd.to_datetime`` of a Series
    boxes thousands of values to guess whether to cache, even when it is datetime64 already:
    only other columns (objects after a concat with missing values) go through it."""
    values = column.to_numpy() if isinstance(column, (pd.Series, pd.Index)) else np.asarray(column)
    if values.dtype.kind == "M":
        return values.astype("datetime64[ns]")
    return pd.to_datetime(values).to_numpy().astype("datetime64[ns]")


def allocate_matrix(totals, weights) -> np.ndarray:
    """:func:`allocate` of each of ``totals`` over the same few ``weights`` (stage percents):
    an (n, k) int64 matrix whose rows sum exactly to ``totals``. Largest remainder per row,
    ties to the earlier weight; int64 when ``|total| x weight`` provably fits (else through
    :func:`allocate_rows`, exact with Python ints)."""
    t = as_objects(totals)
    w = as_objects(weights)
    n, k = len(t), len(w)
    if n == 0 or not fits_int64(t, w, factor=max(k, 1) * 2):
        return allocate_rows(np.repeat(t, k), np.tile(w, n), np.repeat(np.arange(n), k)).reshape(n, k)
    t, w = t.astype(np.int64), w.astype(np.int64)
    whole = int(w.sum())
    if whole == 0:
        w, whole = np.ones(k, dtype=np.int64), k
    sign = np.where(t < 0, -1, 1)
    magnitude = t * sign
    product = magnitude[:, None] * w[None, :]
    base = product // whole
    remainder = product - base * whole
    short = magnitude - base.sum(axis=1)
    order = np.argsort(-remainder, axis=1, kind="stable")  # ties keep the earlier weight first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), (n, k)), axis=1)
    return (base + (rank < short[:, None])) * sign[:, None]


def combination_codes(*columns) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, first row of each code) of the distinct combinations of ``columns``
    (missing values included as values of their own): the few distinct (role, class) or
    (rule, band, rate, multiplier) of a month's lines, to build each one's Decimal or text
    once and map it back."""
    n = len(columns[0]) if columns else 0
    code = np.zeros(n, dtype=np.int64)
    for col in columns:
        c, uniques = pd.factorize(np.asarray(col, dtype=object), use_na_sentinel=False)
        code = pd.factorize(code * (len(uniques) + 1) + c)[0]  # stays below n: no overflow
    first = np.full(code.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, code, np.arange(n))
    return code, first


def allocate_rows(totals, weights, groups) -> np.ndarray:
    """:func:`allocate` per group, vectorised: rows sharing a ``groups`` code split that
    group's total (``totals`` repeated on every row of the group) by their ``weights``.
    Largest remainder within each group; ties to the earlier row.

    int64 when ``weights x totals`` provably fits (:func:`fits_int64`), else Python ints."""
    totals = as_objects(totals)
    w = as_objects(weights)
    n = len(w)
    if n == 0:
        return np.zeros(0, dtype="int64")
    group = Groups(pd.factorize(np.asarray(groups))[0])
    sign = np.where(totals < 0, -1, 1)
    magnitude = totals * sign.astype(object)
    # weights sum to at most n x max(w) per group: the largest product is n x max(w) x max(|total|)
    if fits_int64(w, magnitude, factor=max(n, 1) * 2):
        w, magnitude = w.astype(np.int64), magnitude.astype(np.int64)
    sums = group.sums(w)
    zero = sums == 0
    if zero.any():
        w = np.where(zero, 1, w).astype(w.dtype)
        sums = group.sums(w)
    product = w * magnitude
    base = product // sums
    remainder = product - base * sums
    short = group.firsts(magnitude) - group.sums(base)
    extra = (group.rank_descending(remainder) < np.asarray(short).astype(np.int64)).astype(np.int64)
    return (np.asarray(base + extra, dtype=object) * sign.astype(object)).astype("int64") if base.dtype == object \
        else ((base + extra) * sign).astype("int64")


# ----------------------------------------------------------------------------- text (one place for every explanation)

_DIGITS = 19  # an int64 has at most 19 digits
_DIGIT_COLUMN = 1 + np.arange(_DIGITS) + (np.arange(_DIGITS) + 2) // 3  # after the sign, commas between groups of three
_CHUNK = 1 << 17  # rows formatted at a time: bounds the character matrices (~40 MB)


def _format_chunk(v: np.ndarray, digits: int) -> np.ndarray:
    """int64 minor units -> str, through one matrix of code points per chunk: digits
    right-aligned with commas between groups of three, then shifted left (no Python call
    per value)."""
    n = len(v)
    whole, frac = np.divmod(np.abs(v), 10**digits)
    places = max(len(str(int(whole.max()))) if n else 1, 1)  # digit columns this chunk needs
    columns = _DIGIT_COLUMN[_DIGITS - places:] - _DIGIT_COLUMN[_DIGITS - places] + 1  # sign column first
    width = int(columns[-1]) + 1 + (1 + digits if digits else 0)
    m = np.zeros((n, width), dtype=np.uint32)
    rest = whole
    for k in range(places - 1, -1, -1):  # per digit place (a handful), least significant first
        rest, digit = np.divmod(rest, 10)
        m[:, columns[k]] = 48 + digit
    # blank the leading zeros (0 keeps one digit), then a comma after each group with a digit before it
    first = np.where(whole > 0, places - len_digits(whole), places - 1)
    shown = np.arange(places) >= first[:, None]
    m[:, columns] = np.where(shown, m[:, columns], 0)
    after = np.array([k for k in range(places - 1) if (places - 1 - k) % 3 == 0], dtype=np.int64)
    if len(after):
        m[:, columns[after] + 1] = np.where(shown[:, after], ord(","), 0)
    start = columns[first] - 1
    negative = v < 0
    m[np.flatnonzero(negative), start[negative]] = ord("-")
    if digits:
        m[:, int(columns[-1]) + 1] = ord(".")
        f = frac
        for j in range(digits - 1, -1, -1):
            f, digit = np.divmod(f, 10)
            m[:, int(columns[-1]) + 2 + j] = 48 + digit
    shift = np.where(negative, start, start + 1)
    index = np.minimum(np.arange(width) + shift[:, None], width)
    m = np.take_along_axis(np.pad(m, ((0, 0), (0, 1))), index, axis=1)
    return np.ascontiguousarray(m).view(f"U{width}").reshape(-1)


def len_digits(values: np.ndarray) -> np.ndarray:
    """Decimal digits of each positive int64 (searchsorted on powers of ten)."""
    return np.searchsorted(10 ** np.arange(1, _DIGITS, dtype=np.int64), values, side="right") + 1


def format_minor(values, currency: str) -> np.ndarray:
    """Minor units -> "12,345.00" (thousands separators, the currency's decimals), as an
    object array of str; vectorised (a million amounts in about a second)."""
    from transforms.money import exponent

    digits = exponent(currency)
    v = np.asarray(values, dtype="int64").reshape(-1)
    out = np.empty(len(v), dtype=object)
    for at in range(0, len(v), _CHUNK):
        out[at: at + _CHUNK] = _format_chunk(v[at: at + _CHUNK], digits)
    return out


def minor_text(minor: int, currency: str) -> str:
    """One amount in minor units as :func:`format_minor` writes it."""
    return format_minor([int(minor)], currency)[0]


def format_major(amount: Decimal) -> str:
    """A band bound in major units: "100,000" or "100,000.5"."""
    return f"{Decimal(amount).normalize():,f}"


def format_percent(rate: Decimal) -> str:
    """0.02 -> "2.00%", 0.0125 -> "1.25%", 0.00125 -> "0.125%"."""
    pct = (Decimal(rate) * 100).normalize()
    if pct.as_tuple().exponent > -2:
        pct = pct.quantize(Decimal("0.01"))
    return f"{pct:f}%"


def format_decimal(value) -> str:
    """An exact rate, multiplier or share as written: Decimal("1.50") -> "1.5"."""
    return f"{Decimal(value).normalize():f}"

