"""Exact money: integer minor units, Decimal rates, one place that converts currency.

Conversions are vectorised over Python integers held in object arrays, so they
are exact at any size (no float, no int64 overflow) and need no per-row loop.
Rounding is half away from zero ("ROUND_HALF_UP" in :mod:`decimal` terms).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from transforms.exact import days_of

# ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0, "PYG": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}
RATE_SCALE = 10**12  # FX rates are carried as integers of 1e-12


def exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Decimal, currency: str) -> int:
    """A major-unit Decimal -> integer minor units; refuses to round away precision."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows ({exponent(currency)})")
    return int(scaled)


def round_to_minor(amount: Decimal, currency: str) -> int:
    """A major-unit Decimal -> integer minor units, rounding half away from zero."""
    return int(amount.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent(currency))


def _div_round_half_up(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """Exact integer division of Python ints, rounding half away from zero (object arrays)."""
    sign = np.where(numerator < 0, -1, 1).astype(object)
    magnitude = numerator * sign
    return sign * ((magnitude + denominator // 2) // denominator)


def rate_to_scaled(rates: pd.Series) -> np.ndarray:
    """Decimal rates -> Python ints of 1e-12 (object array), refusing rates finer than that."""
    out = np.empty(len(rates), dtype=object)
    for i, r in enumerate(rates.tolist()):  # one pass over distinct-ish rates; cheap next to the rows
        scaled = Decimal(r).scaleb(12)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"FX rate {r} has more than 12 decimal places")
        out[i] = int(scaled)
    return out


def convert_minor(
    amount_minor: pd.Series,
    from_currency: pd.Series,
    rate: pd.Series,
    to_currency: str,
) -> pd.Series:
    """Convert minor units row by row: ``amount x rate`` into ``to_currency`` minor units.

    ``rate`` is a Series of Decimal (1 unit of from = rate units of to). Exact:
    the product is formed in Python integers and rounded once, half away from zero.
    """
    if amount_minor.empty:
        return pd.Series([], dtype="int64", index=amount_minor.index)
    if rate.isna().any():
        raise ValueError("missing FX rate for some rows")
    amounts = amount_minor.astype("int64").to_numpy().astype(object)
    # Rates repeat heavily (one per currency and day): scale the distinct ones only. Decimal
    # hashes by value (Decimal("7.10") == Decimal("7.1")), so factorizing the objects is exact.
    codes, uniques = pd.factorize(rate.to_numpy(dtype=object), sort=False)
    scaled_rates = rate_to_scaled(pd.Series(list(uniques), dtype=object))[codes]
    target_exp = exponent(to_currency)
    cur_codes, cur_uniques = pd.factorize(from_currency.to_numpy(dtype=object), sort=False)
    src_exp = np.array([exponent(c) for c in cur_uniques], dtype=np.int64)[cur_codes]
    shift = target_exp - src_exp  # may differ per row (JPY -> CNY)
    numer = amounts * scaled_rates
    result = np.empty(len(numer), dtype=object)
    for s in np.unique(shift):
        mask = shift == s
        if s >= 0:
            result[mask] = _div_round_half_up(numer[mask] * (10 ** int(s)), RATE_SCALE)
        else:
            result[mask] = _div_round_half_up(numer[mask], RATE_SCALE * 10 ** int(-s))
    return pd.Series(result.astype("int64"), index=amount_minor.index)


DEFAULT_PIVOT = "USD"  # cross rates go through this currency unless the workspace names another
_RANKS = ("direct", "inverse", "cross")  # on one rate date, the first that exists is used


def _rate_legs(fx: pd.DataFrame, to_currency: str, currencies) -> pd.DataFrame:
    """Every rate from each of ``currencies`` into ``to_currency`` that the rows give without
    a third currency: the direct rows (c->to) and the inverses of the opposite ones (to->c).

    A rate is carried as an exact fraction ``num / den`` of Python ints (direct: rate x 1e12
    over 1e12; inverse: 1e12 over rate x 1e12), so a cross rate built from two legs is
    still exact until it is rounded once. On one date a direct rate beats an inverse one.
    """
    wanted = set(currencies) - {to_currency}
    direct = fx[(fx["to_currency"] == to_currency) & fx["from_currency"].isin(wanted)]
    inverse = fx[(fx["from_currency"] == to_currency) & fx["to_currency"].isin(wanted)]
    inverse = inverse[inverse["scaled"].to_numpy(dtype=object) > 0]  # a zero rate has no inverse
    days = lambda f: f["rate_date"].dt.strftime("%Y-%m-%d")  # noqa: E731
    legs = _concat(
        [
            pd.DataFrame({
                "currency": direct["from_currency"].to_numpy(dtype=object), "rate_date": direct["rate_date"].to_numpy(),
                "num": direct["scaled"].to_numpy(dtype=object), "den": np.full(len(direct), RATE_SCALE, dtype=object),
                "rank": 0, "rate": direct["rate"].to_numpy(dtype=object),
                "basis": (direct["from_currency"] + "->" + to_currency + " " + days(direct)).to_numpy(dtype=object),
            }),
            pd.DataFrame({
                "currency": inverse["to_currency"].to_numpy(dtype=object), "rate_date": inverse["rate_date"].to_numpy(),
                "num": np.full(len(inverse), RATE_SCALE, dtype=object), "den": inverse["scaled"].to_numpy(dtype=object),
                "rank": 1, "rate": np.full(len(inverse), None, dtype=object),
                "basis": ("1/(" + to_currency + "->" + inverse["to_currency"] + " " + days(inverse) + ")").to_numpy(dtype=object),
            }),
        ]
    )
    return _best_per_date(legs)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rate legs stacked; empty parts left out (they would blur the column types)."""
    kept = [f for f in frames if len(f)]
    return pd.concat(kept, ignore_index=True) if kept else frames[0].iloc[0:0]


def _best_per_date(legs: pd.DataFrame) -> pd.DataFrame:
    """One rate per currency and date, the lowest rank (direct, inverse, cross) first; sorted by date."""
    legs = legs.assign(rate_date=days_of(legs["rate_date"]))
    best = legs.sort_values(["currency", "rate_date", "rank"], kind="stable").drop_duplicates(["currency", "rate_date"])
    return best.sort_values("rate_date", kind="stable").reset_index(drop=True)


def _cross_legs(fx: pd.DataFrame, to_currency: str, currencies, pivot: str) -> pd.DataFrame:
    """Rates c->to through ``pivot`` (c->pivot x pivot->to, each leg direct or inverse), one per
    date on which either leg changes: the product of the two legs in force on that date."""
    wanted = sorted(set(currencies) - {to_currency, pivot})
    empty = pd.DataFrame(columns=["currency", "rate_date", "num", "den", "rank", "rate", "basis"])
    if pivot == to_currency or not wanted:
        return empty
    first = _rate_legs(fx, pivot, wanted)  # c -> pivot
    second = _rate_legs(fx, to_currency, [pivot])  # pivot -> to
    if first.empty or second.empty:
        return empty
    grid = pd.concat(
        [first[["currency", "rate_date"]],
         pd.MultiIndex.from_product([first["currency"].unique(), second["rate_date"].unique()],
                                    names=["currency", "rate_date"]).to_frame(index=False)],
        ignore_index=True,
    ).drop_duplicates().assign(rate_date=lambda f: days_of(f["rate_date"]))
    grid = grid.sort_values("rate_date", kind="stable")
    legs = pd.merge_asof(grid, first[["currency", "rate_date", "num", "den", "basis"]].rename(columns={"rate_date": "_d1"}),
                         left_on="rate_date", right_on="_d1", by="currency", direction="backward")
    legs = pd.merge_asof(legs, second[["rate_date", "num", "den", "basis"]].rename(columns={"rate_date": "_d2"}),
                         left_on="rate_date", right_on="_d2", direction="backward", suffixes=("", "_2"))
    legs = legs[legs["_d1"].notna() & legs["_d2"].notna()]
    return pd.DataFrame({
        "currency": legs["currency"].to_numpy(dtype=object), "rate_date": legs["rate_date"].to_numpy(),
        "num": legs["num"].to_numpy(dtype=object) * legs["num_2"].to_numpy(dtype=object),
        "den": legs["den"].to_numpy(dtype=object) * legs["den_2"].to_numpy(dtype=object),
        "rank": 2, "rate": np.full(len(legs), None, dtype=object),
        "basis": ("via " + pivot + ": " + legs["basis"] + " x " + legs["basis_2"]).to_numpy(dtype=object),
    })


def rate_table(fx_rates: pd.DataFrame, currencies, to_currency: str, pivot: str = DEFAULT_PIVOT,
               days: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> pd.DataFrame:
    """Every rate date on which 1 unit of each of ``currencies`` has a rate into ``to_currency``:
    columns currency, rate_date, rate (Decimal), method (direct | inverse | cross) and basis
    (the rows it comes from, e.g. ``1/(CNY->USD 2026-11-02)`` or ``via USD: EUR->USD 2026-11-02
    x USD->CNY 2026-11-02``), sorted by rate_date.

    On one rate date a direct row wins over the inverse of the opposite row, which wins over a
    cross rate through ``pivot``. A derived rate is exact up to one rounding, half away from
    zero, to 12 decimal places (the precision rates are carried in, :data:`RATE_SCALE`).

    ``days`` (first, last): only the rates that can be in force on those days and between
    them are built (:func:`_in_force_between`), so that the cost follows the days looked up,
    not the length of the FX history.
    """
    fx = fx_rates[["rate_date", "from_currency", "to_currency", "rate"]]
    involved = set(currencies) | {to_currency, pivot}
    fx = fx[fx["from_currency"].isin(involved) & fx["to_currency"].isin(involved)]
    fx = fx.assign(rate_date=_midnights(fx["rate_date"]))
    if days is not None:
        fx = _in_force_between(fx, *days)
    fx = fx.assign(scaled=_scaled_distinct(fx["rate"]))
    legs = _concat([_rate_legs(fx, to_currency, currencies), _cross_legs(fx, to_currency, currencies, pivot)])
    best = _best_per_date(legs)
    derived = best["rate"].isna().to_numpy()
    rate = best["rate"].to_numpy(dtype=object).copy()
    if derived.any():
        num = best["num"].to_numpy(dtype=object)[derived] * RATE_SCALE
        scaled = _div_round_half_up_by(num, best["den"].to_numpy(dtype=object)[derived])
        rate[derived] = [_plain(Decimal(int(s)).scaleb(-12)) for s in scaled]
    ranks = best["rank"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "currency": best["currency"].to_numpy(dtype=object), "rate_date": best["rate_date"].to_numpy(),
        "rate": rate, "method": np.array(_RANKS, dtype=object)[ranks], "basis": best["basis"].to_numpy(dtype=object),
    })


def _midnights(values) -> np.ndarray:
    """Dates or timestamps as midnight ``datetime64[ns]`` (:func:`transforms.exact.days_of`, floored to the day)."""
    return days_of(values).astype("datetime64[D]").astype("datetime64[ns]")


def _in_force_between(fx: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """The rows of ``fx`` (normalised ``rate_date``) that can decide a rate in force on a day of
    ``[first, last]``: none dated after ``last``, none dated before ``floor``, the earliest of
    the currency pairs' latest dates on or before ``first``.

    Why nothing is lost: on a day ``d >= first`` the rate in force is the best row of the latest
    rate date ``<= d`` among a currency's legs (direct, inverse, or a cross through the pivot,
    whose legs are in force on that date). Every pair with a row on or before ``first`` has its
    latest such row at or after ``floor``, so that latest date, and every leg in force on it, is
    at or after ``floor`` too; a pair with no row on or before ``first`` keeps all of its rows.
    """
    fx = fx[(fx["rate_date"] <= last).to_numpy()]
    before = fx[(fx["rate_date"] <= first).to_numpy()]
    if before.empty:
        return fx
    floor = before.groupby(["from_currency", "to_currency"], sort=False)["rate_date"].max().min()
    return fx[(fx["rate_date"] >= floor).to_numpy()]


def _plain(value: Decimal) -> Decimal:
    """Trailing zeros dropped, never an exponent (``8``, ``190``, ``7.100003550002``)."""
    normal = value.normalize()
    return normal if normal.as_tuple().exponent <= 0 else normal.quantize(Decimal(1))


def _scaled_distinct(rates: pd.Series) -> np.ndarray:
    """:func:`rate_to_scaled` of each distinct rate once (rates repeat per currency and day)."""
    codes, uniques = pd.factorize(rates.to_numpy(dtype=object), sort=False)
    if (codes < 0).any():
        raise ValueError("an FX rate row has no rate")
    return rate_to_scaled(pd.Series(list(uniques), dtype=object))[codes]


def _div_round_half_up_by(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Row by row exact division of positive Python ints, rounding half away from zero."""
    quotient = numerator // denominator
    remainder = numerator - quotient * denominator
    return quotient + (2 * remainder >= denominator).astype(object)


def attach_rates(
    frame: pd.DataFrame,
    fx_rates: pd.DataFrame,
    date_column: str,
    currency_column: str,
    to_currency: str,
    pivot: str = DEFAULT_PIVOT,
) -> pd.DataFrame:
    """Add ``fx_rate`` (Decimal): the rate from each row's currency to ``to_currency`` on the
    latest rate date on or before the row's date, and ``fx_basis`` (text): where it comes
    from (:func:`rate_table`: a direct row, the inverse of the opposite row, or a cross rate
    through ``pivot``). Same-currency rows get rate 1 and no basis.

    ``fx_rates`` has columns rate_date, from_currency, to_currency, rate. A row with no
    rate on or before its date raises ValueError naming the currency and date: nothing
    is converted on a guess.
    """
    out = frame.copy()
    fx_rate = np.full(len(out), Decimal(1), dtype=object)
    fx_basis = np.full(len(out), None, dtype=object)
    foreign = (out[currency_column] != to_currency).to_numpy()
    if not foreign.any():
        return out.assign(fx_rate=pd.Series(fx_rate, index=out.index, dtype=object),
                          fx_basis=pd.Series(fx_basis, index=out.index, dtype=object))
    # Positions, not labels: the caller's index need not be unique.
    left = (
        pd.DataFrame(
            {
                currency_column: out[currency_column].to_numpy()[foreign],
                "_day": days_of(out[date_column])[foreign],
                "_row": np.flatnonzero(foreign),
            }
        )
        .assign(_day=lambda f: _midnights(f["_day"]))
        .sort_values("_day", kind="stable")
    )
    if left["_day"].isna().any():
        first = left[left["_day"].isna()].iloc[0]
        raise ValueError(f"no date to look up the FX rate {first[currency_column]}->{to_currency} for some rows")
    days = left["_day"].to_numpy()
    rates = rate_table(fx_rates, left[currency_column].unique(), to_currency, pivot,
                       days=(pd.Timestamp(days[0]), pd.Timestamp(days[-1])))
    # merge positions into the (small) rate table, not its object columns: far less to copy per row
    merged = pd.merge_asof(
        left,
        pd.DataFrame({currency_column: rates["currency"].to_numpy(dtype=object), "rate_date": rates["rate_date"].to_numpy(),
                      "_rate_row": np.arange(len(rates), dtype=np.float64)}),
        left_on="_day",
        right_on="rate_date",
        by=currency_column,
        direction="backward",
    )
    missing = merged[merged["_rate_row"].isna()]
    if not missing.empty:
        first = missing.iloc[0]
        currency = first[currency_column]
        through = f", none through {pivot}" if pivot not in (currency, to_currency) else ""
        raise ValueError(
            f"no FX rate {currency}->{to_currency} on or before {first['_day'].date()}"
            f" ({len(missing)} row(s) affected): none direct, none {to_currency}->{currency} to invert{through};"
            " load fx_rates covering these dates"
        )
    found, rows = merged["_rate_row"].to_numpy().astype(np.int64), merged["_row"].to_numpy()
    fx_rate[rows] = rates["rate"].to_numpy(dtype=object)[found]
    fx_basis[rows] = rates["basis"].to_numpy(dtype=object)[found]
    return out.assign(fx_rate=pd.Series(fx_rate, index=out.index, dtype=object),
                      fx_basis=pd.Series(fx_basis, index=out.index, dtype=object))
