"""Exact arithmetic for commissions: scaled integers, explicit rounding, exact allocation.

An exact amount is carried as an integer numerator over a power of ten (``value =
numerator / 10**scale`` minor units). Arrays are int64 when every product provably fits,
else object arrays of Python ints: exact at any size, still vectorised (no Python loop
per row). Rounding happens in one place, :func:`round_scaled`, in the mode the plan names.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

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
    array = np.asarray(values)
    if array.dtype == object:
        return array
    return array.astype(np.int64).astype(object)


def round_scaled(numerator, denominator: int, mode: str = "half_up") -> np.ndarray:
    """``numerator / denominator`` rounded to an integer in ``mode`` (``denominator`` > 0).

    Modes as in :mod:`decimal`: half_up (half away from zero), half_even (banker's),
    half_down (half toward zero), down (toward zero), up (away from zero), floor, ceiling.
    Returns int64.
    """
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r} (one of {', '.join(MODES)})")
    n = as_objects(numerator)
    if n.size == 0:
        return np.zeros(0, dtype="int64")
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


def allocate_rows(totals, weights, groups) -> np.ndarray:
    """:func:`allocate` per group, vectorised: rows sharing a ``groups`` code split that
    group's total (``totals`` repeated on every row of the group) by their ``weights``.
    Largest remainder within each group; ties to the earlier row."""
    totals = as_objects(totals)
    w = as_objects(weights)
    g = np.asarray(groups)
    n = len(w)
    if n == 0:
        return np.zeros(0, dtype="int64")
    import pandas as pd

    codes = pd.factorize(g)[0]
    sums = pd.Series(w).groupby(codes).transform(lambda s: sum(s.tolist())).to_numpy(dtype=object)
    zero = sums == 0
    if zero.any():
        w = np.where(zero, 1, w).astype(object)
        sums = pd.Series(w).groupby(codes).transform(lambda s: sum(s.tolist())).to_numpy(dtype=object)
    sign = np.where(totals < 0, -1, 1).astype(object)
    magnitude = totals * sign
    base = (w * magnitude) // sums
    remainder = w * magnitude - base * sums
    short = pd.Series(magnitude - 0).groupby(codes).transform("first").to_numpy(dtype=object) - pd.Series(
        base).groupby(codes).transform(lambda s: sum(s.tolist())).to_numpy(dtype=object)
    # rank rows within each group by remainder (desc), then position (asc)
    frame = pd.DataFrame({"g": codes, "r": [-int(x) for x in remainder], "i": np.arange(n)})
    frame = frame.sort_values(["g", "r", "i"], kind="stable")
    frame["rank"] = frame.groupby("g").cumcount()
    rank = np.empty(n, dtype=np.int64)
    rank[frame["i"].to_numpy()] = frame["rank"].to_numpy()
    extra = (rank < short.astype(np.int64)).astype(int)
    return (np.asarray(base + extra, dtype=object) * sign).astype("int64")
