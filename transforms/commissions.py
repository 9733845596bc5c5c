"""Monthly commissions: credited transactions -> explained lines -> per-member totals.

1. :func:`credits_for_month` - every credited transaction of the month: orders placed
   (positive base = revenue in the team's base currency) and refunds/cancellations dated
   in it (negative base), each with the member it is credited to and the FX rate used.
   :func:`transforms.commission_credits.plan_credits` adds what plans may look at
   (customer class, stage events, gross profit, collections) over several months.
2. :func:`commission_lines` - the plan in effect for the month (:mod:`config.plans`,
   effective-dated) turns the credits into explained lines: the engine is
   :mod:`transforms.commission_engine` (every scheme, exact, rounded once per line on the
   member's running total so lines telescope to the rounded exact total).
3. :func:`commission_summary` / :func:`month_to_date` - totals per member;
   :func:`closing_adjustments` - a rerun of a closed month as adjustment lines;
   :func:`month_result` - what the monthly flow stores and shows.

:class:`Schedule` / :func:`schedule_for` describe a flat or marginal plan as an exact
function ``F`` of the month-to-date base (used by the benchmark's reference engine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Callable

import numpy as np
import pandas as pd

from config.models import Commission, CommissionPlan
from transforms.exact import (
    combination_codes,
    days_of,
    format_decimal,
    format_major,
    format_minor,
    format_percent,
    minor_text,
    renumbered,
)
from transforms.facts import Facts, sales_facts
from transforms.money import exponent, to_minor
from transforms.periods import Period, in_period, parse_period
from transforms.schema import (
    COMMISSION_LINES,
    COMMISSION_LINES_EXTRA,
    COMMISSION_SUMMARY,
    CREDITS,
    MONTH_TO_DATE,
    SalesData,
    require_columns,
)

log = logging.getLogger(__name__)

BLENDED_RATE_PLACES = Decimal("1e-10")
_INT64_SAFE = 2**62


# ----------------------------------------------------------------------------- credits


def credits_for_month(data: SalesData, month: Period, facts: Facts | None = None) -> pd.DataFrame:
    """CREDITS: each attributed order placed in ``month`` (base = its revenue in the team's
    base currency, positive) and each attributed refund or cancellation dated in it (base =
    minus the amount refunded, credited to the refund's member, else its order's member).

    Cancelled orders are not credited, and neither are refunds of cancelled orders (the
    order never counted). Unattributed orders and refunds earn no commission.
    """
    if month.kind != "month":
        raise ValueError(f"commissions are monthly; got the {month.kind} {month.label}")
    facts = sales_facts(data) if facts is None else facts
    o, r = facts.orders, facts.refunds
    placed = np.flatnonzero((in_period(o["order_day"], month) & ~o["cancelled"] & o["attributed"]).to_numpy())
    refunded = np.flatnonzero((in_period(r["refund_day"], month) & r["counted"] & r["attributed"]).to_numpy())

    def take(frame: pd.DataFrame, rows: np.ndarray, column: str) -> np.ndarray:
        return frame[column].to_numpy()[rows]

    columns = {
        "month": np.full(len(placed) + len(refunded), month.label, dtype=object),
        "member_id": np.concatenate([take(o, placed, "member_id"), take(r, refunded, "member_id")]),
        "team_id": np.concatenate([take(o, placed, "team_id"), take(r, refunded, "team_id")]),
        "kind": np.concatenate([np.full(len(placed), "order", dtype=object), take(r, refunded, "kind")]),
        "source": np.concatenate([take(o, placed, "source"), take(r, refunded, "source")]),
        "record_id": np.concatenate([take(o, placed, "order_id"), take(r, refunded, "refund_id")]),
        "order_source": np.concatenate([take(o, placed, "source"), take(r, refunded, "order_source")]),
        "order_id": np.concatenate([take(o, placed, "order_id"), take(r, refunded, "order_id")]),
        "credited_at": np.concatenate([take(o, placed, "ordered_at"), take(r, refunded, "refunded_at")]),
        "credited_date": np.concatenate([take(o, placed, "order_day"), take(r, refunded, "refund_day")]),
        "base_minor": np.concatenate([take(o, placed, "revenue_minor"), -take(r, refunded, "amount_minor")]).astype("int64"),
        "currency": np.concatenate([take(o, placed, "currency"), take(r, refunded, "currency")]),
        "fx_rate": np.concatenate([take(o, placed, "fx_rate"), take(r, refunded, "fx_rate")]),
        "original_currency": np.concatenate([take(o, placed, "order_currency"), take(r, refunded, "original_currency")]),
        "original_amount_minor": np.concatenate(
            [take(o, placed, "revenue_original_minor"), -take(r, refunded, "amount_original_minor")]
        ).astype("int64"),
    }
    return pd.DataFrame(columns)[list(CREDITS)]


# ----------------------------------------------------------------------------- plans


def assign_plans(members: pd.DataFrame, commission: Commission) -> pd.Series:
    """member_id -> plan_id (None when no plan applies).

    Precedence: a plan listing the member in ``members``; then a plan whose ``roles`` hold
    the member's role; then ``default_plan``; then the one plan restricted by neither
    members nor roles (roles None = any), if there is exactly one. A member listed by two
    plans, or whose role two plans claim, is a configuration error (ValueError).
    """
    require_columns(members, ("member_id", "role"), "members")
    people = members.drop_duplicates("member_id", keep="last")
    ids = pd.Index(people["member_id"].to_numpy(dtype=object), name="member_id")
    roles = pd.Series(people["role"].to_numpy(dtype=object), index=ids)
    explicit: dict[str, str] = {}
    by_role: dict[str, str] = {}
    for plan in commission.plans:
        for member in plan.members or ():
            if member in explicit and explicit[member] != plan.plan_id:
                raise ValueError(f"commission: member {member!r} is listed by plans {explicit[member]!r} and {plan.plan_id!r}")
            explicit[member] = plan.plan_id
        for role in plan.roles or ():
            if role in by_role and by_role[role] != plan.plan_id:
                raise ValueError(f"commission: role {role!r} is claimed by plans {by_role[role]!r} and {plan.plan_id!r}")
            by_role[role] = plan.plan_id
    unrestricted = [p.plan_id for p in commission.plans if p.roles is None and p.members is None]
    fallback = commission.default_plan or (unrestricted[0] if len(unrestricted) == 1 else None)
    plan = pd.Series(ids.map(explicit), index=ids, dtype=object)
    plan = plan.where(plan.notna(), roles.map(by_role))
    plan = plan.where(plan.notna(), fallback)
    return plan.astype(object).where(plan.notna(), None).rename("plan_id")


def members_without_plan(credits: pd.DataFrame, members: pd.DataFrame, commission: Commission) -> pd.DataFrame:
    """Members with credits this month but no plan: they are paid nothing and must be listed
    (member_id, team_id, role, credits, base_minor, currency)."""
    require_columns(credits, CREDITS, "credits")
    plans = assign_plans(members, commission)
    plan = credits["member_id"].map(plans)
    unpaid = credits[plan.isna().to_numpy()]
    roles = members.drop_duplicates("member_id", keep="last").set_index("member_id")["role"]
    out = unpaid.groupby(["member_id", "team_id", "currency"], dropna=False).agg(
        credits=("base_minor", "size"), base_minor=("base_minor", "sum")
    ).reset_index()
    return out.assign(role=out["member_id"].map(roles))[["member_id", "team_id", "role", "credits", "base_minor", "currency"]]


# ----------------------------------------------------------------------------- exact schedules


@dataclass(frozen=True)
class Schedule:
    """A marginal rate schedule on a cumulative base in minor units.

    Band ``i`` covers ``[lower[i], lower[i+1])``; the first band extends below 0 (so a
    refund-driven negative cumulative is clawed back at the first rate and ``F`` stays
    continuous) and the last is open. ``F(x) = sum_i rate_i * |band_i ∩ [0, x)|``, computed
    as ``rate_0 * x + sum_{i>0} (rate_i - rate_{i-1}) * max(x - lower_i, 0)`` in integers
    scaled by ``10**places``.
    """

    lower: tuple[int, ...]
    rates: tuple[Decimal, ...]
    labels: tuple[str, ...]

    @property
    def places(self) -> int:
        return max(max(0, -r.normalize().as_tuple().exponent) for r in self.rates)

    def _scaled_rates(self) -> list[int]:
        scale = Decimal(10) ** self.places
        return [int(r * scale) for r in self.rates]

    def commission_scaled(self, cumulative) -> np.ndarray:
        """Exact ``F(x) * 10**places`` for an array of cumulative bases (Python ints or int64)."""
        x = np.asarray(cumulative)
        rates = self._scaled_rates()
        slopes = [rates[0]] + [b - a for a, b in zip(rates, rates[1:])]
        bound = int(np.abs(x).max()) if x.size else 0
        bound += max(self.lower) if self.lower else 0
        if bound * sum(abs(s) for s in slopes) < _INT64_SAFE:
            x = x.astype("int64")
            total = slopes[0] * x
            for slope, lo in zip(slopes[1:], self.lower[1:]):
                total = total + slope * np.maximum(x - lo, 0)
            return total
        x = x.astype(object)
        total = x * slopes[0]
        for slope, lo in zip(slopes[1:], self.lower[1:]):
            total = total + np.maximum(x - lo, 0) * slope
        return total

    def commission_minor(self, cumulative) -> np.ndarray:
        """``round(F(x))`` in minor units, half away from zero (int64)."""
        scaled = self.commission_scaled(cumulative)
        denominator = 10**self.places
        if scaled.dtype == object:
            sign = np.where(scaled < 0, -1, 1).astype(object)
            return (sign * ((scaled * sign + denominator // 2) // denominator)).astype("int64")
        return (np.sign(scaled) * ((np.abs(scaled) + denominator // 2) // denominator)).astype("int64")

    def band_of(self, values) -> np.ndarray:
        """Index of the band holding each minor-unit value (values below 0: band 0)."""
        return np.searchsorted(np.asarray(self.lower[1:], dtype="int64"), np.asarray(values, dtype="int64"), side="right")


def schedule_for(plan: CommissionPlan, currency: str) -> Schedule:
    """The plan's schedule in ``currency`` minor units (tier bounds are major units of the
    team's base currency)."""
    if plan.kind == "flat":
        return Schedule(lower=(0,), rates=(Decimal(plan.rate),), labels=(f"flat @ {format_percent(plan.rate)}",))
    lower, labels = [0], []
    previous = Decimal(0)
    for tier in plan.tiers:
        if tier.up_to is None:
            labels.append(f"{format_major(previous)}+ @ {format_percent(tier.rate)}")
        else:
            try:
                lower.append(to_minor(Decimal(tier.up_to), currency))
            except ValueError as exc:
                raise ValueError(f"commission plan {plan.plan_id!r}: tier bound {tier.up_to}: {exc}") from None
            labels.append(f"{format_major(previous)}–{format_major(Decimal(tier.up_to))} @ {format_percent(tier.rate)}")
            previous = Decimal(tier.up_to)
    return Schedule(lower=tuple(lower[: len(plan.tiers)]), rates=tuple(Decimal(t.rate) for t in plan.tiers), labels=tuple(labels))


# ----------------------------------------------------------------------------- rules


# ----------------------------------------------------------------------------- lines


def processing_order(credits: pd.DataFrame) -> np.ndarray:
    """Positions of ``credits`` in processing order: per member by credited_at, ties by
    order id, an order before refunds of the same instant, then record id.

    Sorted on integer keys; the string tie-breakers are only sorted for the rows that tie on
    (member, credited_at), which is all of them only when sources give dates without times.
    """
    member = pd.factorize(credits["member_id"].to_numpy(dtype=object), sort=True)[0]
    at = credits["credited_at"].to_numpy().astype("datetime64[ns]").view("int64")
    primary = np.lexsort((at, member))
    m, t = member[primary], at[primary]
    same = (m[1:] == m[:-1]) & (t[1:] == t[:-1])
    if not same.any():
        return primary
    tied_slot = np.zeros(len(primary), dtype=bool)
    tied_slot[1:] |= same
    tied_slot[:-1] |= same
    tied = primary[tied_slot]
    keys = pd.DataFrame(
        {
            "member": member[tied],
            "at": at[tied],
            "order_id": credits["order_id"].to_numpy(dtype=object)[tied],
            "refund": (credits["kind"].to_numpy(dtype=object)[tied] != "order").astype("int8"),
            "record_id": credits["record_id"].to_numpy(dtype=object)[tied],
        }
    )
    ranked = keys.sort_values(list(keys.columns), kind="stable", na_position="last").index.to_numpy()
    result = primary.copy()
    result[tied_slot] = tied[ranked]  # tie groups keep their slots; only their inner order changes
    return result


def _check_base_currency(credits: pd.DataFrame, teams: pd.DataFrame) -> None:
    """Tier bounds are in the team's base currency: a credit in another currency (credits
    computed before the team's base currency changed) would be banded wrongly."""
    base = credits["team_id"].map(teams.drop_duplicates("team_id").set_index("team_id")["base_currency"])
    wrong = base.notna() & (base != credits["currency"])
    if wrong.any():
        first = credits[wrong.to_numpy()].iloc[0]
        raise ValueError(
            f"credit {first['record_id']} of team {first['team_id']} is in {first['currency']}, but the team's base "
            f"currency is {base[wrong].iloc[0]}; recompute the credits"
        )


def commission_lines(
    credits: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    commission: Commission,
    month: Period,
    inputs: "PlanInputs | None" = None,
) -> pd.DataFrame:
    """COMMISSION_LINES (+ extras): every explained line of ``month`` for members with a plan.

    Credits of members without a plan get no line (see :func:`members_without_plan`; a
    warning is logged). The plan in effect in ``month`` is used (effective-dated versions).
    Per member the lines come in statement order: credit lines in processing order
    (:func:`processing_order`) with clawbacks, then stage releases, project shares,
    month-level lines (attainment, evaluation, cap / floor), pool shares and the draw.
    Amounts are exact and rounded once per line on the running total (see
    :mod:`transforms.commission_engine`); ``inputs`` carries targets, scores, FX rates
    and earlier lines for the plans that need them. ``credits`` may hold earlier months
    (stages and clawbacks look back); only ``month``'s lines are returned.
    """
    from transforms.commission_engine import PlanInputs, compute_month

    require_columns(credits, CREDITS, "credits")
    require_columns(teams, ("team_id", "base_currency"), "teams")
    _check_base_currency(credits, teams)
    return finish_lines(compute_month(credits, members, teams, commission, month, inputs or PlanInputs()), month)


_SECTION = {"credit": 0, "clawback": 0, "release": 1, "project": 2, "member": 3, "pool": 4, "draw": 5, "adjustment": 6}
LINE_DEFAULTS = {
    "plan_id": None, "order_source": None, "order_id": None, "credited_at": pd.NaT, "rule": None, "band": None,
    "base_minor": 0, "rate": None, "fx_rate": None, "amount_minor": 0, "currency": None, "team_id": None, "kind": None,
    "record_id": None, "credited_date": pd.NaT, "cumulative_base_minor": 0, "multiplier": None, "held_minor": 0,
    "customer_class": None, "role": None, "plan_currency": None, "payout_fx_rate": None, "share": None,
    "line_type": "credit", "stage": None, "multiplier_reason": None, "detail": None, "earned_in": None, "adjusts_month": None, "project_id": None,
    "earned_minor": None, "clawed_minor": None, "found": True, "cost_unknown": False, "original_currency": None,
    "original_amount_minor": None,
}


LINE_COLUMNS = frozenset(LINE_DEFAULTS) | frozenset(COMMISSION_LINES + COMMISSION_LINES_EXTRA)  # what finish_lines reads


def finish_lines(raw: pd.DataFrame, month: Period) -> pd.DataFrame:
    """Engine lines -> COMMISSION_LINES + extras, ordered per member, with running totals and
    an explanation on every line."""
    columns = list(COMMISSION_LINES + COMMISSION_LINES_EXTRA)
    if raw is None or raw.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        for c in ("base_minor", "amount_minor", "cumulative_base_minor", "cumulative_amount_minor", "held_minor"):
            empty[c] = empty[c].astype("int64")
        empty["credited_date"] = empty["credited_date"].astype("datetime64[ns]")
        empty["credited_at"] = empty["credited_at"].astype("datetime64[ns]")
        return empty
    # statement order, read from two columns; the one copy taken in that order holds only the
    # columns the lines keep or explain themselves from (``raw`` is left as it was)
    types = raw["line_type"] if "line_type" in raw.columns else pd.Series(LINE_DEFAULTS["line_type"], index=raw.index)
    section = types.fillna(LINE_DEFAULTS["line_type"]).map(_SECTION).fillna(9).to_numpy()
    member_code = pd.factorize(raw["member_id"].to_numpy(dtype=object), sort=True)[0]
    order = np.lexsort((np.arange(len(raw)), section, member_code))
    lines = renumbered(raw.iloc[order, [i for i, c in enumerate(raw.columns) if c in LINE_COLUMNS]])
    del raw
    for col, default in LINE_DEFAULTS.items():
        if col not in lines.columns:
            lines[col] = default
        elif default is not None and not isinstance(default, type(pd.NaT)) and lines[col].isna().any():
            lines[col] = lines[col].where(lines[col].notna(), default)
    lines["month"] = month.label
    for col in ("base_minor", "amount_minor", "held_minor"):
        lines[col] = pd.array(lines[col].to_numpy(), dtype="Int64").fillna(0).astype("int64")
    lines["cumulative_amount_minor"] = lines.groupby("member_id", sort=False)["amount_minor"].cumsum().astype("int64")
    credit = lines["line_type"].isin(["credit"]).to_numpy()
    cum_base = pd.Series(np.where(credit, lines["cumulative_base_minor"].to_numpy(dtype=object), None), dtype="Int64")
    lines["cumulative_base_minor"] = cum_base.groupby(lines["member_id"].to_numpy(dtype=object)).ffill().fillna(0).astype("int64").to_numpy()
    for col in ("credited_date", "credited_at"):
        lines[col] = days_of(lines[col])
    lines["explanation"] = explanations(lines)
    extra = [c for c in LINE_DEFAULTS if c not in columns and c in lines.columns and c not in ("detail", "found", "cost_unknown")]
    return lines[columns + extra]


EXPLANATION_CHUNK = 200_000  # lines explained at once (bounds the memory of the sentence pieces)
_KIND_WORDS = {"order": "Order", "refund": "Refund", "cancellation": "Cancellation"}


def _text_by_value(values: np.ndarray, render: Callable[[object], str]) -> np.ndarray:
    """``render`` each distinct value once (days, kinds, bands, rates repeat heavily)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.array([render(u) for u in uniques], dtype=object)[codes]


def _money_text(lines: pd.DataFrame, column: str, currencies=None, rows=None) -> np.ndarray:
    """``column`` formatted in each row's currency (``currencies``, where missing the line's
    ``currency``); only ``rows`` (a mask) when given. Reads the two columns, not a copy of the lines."""
    out = np.full(len(lines), "", dtype=object)
    if column not in lines:
        return out
    where = np.arange(len(lines)) if rows is None else np.flatnonzero(np.asarray(rows, dtype=bool))
    if not len(where):
        return out
    values = pd.array(lines[column].to_numpy()[where], dtype="Int64").fillna(0).to_numpy("int64")
    own = lines["currency"].to_numpy(dtype=object)[where]
    if currencies is None:
        currencies = own
    else:
        currencies = np.asarray(currencies, dtype=object)[where]
        currencies = np.where(pd.isna(currencies), own, currencies)
    for currency, positions in pd.Series(currencies).groupby(currencies, sort=False).indices.items():
        out[where[positions]] = format_minor(values[positions], currency)
    return out


def _str(values) -> np.ndarray:
    """Values as their ``str`` (what an f-string prints: None -> "None"), without a Python
    call per value when they are strings already."""
    series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    return series.astype(str).to_numpy(dtype=object)


def _join(*parts) -> np.ndarray:
    """Elementwise concatenation of str arrays (and str constants): one C loop per part."""
    out = np.asarray(parts[0], dtype=object)
    for part in parts[1:]:
        out = out + (part if isinstance(part, str) else np.asarray(part, dtype=object))
    return out


def _credit_rule_text(lines: pd.DataFrame, rows: np.ndarray, get) -> np.ndarray:
    """The rule part of credit and project lines (band or flat rate, cost unknown, weight and
    why), rendered once per distinct combination and mapped back."""
    bands, rates, cost_unknown = get("band")[rows], get("rate")[rows], get("cost_unknown", False)[rows]
    multiplier, klass, role = get("multiplier")[rows], get("customer_class")[rows], get("role")[rows]
    project = get("line_type", "credit")[rows] == "project"
    code, first = combination_codes(bands, rates, cost_unknown, multiplier, klass, role, project)

    def render(i: int) -> str:
        if pd.notna(bands[i]):
            text = f"band {bands[i]}"
        else:
            text = f"flat rate {format_percent(rates[i])}" if pd.notna(rates[i]) else "no rate"
        if cost_unknown[i] is True or (cost_unknown[i] is not None and cost_unknown[i] == True):  # noqa: E712
            text = "cost unknown: no commission until every line of the order has a cost"
        mult = multiplier[i]
        if mult is not None and pd.notna(mult) and not project[i]:
            why = []
            if isinstance(klass[i], str):
                why.append(f"{klass[i].replace('_', ' ')} customer")
            if isinstance(role[i], str):
                why.append(f"role {role[i]}")
            text += f" × {format_decimal(mult)}" + (f" ({', '.join(why)})" if why else "")
        return text

    return np.array([render(i) for i in first], dtype=object)[code]


def explanations(lines: pd.DataFrame) -> np.ndarray:
    """One English sentence per line, from its fields (reports translate from the fields):
    ``Order A123 (2026-10-04): base 12,345.00 CNY, band 100,000–300,000 @ 2.00%, month to
    date 112,345.00 CNY, commission 246.90 CNY``. A refund reads ``Refund R9 of order A123``.
    Other lines (clawbacks, stage releases, project shares, attainment, evaluation, cap,
    floor, pool, draw, closing adjustments) say what they are from their ``detail``.

    Built column by column: amounts formatted vectorised, the categorical pieces (kind, day,
    rule and band, multiplier and why, FX rate) rendered once per distinct value, then the
    pieces concatenated elementwise - no Python call per line."""
    n = len(lines)
    if n == 0:
        return np.zeros(0, dtype=object)
    if n > EXPLANATION_CHUNK:
        # a chunk at a time: the pieces of a million sentences (each a str per line) are not all
        # alive at once; the chunks are row slices of ``lines`` (views, not copies)
        return np.concatenate([explanations(lines.iloc[start: start + EXPLANATION_CHUNK])
                               for start in range(0, n, EXPLANATION_CHUNK)])
    get = lambda c, d=None: lines[c].to_numpy(dtype=object) if c in lines else np.full(n, d, dtype=object)  # noqa: E731
    plan_cur = np.where(pd.isna(get("plan_currency")), get("currency"), get("plan_currency"))
    types = get("line_type", "credit")
    credit_like = np.isin(types, ["credit", "project"]) | pd.isna(types)
    held_rows = (pd.array(get("held_minor", 0), dtype="Int64").fillna(0).to_numpy("int64") != 0) | np.isin(types, ["release"])
    claw_rows = np.isin(types, ["clawback"])
    base = _money_text(lines, "base_minor", plan_cur, rows=credit_like)
    cumulative = _money_text(lines, "cumulative_base_minor", plan_cur, rows=credit_like)
    amount = _money_text(lines, "amount_minor")
    held = _money_text(lines, "held_minor", rows=held_rows)
    earned = _money_text(lines, "earned_minor", rows=held_rows | claw_rows)
    clawed = _money_text(lines, "clawed_minor", rows=claw_rows)
    oc = get("original_currency")
    foreign = pd.notna(oc) & (oc != plan_cur)
    original = _money_text(lines, "original_amount_minor", oc, rows=foreign & credit_like)
    kinds = get("kind")
    word = _text_by_value(kinds, lambda k: _KIND_WORDS.get(k, str(k).capitalize()))
    order_ids = get("order_id")
    of_order = np.full(n, "", dtype=object)
    refunds = np.flatnonzero(np.isin(kinds, ["refund", "cancellation", "collection"]) & pd.notna(order_ids))
    of_order[refunds] = _join(" of order ", _str(order_ids[refunds]))
    day = _text_by_value(days_of(lines["credited_date"]), lambda d: "" if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d"))
    currency = _str(get("currency"))
    pc = _str(plan_cur)
    out = np.full(n, "", dtype=object)

    def money(text, rows):
        return _join(text[rows], " ", currency[rows])

    # credit and project lines
    r = np.flatnonzero(credit_like)
    if len(r):
        # categorical pieces joined with their constant text first (a few distinct values each),
        # so each line's sentence takes a dozen elementwise concatenations, not twenty
        record = _str(get("record_id")[r])
        of = np.flatnonzero(of_order[r] != "")
        if len(of):
            record[of] = _join(record[of], of_order[r][of])
        word_ = _text_by_value(word[r], lambda w: f"{w} ")
        day_ = _text_by_value(day[r], lambda d: f" ({d}): base ")
        pc_ = _text_by_value(pc[r], lambda c: f" {c}")
        head = _join(word_, record, day_, base[r], pc_)
        fx_rate = get("fx_rate")[r]
        is_text = _text_by_value(oc[r], lambda u: "y" if isinstance(u, str) else "") == "y"
        with_fx = is_text & (oc[r] != plan_cur[r]) & pd.notna(fx_rate)
        fx = np.full(len(r), "", dtype=object)
        if with_fx.any():
            f = np.flatnonzero(with_fx)
            fx[f] = _join(" (", original[r][f], " ", _str(oc[r][f]), " @ ", _text_by_value(fx_rate[f], format_decimal), ")")
        rule_ = _text_by_value(_credit_rule_text(lines, r, get), lambda t: f", {t}, month to date ")
        sentence = _join(head, fx, rule_, cumulative[r], pc_) if with_fx.any() else _join(head, rule_, cumulative[r], pc_)
        project = np.flatnonzero(types[r] == "project")
        if len(project):
            sentence[project] = _join(sentence[project], ", project ", _str(get("project_id")[r][project]), " shared ",
                                      _text_by_value(get("share")[r][project], format_decimal), "%")
        payout_fx = get("payout_fx_rate")[r]
        paid = np.flatnonzero(pd.notna(payout_fx))
        if len(paid):
            sentence[paid] = _join(sentence[paid], ", paid in ", currency[r][paid], " @ ", _text_by_value(payout_fx[paid], format_decimal))
        held_minor = pd.array(get("held_minor", 0)[r], dtype="Int64").fillna(0).to_numpy("int64")
        staged = (held_minor != 0) & pd.notna(get("earned_minor")[r])
        tail = _join(", commission ", amount[r], _text_by_value(currency[r], lambda c: f" {c}"))
        if staged.any():
            s = np.flatnonzero(staged)
            tail[s] = _join(", earned ", money(earned, r[s]), ": released ", money(amount, r[s]), ", held ", money(held, r[s]),
                            " until its stages are reached")
        out[r] = _join(sentence, tail)
    # clawbacks
    r = np.flatnonzero(claw_rows)
    if len(r):
        head = _join(word[r], " ", _str(get("record_id")[r]), of_order[r], " (", day[r], "): ")
        found = get("found", True)[r]
        missing = found == False  # noqa: E712 - False or numpy False
        clawed_minor = pd.array(get("clawed_minor", 0)[r], dtype="Int64").fillna(0).to_numpy("int64")
        from_held = clawed_minor + pd.array(get("amount_minor", 0)[r], dtype="Int64").fillna(0).to_numpy("int64")
        held_text = np.empty(len(r), dtype=object)
        for cur, positions in pd.Series(currency[r]).groupby(currency[r], sort=False).indices.items():
            held_text[positions] = format_minor(from_held[positions], cur)
        text = _join(head, "claws back ", money(clawed, r), " of the ", money(earned, r), " the order earned (",
                     _str(get("earned_in")[r]), "): ", held_text, " from held, commission ", money(amount, r))
        nothing = _join(head, "the order earned no commission in the months looked back: nothing to claw back, ", money(amount, r))
        out[r] = np.where(missing, nothing, text)
    # stage releases
    r = np.flatnonzero(types == "release")
    if len(r):
        out[r] = _join("Stage release for order ", _str(order_ids[r]), " (earned ", _str(get("earned_in")[r]), "): released ",
                       money(amount, r), ", still held ", money(held, r))
    # closing adjustments, then month-level lines (attainment, evaluation, cap, floor, pool, draw)
    detail = get("detail")
    r = np.flatnonzero(types == "adjustment")
    if len(r):
        out[r] = _join(_str(detail[r]), ": ", money(amount, r))
    r = np.flatnonzero(~credit_like & ~claw_rows & ~np.isin(types, ["release", "adjustment"]))
    if len(r):
        text = pd.Series(np.where(detail[r] == None, types[r], detail[r]), dtype=object).astype(str)  # noqa: E711
        text = (text.str[:1].str.upper() + text.str[1:]).to_numpy(dtype=object)
        out[r] = _join(text, ": commission ", money(amount, r))
    return out


# ----------------------------------------------------------------------------- totals


def commission_summary(
    lines: pd.DataFrame,
    members: pd.DataFrame,
    commission: Commission | None = None,
    month: Period | None = None,
    teams: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """COMMISSION_SUMMARY: one row per member per month with lines (base and amount summed,
    ``lines`` counted), sorted by month and member.

    With ``commission`` and ``month``, every active member who has a plan but no line gets
    a zero row too, so each can be sent a statement; its currency is the team's base
    currency from ``teams`` (None without it).
    """
    require_columns(lines, ("month", "member_id", "plan_id", "base_minor", "amount_minor", "currency"), "commission lines")
    require_columns(members, ("member_id", "team_id"), "members")
    people = members.drop_duplicates("member_id", keep="last")
    team_of = people.set_index("member_id")["team_id"]
    summary = lines.groupby(["month", "member_id"], sort=True).agg(
        plan_id=("plan_id", "first"),
        base_minor=("base_minor", "sum"),
        amount_minor=("amount_minor", "sum"),
        lines=("amount_minor", "size"),
        currency=("currency", "first"),
    ).reset_index()
    if commission is not None and month is not None:
        plans = assign_plans(people, commission)
        active = people["active"].astype("boolean").fillna(True).to_numpy(dtype=bool) if "active" in people else True
        has_plan = people["member_id"].map(plans).notna().to_numpy()
        paid = summary.loc[summary["month"] == month.label, "member_id"]
        missing = people[active & has_plan & ~people["member_id"].isin(paid).to_numpy()]
        if len(missing):
            base = (
                teams.drop_duplicates("team_id").set_index("team_id")["base_currency"]
                if teams is not None else pd.Series(dtype=object)
            )
            zero = pd.DataFrame(
                {
                    "month": month.label,
                    "member_id": missing["member_id"].to_numpy(dtype=object),
                    "plan_id": missing["member_id"].map(plans).to_numpy(dtype=object),
                    "base_minor": np.zeros(len(missing), dtype="int64"),
                    "amount_minor": np.zeros(len(missing), dtype="int64"),
                    "lines": np.zeros(len(missing), dtype="int64"),
                    "currency": missing["team_id"].map(base).to_numpy(dtype=object),
                }
            )
            summary = pd.concat([summary, zero], ignore_index=True).sort_values(["month", "member_id"], kind="stable")
    summary = summary.assign(
        team_id=summary["member_id"].map(team_of).to_numpy(dtype=object),
        base_minor=summary["base_minor"].astype("int64"),
        amount_minor=summary["amount_minor"].astype("int64"),
        lines=summary["lines"].astype("int64"),
    )
    return summary.reset_index(drop=True)[list(COMMISSION_SUMMARY)]


def month_to_date(lines: pd.DataFrame, as_of_day: date | datetime | pd.Timestamp) -> pd.DataFrame:
    """Commission so far this month: COMMISSION_SUMMARY columns plus ``as_of``, over the lines
    credited on or before ``as_of_day`` (a local calendar day, inclusive). Because lines
    telescope, each amount is exactly ``round(F(month-to-date base))``."""
    require_columns(lines, ("credited_date",), "commission lines")
    as_of = pd.Timestamp(as_of_day).normalize()
    so_far = lines[pd.to_datetime(lines["credited_date"]) <= as_of]
    members = so_far[["member_id", "team_id"]].drop_duplicates("member_id") if "team_id" in so_far else so_far[["member_id"]].assign(team_id=None)
    summary = commission_summary(so_far, members)
    return summary.assign(as_of=as_of)[list(MONTH_TO_DATE)]


# ----------------------------------------------------------------------------- closed months

ADJUSTMENT_KEY = ("member_id", "plan_id", "currency", "line_type", "rule", "order_source", "order_id", "record_id")


def closing_adjustments(
    fresh: pd.DataFrame,
    locked: pd.DataFrame,
    adjusted: pd.DataFrame | None,
    closed_month: str,
    into_month: str,
) -> pd.DataFrame:
    """Adjustment lines for a rerun of a closed month: per (member, plan, currency, line type,
    rule, order, record), what the rerun computes minus what the locked statement shows minus
    the adjustments already made to it. Each difference becomes one line in ``into_month``
    (``adjusts_month`` = ``closed_month``); together they sum exactly to the change per member.
    ``locked`` are the closed month's stored lines (adjustments into it included as they were).
    """
    columns = list(COMMISSION_LINES + COMMISSION_LINES_EXTRA)
    def keyed(frame: pd.DataFrame | None, sign: int, what: str) -> pd.DataFrame:
        if frame is None or frame.empty:
            return pd.DataFrame(columns=list(ADJUSTMENT_KEY) + ["amount_minor", "what"])
        f = frame.copy()
        if what == "locked":
            f = f[f["adjusts_month"].isna()] if "adjusts_month" in f else f
        if "line_type" not in f:
            f["line_type"] = "credit"
        f["line_type"] = f["line_type"].fillna("credit")
        if what == "adjusted":
            # earlier adjustments carry the key of the line they corrected in their rule text
            f["line_type"] = f["rule"].str.split("/", n=1).str[0]
            f["rule"] = f["rule"].str.split("/", n=1).str[1]
        out = f[list(ADJUSTMENT_KEY)].astype(object).assign(amount_minor=f["amount_minor"].astype("int64") * sign)
        return out.assign(what=what)
    both = pd.concat([keyed(fresh, 1, "fresh"), keyed(locked, -1, "locked"), keyed(adjusted, -1, "adjusted")], ignore_index=True)
    if both.empty:
        return finish_lines(pd.DataFrame(), parse_period(into_month))
    both = both.fillna({"order_source": "", "order_id": "", "record_id": "", "plan_id": "", "rule": ""})
    diff = both.groupby(list(ADJUSTMENT_KEY), dropna=False, sort=True)["amount_minor"].sum().reset_index()
    diff = diff[diff["amount_minor"] != 0]
    if diff.empty:
        return finish_lines(pd.DataFrame(), parse_period(into_month))
    both = both.assign(amount_minor=both["amount_minor"].astype("int64"))
    was = both[both["what"] != "fresh"].groupby(list(ADJUSTMENT_KEY), dropna=False)["amount_minor"].sum().astype("int64")
    now = both[both["what"] == "fresh"].groupby(list(ADJUSTMENT_KEY), dropna=False)["amount_minor"].sum().astype("int64")
    keys = pd.MultiIndex.from_frame(diff[list(ADJUSTMENT_KEY)])
    stated = -was.reindex(keys, fill_value=0).to_numpy("int64")
    recomputed = now.reindex(keys, fill_value=0).to_numpy("int64")
    details = []
    for (mid, pid, cur, lt, rule, osrc, oid, rid), s, r in zip(keys, stated, recomputed):
        what = f"order {oid}" if oid else (f"record {rid}" if rid else lt)
        details.append(f"Adjustment to closed month {closed_month} ({what}, {rule or lt}): stated {minor_text(s, cur)} {cur}, "
                       f"recomputed {minor_text(r, cur)} {cur}")
    raw = pd.DataFrame({
        "member_id": diff["member_id"].to_numpy(dtype=object),
        "plan_id": diff["plan_id"].replace("", None).to_numpy(dtype=object),
        "currency": diff["currency"].to_numpy(dtype=object),
        "rule": [f"{lt}/{rule}" for lt, rule in zip(diff["line_type"], diff["rule"])],
        "order_source": diff["order_source"].replace("", None).to_numpy(dtype=object),
        "order_id": diff["order_id"].replace("", None).to_numpy(dtype=object),
        "record_id": diff["record_id"].replace("", None).to_numpy(dtype=object),
        "amount_minor": diff["amount_minor"].astype("int64").to_numpy(),
        "line_type": "adjustment", "kind": "adjustment", "adjusts_month": closed_month, "detail": details,
        "credited_date": pd.Timestamp(parse_period(into_month).start),
    })
    out = finish_lines(raw, parse_period(into_month))
    return out[columns + [c for c in out.columns if c not in columns]]


def lines_for_data(data: SalesData, commission: Commission, month: Period, prior_lines: pd.DataFrame | None = None,
                   facts: Facts | None = None) -> pd.DataFrame:
    """``month``'s commission lines straight from the sales data: credits over the months the
    plans look back (stages, clawbacks), with the targets, scores and FX rates they need."""
    from transforms.commission_credits import plan_credits
    from transforms.commission_engine import PlanInputs, months_back, needs_lookback

    months = months_back(month, needs_lookback(commission.for_month(month.label)))
    credits = plan_credits(data, months, facts)
    inputs = PlanInputs(targets=data.targets, scores=data.scores, fx_rates=data.fx_rates, prior_lines=prior_lines,
                        new_customer_window_days=data.new_customer_window_days, fx_pivot_currency=data.fx_pivot_currency)
    return commission_lines(credits, data.members, data.teams, commission, month, inputs)


def with_running_totals(lines: pd.DataFrame) -> pd.DataFrame:
    """``cumulative_amount_minor`` recomputed per member in the frame's order."""
    if lines.empty:
        return lines
    return lines.assign(cumulative_amount_minor=lines.groupby("member_id", sort=False)["amount_minor"].cumsum().astype("int64"))


def _statement_order(lines: pd.DataFrame) -> pd.DataFrame:
    code = pd.factorize(lines["member_id"].to_numpy(dtype=object), sort=True)[0]
    return lines.iloc[np.lexsort((np.arange(len(lines)), code))].reset_index(drop=True)


def month_result(
    data: SalesData,
    commission: Commission,
    month: Period,
    *,
    prior_lines: pd.DataFrame | None = None,
    stored: pd.DataFrame | None = None,
    closed: bool = False,
    adjusted: pd.DataFrame | None = None,
    into_month: str | None = None,
) -> dict:
    """What the monthly flow stores and shows for ``month`` (pure; the flow does the I/O).

    Open month: ``computed`` (to store) is the fresh computation; the statement ``lines``
    are those plus adjustment lines already stored in the month. Closed month: the
    statement is the ``stored`` lines, unchanged; the differences of the fresh computation
    against them (and against ``adjusted``, the adjustments already made) are ``adjustments``
    for ``into_month``.
    """
    fresh = lines_for_data(data, commission, month, prior_lines)
    columns = list(COMMISSION_LINES + COMMISSION_LINES_EXTRA)
    stored = stored if stored is not None else pd.DataFrame(columns=columns)
    if closed:
        adjustments = closing_adjustments(fresh, stored, adjusted, month.label, into_month)
        lines = _statement_order(stored[[c for c in stored.columns if c in columns]].copy())
        computed = None
    else:
        adjustments = None
        carried = stored[stored["adjusts_month"].notna()] if "adjusts_month" in stored and len(stored) else stored.iloc[0:0]
        parts = [fresh] + ([carried[columns]] if len(carried) else [])
        lines = with_running_totals(_statement_order(pd.concat(parts, ignore_index=True))) if len(carried) else fresh
        computed = fresh
    summary = commission_summary(lines, data.members, commission.for_month(month.label), month, data.teams)
    return {"lines": lines, "summary": summary, "computed": computed, "adjustments": adjustments, "closed": closed}
