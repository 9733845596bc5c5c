"""Monthly commissions: credited transactions -> explained lines -> per-member totals.

The pipeline is three small steps, each a frame in and a frame out:

1. :func:`credits_for_month` - every credited transaction of the month: orders placed
   (positive base = revenue in the team's base currency) and refunds/cancellations dated
   in it (negative base), each with the member it is credited to and the FX rate used.
2. :func:`commission_lines` - the member's plan (:func:`assign_plans`) turns each credit
   into one explained line. A plan kind is a *rule*: a function in :data:`RULES` taking the
   plan's credits (sorted, with month-to-date cumulative bases) and returning rule, band,
   rate and amount per credit. New plan kinds are new entries there.
3. :func:`commission_summary` / :func:`month_to_date` - totals per member.

Exactness. A plan defines the commission on a month-to-date cumulative base ``x`` as an
exact function ``F(x)`` (flat: ``rate * x``; tiered: marginal bands). Each line is
``round(F(cum_after)) - round(F(cum_before))`` (half away from zero, integer minor units),
so a member's lines telescope to exactly ``round(F(month total))``: no residue appears or
vanishes, and the lines up to any day sum to the commission earned so far.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

import numpy as np
import pandas as pd

from config.models import Commission, CommissionPlan
from transforms.facts import Facts, sales_facts
from transforms.money import exponent, to_minor
from transforms.periods import Period, in_period
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


def format_minor(values, currency: str) -> list[str]:
    """Minor units -> "12,345.00" (thousands separators, the currency's decimals)."""
    digits = exponent(currency)
    v = np.asarray(values, dtype="int64")
    whole, frac = np.divmod(np.abs(v), 10**digits)
    sign = np.where(v < 0, "-", "").tolist()
    if digits == 0:
        return [f"{s}{w:,}" for s, w in zip(sign, whole.tolist())]
    if digits == 2:
        return [f"{s}{w:,}.{f:02d}" for s, w, f in zip(sign, whole.tolist(), frac.tolist())]
    return [f"{s}{w:,}.{f:0{digits}d}" for s, w, f in zip(sign, whole.tolist(), frac.tolist())]


def format_major(amount: Decimal) -> str:
    """A band bound in major units: "100,000" or "100,000.5"."""
    return f"{Decimal(amount).normalize():,f}"


def format_percent(rate: Decimal) -> str:
    """0.02 -> "2.00%", 0.0125 -> "1.25%", 0.00125 -> "0.125%"."""
    pct = (Decimal(rate) * 100).normalize()
    if pct.as_tuple().exponent > -2:
        pct = pct.quantize(Decimal("0.01"))
    return f"{pct:f}%"


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


def marginal_schedule_lines(credits: pd.DataFrame, plan: CommissionPlan, currency: str) -> pd.DataFrame:
    """Amount, band and rate per credit for a flat or marginal-tier plan.

    ``credits`` are one member-currency group's credits in processing order with
    ``cumulative_before`` / ``cumulative_base_minor`` (month to date after the credit).
    """
    schedule = schedule_for(plan, currency)
    before = credits["cumulative_before"].to_numpy("int64")
    after = credits["cumulative_base_minor"].to_numpy("int64")
    earned_after = schedule.commission_minor(after)
    earned_before = schedule.commission_minor(before)
    low, high = np.minimum(before, after), np.maximum(before, after)
    first = schedule.band_of(low)
    last = np.where(high > low, schedule.band_of(high - 1), first)
    labels = np.array(schedule.labels, dtype=object)
    rates = np.array(schedule.rates, dtype=object)
    band = labels[first]
    rate = rates[first]
    spanning = np.flatnonzero(first != last)
    for i in spanning:  # only credits that cross a band boundary: at most a few per member
        band[i] = " + ".join(schedule.labels[first[i] : last[i] + 1])
        exact = Decimal(int(schedule.commission_scaled([high[i]])[0] - schedule.commission_scaled([low[i]])[0]))
        rate[i] = (exact / Decimal(10) ** schedule.places / Decimal(int(high[i] - low[i]))).quantize(
            BLENDED_RATE_PLACES, rounding=ROUND_HALF_UP
        ).normalize()
    return pd.DataFrame(
        {
            "rule": "flat" if plan.kind == "flat" else "tiered_marginal",
            "band": None if plan.kind == "flat" else band,
            "rate": rate,
            "amount_minor": earned_after - earned_before,
            "cumulative_amount_minor": earned_after,
        },
        index=credits.index,
    )


Rule = Callable[[pd.DataFrame, CommissionPlan, str], pd.DataFrame]
RULES: dict[str, Rule] = {"flat": marginal_schedule_lines, "tiered": marginal_schedule_lines}


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
) -> pd.DataFrame:
    """COMMISSION_LINES: one explained line per credit of ``month`` of a member with a plan.

    Credits of members without a plan get no line (see :func:`members_without_plan`; a
    warning is logged). Lines are in processing order per member (:func:`processing_order`);
    each line's amount is ``round(F(cumulative after)) - round(F(cumulative before))``.
    Tier bounds are major units of the credit's currency, which must be its team's base
    currency in ``teams`` (checked).
    """
    require_columns(credits, CREDITS, "credits")
    require_columns(teams, ("team_id", "base_currency"), "teams")
    _check_base_currency(credits, teams)
    in_month = (credits["month"] == month.label).to_numpy()
    plans = assign_plans(members, commission)
    plan_id = credits["member_id"].map(plans).to_numpy(dtype=object)
    paid = in_month & pd.notna(plan_id)
    unpaid = pd.unique(credits["member_id"].to_numpy(dtype=object)[in_month & ~paid])
    if len(unpaid):
        log.warning("commission %s: no plan for member(s) %s; their credits are not paid", month.label, ", ".join(map(str, unpaid)))
    chosen = credits.iloc[np.flatnonzero(paid)]
    order = processing_order(chosen)
    columns = {c: chosen[c].to_numpy()[order] for c in CREDITS if c != "month"}
    columns["plan_id"] = plan_id[paid][order]
    base = columns["base_minor"].astype("int64")
    after = pd.Series(base).groupby(columns["member_id"], sort=False).cumsum().to_numpy("int64")
    n = len(base)
    rule, band, rate = np.empty(n, dtype=object), np.empty(n, dtype=object), np.empty(n, dtype=object)
    amount, earned = np.zeros(n, dtype="int64"), np.zeros(n, dtype="int64")
    by_id = {p.plan_id: p for p in commission.plans}
    groups = pd.DataFrame({"plan_id": columns["plan_id"], "currency": columns["currency"]}).groupby(
        ["plan_id", "currency"], sort=False
    ).indices
    for (pid, currency), positions in groups.items():
        plan = by_id[pid]
        apply_rule = RULES.get(plan.kind)
        if apply_rule is None:
            raise ValueError(f"commission plan {pid!r}: no rule for plan kind {plan.kind!r}")
        part = pd.DataFrame(
            {"member_id": columns["member_id"][positions], "base_minor": base[positions],
             "cumulative_before": after[positions] - base[positions], "cumulative_base_minor": after[positions]}
        )
        result = apply_rule(part, plan, currency)
        rule[positions] = result["rule"].to_numpy(dtype=object)
        band[positions] = result["band"].to_numpy(dtype=object)
        rate[positions] = result["rate"].to_numpy(dtype=object)
        amount[positions] = result["amount_minor"].to_numpy("int64")
        earned[positions] = result["cumulative_amount_minor"].to_numpy("int64")
    lines = pd.DataFrame(
        {
            "month": month.label,
            **{c: columns[c] for c in ("member_id", "plan_id", "order_source", "order_id", "credited_at")},
            "rule": rule,
            "band": band,
            "base_minor": base,
            "rate": rate,
            "fx_rate": columns["fx_rate"],
            "amount_minor": amount,
            "currency": columns["currency"],
            **{c: columns[c] for c in ("team_id", "kind", "record_id", "credited_date")},
            "cumulative_base_minor": after,
            "cumulative_amount_minor": earned,
        }
    )
    lines["explanation"] = explanations(lines)  # a column added to the frame built here
    return lines[list(COMMISSION_LINES + COMMISSION_LINES_EXTRA)]


_KIND_WORDS = {"order": "Order", "refund": "Refund", "cancellation": "Cancellation"}


def _text_by_value(values: np.ndarray, render: Callable[[object], str]) -> np.ndarray:
    """``render`` each distinct value once (days, kinds, bands, rates repeat heavily)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.array([render(u) for u in uniques], dtype=object)[codes]


def explanations(lines: pd.DataFrame) -> list[str]:
    """One English sentence per line, from its fields (reports translate from the fields):
    ``Order A123 (2026-10-04): base 12,345.00 CNY, band 100,000–300,000 @ 2.00%, month to
    date 112,345.00 CNY, commission 246.90 CNY``. A refund reads ``Refund R9 of order A123``."""
    n = len(lines)
    if n == 0:
        return []
    base, cumulative, amount = (np.empty(n, dtype=object) for _ in range(3))
    for currency, positions in pd.Series(lines["currency"].to_numpy(dtype=object)).groupby(
        lines["currency"].to_numpy(dtype=object), sort=False
    ).indices.items():
        base[positions] = format_minor(lines["base_minor"].to_numpy()[positions], currency)
        cumulative[positions] = format_minor(lines["cumulative_base_minor"].to_numpy()[positions], currency)
        amount[positions] = format_minor(lines["amount_minor"].to_numpy()[positions], currency)
    kinds = lines["kind"].to_numpy(dtype=object)
    word = _text_by_value(kinds, lambda k: _KIND_WORDS.get(k, str(k).capitalize()))
    order_ids = lines["order_id"].to_numpy(dtype=object)
    of_order = np.full(n, "", dtype=object)
    refunds = np.flatnonzero((kinds != "order") & pd.notna(order_ids))
    of_order[refunds] = [f" of order {o}" for o in order_ids[refunds]]
    day = _text_by_value(lines["credited_date"].to_numpy(), lambda d: pd.Timestamp(d).strftime("%Y-%m-%d"))
    bands = lines["band"].to_numpy(dtype=object)
    rule_text = np.where(
        pd.notna(bands),
        _text_by_value(bands, lambda b: f"band {b}"),
        _text_by_value(lines["rate"].to_numpy(dtype=object), lambda r: f"flat rate {format_percent(r)}" if pd.notna(r) else "no rate"),
    )
    return [
        f"{w} {r}{o} ({d}): base {b} {c}, {t}, month to date {m} {c}, commission {a} {c}"
        for w, r, o, d, b, c, t, m, a in zip(
            word, lines["record_id"].to_numpy(dtype=object), of_order, day, base,
            lines["currency"].to_numpy(dtype=object), rule_text, cumulative, amount,
        )
    ]


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
