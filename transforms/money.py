"""Exact money: integer minor units, Decimal rates, one place that converts currency.

Conversions are vectorised over Python integers held in object arrays, so they
are exact at any size (no float, no int64 overflow) and need no per-row loop.
Rounding is half away from zero ("ROUND_HALF_UP" in :mod:`decimal` terms).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

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


def attach_rates(
    frame: pd.DataFrame,
    fx_rates: pd.DataFrame,
    date_column: str,
    currency_column: str,
    to_currency: str,
) -> pd.DataFrame:
    """Add ``fx_rate`` (Decimal): the rate from each row's currency to ``to_currency`` on the
    latest rate date on or before the row's date. Same-currency rows get rate 1.

    ``fx_rates`` has columns rate_date, from_currency, to_currency, rate. A row with no
    rate on or before its date raises ValueError naming the currency and date: nothing
    is converted on a guess.
    """
    out = frame.copy()
    fx_rate = np.full(len(out), Decimal(1), dtype=object)
    foreign = (out[currency_column] != to_currency).to_numpy()
    if not foreign.any():
        return out.assign(fx_rate=pd.Series(fx_rate, index=out.index, dtype=object))
    rates = fx_rates[fx_rates["to_currency"] == to_currency][["rate_date", "from_currency", "rate"]]
    rates = rates.assign(rate_date=pd.to_datetime(rates["rate_date"]).astype("datetime64[ns]")).sort_values("rate_date")
    # Positions, not labels: the caller's index need not be unique.
    left = (
        pd.DataFrame(
            {
                currency_column: out[currency_column].to_numpy()[foreign],
                "_day": pd.to_datetime(out[date_column]).to_numpy()[foreign],
                "_row": np.flatnonzero(foreign),
            }
        )
        .assign(_day=lambda f: pd.to_datetime(f["_day"]).astype("datetime64[ns]").dt.normalize())
        .sort_values("_day", kind="stable")
    )
    if left["_day"].isna().any():
        first = left[left["_day"].isna()].iloc[0]
        raise ValueError(f"no date to look up the FX rate {first[currency_column]}->{to_currency} for some rows")
    merged = pd.merge_asof(
        left,
        rates.rename(columns={"from_currency": currency_column}),
        left_on="_day",
        right_on="rate_date",
        by=currency_column,
        direction="backward",
    )
    missing = merged[merged["rate"].isna()]
    if not missing.empty:
        first = missing.iloc[0]
        raise ValueError(
            f"no FX rate {first[currency_column]}->{to_currency} on or before {first['_day'].date()}"
            f" ({len(missing)} row(s) affected); load fx_rates covering these dates"
        )
    fx_rate[merged["_row"].to_numpy()] = merged["rate"].to_numpy()
    return out.assign(fx_rate=pd.Series(fx_rate, index=out.index, dtype=object))
