"""The commission engine: every plan scheme, alone and combined, exact to the minor unit.

One month is computed in four steps (each vectorised over lines; loops run per plan,
per member or per band, never per credited line):

1. **Check** (:func:`preflight`): every problem a plan could meet in the data - unknown
   member in a split / project / plan, a role without coefficient, a missing target,
   score or FX rate - is collected and raised as one :class:`PlanError` before anything
   is computed.
2. **Earn** (:func:`earn_month`): per plan, each credit's exact commission as an integer
   numerator over ``10**scale``: ``weight x (H(c_after) - H(c_before))`` for marginal
   tiers (``H`` = tiers x marginal attainment multipliers), ``r(c_after) W_after -
   r(c_before) W_before`` for retroactive tiers, plus the band's flat amount; ``weight`` =
   role coefficient x customer-class factor. Then per member the month-level lines:
   attainment multiplier (whole), evaluation, cap / floor. Exact amounts are converted to
   the payout currency exactly and rounded ONCE per line on the member's running total in
   the plan's rounding mode and place: ``line = round(S_i) - round(S_{i-1})``, so the
   lines sum to ``round(exact total)`` and no residue vanishes or appears.
3. **Settle** (:func:`settle`): stages and clawbacks on integer amounts. An order's earned
   ``E`` is split into stage portions (largest remainder); by a day ``t`` it has released
   ``R(t)``, and refunds have clawed back ``C(t) = round(E x refunded fraction)``. What is
   paid up to ``t`` is ``min(R(t), E - C(t))`` - so a clawback empties the held portions
   first and only the rest becomes a negative line - and each month's lines are the
   change of that over the month. Held = ``E - C - paid``.
4. **Draws and pools** on the settled month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from config.plans import Commission, CommissionPlan, Rounding
from transforms.commission_credits import with_extras
from transforms.exact import (
    allocate,
    allocate_matrix,
    allocate_rows,
    as_objects,
    combination_codes,
    decimal_places,
    round_scaled,
    days_of,
    format_major,
    format_percent,
    minor_text,
    renumbered,
    scaled,
)
from transforms.money import DEFAULT_PIVOT, attach_rates, exponent, rate_to_scaled
from transforms.periods import Period

log = logging.getLogger(__name__)

BIG = 10**40  # "infinity" for band bounds in minor units
RATE_PLACES = 12  # FX rates are carried as integers of 1e-12 (transforms.money)
EARNING_KINDS = ("order", "collection")
REFUND_KINDS = ("refund", "cancellation")


class PlanError(ValueError):
    """A plan cannot be applied to the data: raised before anything is computed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("commission plans cannot be applied:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class PlanInputs:
    """What plans may need beyond the credits (each optional until a plan needs it)."""

    targets: pd.DataFrame | None = None  # TARGETS: quota from_targets, pools from_targets
    scores: pd.DataFrame | None = None  # SCORES: evaluation
    fx_rates: pd.DataFrame | None = None  # FX_RATES: plan / payout currency conversion
    prior_lines: pd.DataFrame | None = None  # lines of earlier months (recoverable draw balance)
    new_customer_window_days: int = 365
    fx_pivot_currency: str = DEFAULT_PIVOT  # cross rates go through it (settings.fx_pivot_currency)


# ----------------------------------------------------------------------------- helpers


def months_back(month: Period, count: int) -> list[Period]:
    out = [month]
    for _ in range(count):
        out.insert(0, out[0].previous())
    return out


def payout_day(month: Period) -> pd.Timestamp:
    return pd.Timestamp(month.end) - pd.Timedelta(days=1)


def place_minor(rounding: Rounding, currency: str) -> int:
    """The rounding place in minor units of ``currency`` (0.01 CNY -> 1, 1 CNY -> 100)."""
    if rounding.place is None:
        return 1
    value = rounding.place.scaleb(exponent(currency))
    if value != value.to_integral_value() or value < 1:
        raise ValueError(f"rounding place {rounding.place} is finer than {currency}'s minor unit")
    return int(value)


def round_to_place(numerator, denominator: int, place: int, mode: str) -> np.ndarray:
    """``numerator / denominator`` minor units rounded to a multiple of ``place``."""
    return round_scaled(numerator, denominator * place, mode) * place


def group_cumsum(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Running total within contiguous-or-not groups, in row order, for object ints."""
    v = as_objects(values)
    if len(v) == 0:
        return v
    order = np.argsort(codes, kind="stable")
    sv, sc = v[order], np.asarray(codes)[order]
    total = np.cumsum(sv).astype(object)
    starts = np.r_[True, sc[1:] != sc[:-1]]
    first = np.flatnonzero(starts)
    offset = np.zeros(len(sv), dtype=object)
    before = np.where(first > 0, total[np.maximum(first - 1, 0)], 0)
    seg = np.cumsum(starts) - 1
    offset = np.asarray(before, dtype=object)[seg]
    out = np.empty(len(v), dtype=object)
    out[order] = total - offset
    return out


def _decimal_column(values: np.ndarray, places: int) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    table = np.array([scaled(Decimal(u), places) for u in uniques] + [0], dtype=object)
    return table[codes]


# ----------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Bands:
    """A plan's bands in minor units: lower bounds, rates (scaled by ``10**places``) and flat
    amounts (minor). ``upper_inclusive`` puts a value equal to a bound in the lower band."""

    lower: tuple[int, ...]
    rates: tuple[Decimal, ...]
    amounts: tuple[int, ...]
    labels: tuple[str, ...]
    upper_inclusive: bool = False

    @property
    def places(self) -> int:
        return decimal_places(self.rates)

    def scaled_rates(self) -> np.ndarray:
        return np.array([scaled(r, self.places) for r in self.rates], dtype=object)

    def band_of(self, x) -> np.ndarray:
        bounds = np.asarray(self.lower[1:], dtype=object)
        x = as_objects(x)
        if len(bounds) == 0:
            return np.zeros(len(x), dtype=np.int64)
        # values are Python ints: compare per bound (a handful), not per row
        band = np.zeros(len(x), dtype=np.int64)
        for b in bounds:
            band += (x > b) if self.upper_inclusive else (x >= b)
        return band

    def marginal(self, x) -> np.ndarray:
        """``F(x) * 10**places``: each band's rate on the part of [0, x) inside it."""
        x = as_objects(x)
        rates = self.scaled_rates()
        total = x * rates[0]
        for k in range(1, len(rates)):
            slope = rates[k] - rates[k - 1]
            if slope:
                over = x - self.lower[k]
                total = total + np.where(over > 0, over, 0) * slope
        return total

    def rate_at(self, x) -> np.ndarray:
        return self.scaled_rates()[self.band_of(x)]

    def amount_at(self, x) -> np.ndarray:
        amounts = np.array(self.amounts, dtype=object)
        return np.where(as_objects(x) > 0, amounts[self.band_of(x)], 0) if any(self.amounts) else np.zeros(len(x), dtype=object)


def bands_for(plan: CommissionPlan, currency: str, flat_rate: Decimal | None = None) -> Bands:
    """The plan's bands in ``currency`` minor units (bounds are major units)."""
    upper = plan.boundaries == "upper_inclusive"
    if plan.kind == "flat":
        rate = Decimal(plan.rate) if flat_rate is None else flat_rate
        return Bands((0,), (rate,), (0,), (f"flat @ {format_percent(rate)}",))
    lower, rates, amounts, labels = [], [], [], []
    for tier in plan.tiers:
        try:
            lower.append(_to_minor_exact(tier.from_, currency))
            amounts.append(_to_minor_exact(tier.amount, currency))
        except ValueError as exc:
            raise PlanError([f"{plan.where}plan {plan.plan_id!r}: tier {tier.from_}: {exc}"]) from None
        rates.append(Decimal(tier.rate))
        rng = f"{format_major(tier.from_)}+" if tier.to is None else f"{format_major(tier.from_)}–{format_major(tier.to)}"
        text = f"{rng} @ {format_percent(tier.rate)}"
        if tier.amount:
            text += f" + {format_major(tier.amount)}"
        labels.append(text)
    return Bands(tuple(lower), tuple(rates), tuple(amounts), tuple(labels), upper)


def _to_minor_exact(amount: Decimal, currency: str) -> int:
    value = Decimal(amount).scaleb(exponent(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(value)


# ----------------------------------------------------------------------------- check


def _member_table(members: pd.DataFrame) -> pd.DataFrame:
    people = members.drop_duplicates("member_id", keep="last").set_index("member_id")
    if "active" not in people:
        people = people.assign(active=True)
    return people


def assign(members: pd.DataFrame, commission: Commission) -> pd.Series:
    from transforms.commissions import assign_plans

    return assign_plans(members, commission)


def preflight(
    credits: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    commission: Commission,
    months: list[Period],
    month: Period,
    inputs: PlanInputs,
) -> None:
    """Every problem, all at once, before anything is computed."""
    problems: list[str] = []
    people = _member_table(members)
    known = set(people.index)
    for plan in commission.plans:
        for m in plan.members or ():
            if m not in known:
                problems.append(f"{plan.where}plan {plan.plan_id!r}: members: unknown member {m!r}")
    for split in commission.splits:
        for m in split.shares:
            if m not in known:
                problems.append(f"commission.splits: order {split.order_id}: unknown member {m!r}")
    for project in commission.projects:
        for m in project.contributions:
            if m not in known:
                problems.append(f"commission.projects: {project.project_id}: contributions: unknown member {m!r}")
    for pool in commission.pools:
        if teams is not None and pool.team_id not in set(teams["team_id"]):
            problems.append(f"commission.pools: {pool.pool_id}: unknown team {pool.team_id!r}")
    # versions: a plan id assigned in an earlier version but with no version in a needed month
    for m in months:
        cm = commission.for_month(m.label)
        try:
            plans = assign(members, cm)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        in_month = credits[credits["month"] == m.label]
        planned = in_month["member_id"].map(plans)
        used = {p.plan_id: p for p in cm.plans}
        for pid in sorted(set(planned.dropna())):
            plan = used[pid]
            who = in_month[(planned == pid).to_numpy()]["member_id"].unique()
            roles = people.reindex(who)["role"]
            if plan.role_coefficients is not None:
                missing = sorted({str(r) for r in roles if r not in plan.role_coefficients})
                if missing:
                    problems.append(f"{plan.where}plan {pid!r}: role_coefficients: no coefficient for role(s) {', '.join(missing)} "
                                    f"(members {', '.join(sorted(map(str, who[roles.isin(missing).to_numpy()])))})")
            if m.label != month.label:
                continue
            if plan.quota is not None and plan.quota.from_targets and plan.quota.missing == "error":
                have = _member_targets(inputs.targets, month)
                lacking = sorted(set(who) - set(have.index))
                if lacking:
                    problems.append(f"{plan.where}plan {pid!r}: quota.from_targets: no {month.label} revenue target for member(s) {', '.join(lacking)}")
            if plan.evaluation is not None and plan.evaluation.missing == "error":
                scores = _scores(inputs.scores, month)
                for mid in who:
                    lacking = [d for d in plan.evaluation.weights if (mid, d) not in scores.index]
                    if lacking:
                        problems.append(f"{plan.where}plan {pid!r}: evaluation: member {mid} has no {month.label} score for {', '.join(lacking)}")
            for cur in (plan.currency, plan.payout_currency):
                if cur is not None and inputs.fx_rates is None and (in_month["currency"] != cur).any():
                    problems.append(f"{plan.where}plan {pid!r}: converts to {cur} but no fx_rates were given")
    if problems:
        raise PlanError(problems)


def _member_targets(targets: pd.DataFrame | None, month: Period, scope: str = "member") -> pd.DataFrame:
    if targets is None or targets.empty:
        return pd.DataFrame(columns=["value", "currency"])
    t = targets[(targets["scope"] == scope) & (targets["period"].astype(str) == month.label) & (targets["metric"] == "revenue")]
    return t.drop_duplicates("scope_id", keep="last").set_index("scope_id")[["value", "currency"]]


def _scores(scores: pd.DataFrame | None, month: Period) -> pd.Series:
    if scores is None or scores.empty:
        return pd.Series(dtype=object, index=pd.MultiIndex.from_arrays([[], []]))
    s = scores[scores["period"].astype(str) == month.label]
    return pd.Series(s["score"].to_numpy(dtype=object), index=pd.MultiIndex.from_arrays(
        [s["member_id"].to_numpy(dtype=object), s["dimension"].to_numpy(dtype=object)])).groupby(level=[0, 1]).last()


# ----------------------------------------------------------------------------- splits and projects


def expand_splits(credits: pd.DataFrame, commission: Commission) -> pd.DataFrame:
    """Each split order's credits (the order and its refunds, collections) become one row per
    member, the base split by the shares with largest remainder (so it sums exactly)."""
    out = credits.assign(share=Decimal(100), record_base_minor=credits["base_minor"],
                         record_original_minor=credits["original_amount_minor"])
    if not commission.splits or out.empty:
        return out
    rows = []
    for s in commission.splits:
        for member, pct in s.shares.items():
            rows.append((s.order_source, s.order_id, member, pct))
    shares = pd.DataFrame(rows, columns=["split_source", "order_id", "split_member", "split_share"])
    hit = out["order_id"].isin(shares["order_id"]).to_numpy()
    if not hit.any():
        return out
    keep, split = out[~hit], out[hit].reset_index(drop=True).assign(_row=lambda f: np.arange(len(f)))
    joined = split.merge(shares, on="order_id", how="inner")
    joined = joined[joined["split_source"].isna() | (joined["split_source"] == joined["order_source"])]
    joined = joined.sort_values(["_row"], kind="stable").reset_index(drop=True)
    weights = _decimal_column(joined["split_share"].to_numpy(dtype=object), decimal_places(shares["split_share"]))
    base = allocate_rows(joined["base_minor"].to_numpy(dtype=object), weights, joined["_row"].to_numpy())
    original = allocate_rows(joined["original_amount_minor"].to_numpy(dtype=object), weights, joined["_row"].to_numpy())
    joined = joined.assign(member_id=joined["split_member"], base_minor=base, original_amount_minor=original,
                           share=joined["split_share"])
    return pd.concat([keep, joined[keep.columns]], ignore_index=True)


def project_of(credits: pd.DataFrame, commission: Commission) -> np.ndarray:
    """The project id of each credit whose order is in a project (else None)."""
    out = np.full(len(credits), None, dtype=object)
    for p in commission.projects:
        hit = credits["order_id"].isin(p.orders).to_numpy()
        if p.order_source is not None:
            hit &= (credits["order_source"] == p.order_source).to_numpy()
        out[hit] = p.project_id
    return out


# ----------------------------------------------------------------------------- earn


def _customer_class(part: pd.DataFrame, window_days: int) -> np.ndarray:
    if "customer_class" in part.columns and part["customer_class"].notna().any():
        given = part["customer_class"].to_numpy(dtype=object)
    else:
        given = np.full(len(part), None, dtype=object)
    prev = days_of(part["previous_order_day"])
    # judged on the order's day: a refund keeps the class its order had
    signed = days_of(part["signed_day"])
    day = np.where(pd.isna(signed), days_of(part["credited_date"]), signed)
    gap = (day - prev) / np.timedelta64(1, "D")
    new = pd.isna(prev) | (gap > window_days)
    derived = np.where(part["key_account"].to_numpy(dtype=bool), "key_account", np.where(new, "new", "returning"))
    return np.where(pd.isna(given), derived, given).astype(object)


def _plan_base(part: pd.DataFrame, plan: CommissionPlan, plan_currency: str, month: Period, inputs: PlanInputs):
    """(base in plan minor units (int64), fx_rate used (Decimal objects), cost_unknown mask)."""
    base = part["base_minor"].to_numpy("int64").copy()
    cost_unknown = np.zeros(len(part), dtype=bool)
    if plan.basis == "gross_profit":
        gp = part["gross_profit_minor"].astype("Int64")
        orders = (part["kind"] == "order").to_numpy()
        cost_unknown = orders & gp.isna().to_numpy()
        share = part["base_minor"].to_numpy("int64")
        full = part["record_base_minor"].to_numpy("int64") if "record_base_minor" in part else share
        gp_full = gp.to_numpy(dtype="int64", na_value=0)
        # a split order's gross profit is split like its revenue (half up to the minor unit)
        gp_share = np.where(full == share, gp_full,
                            _div_half_up(as_objects(gp_full) * as_objects(share), np.where(full != 0, full, 1)))
        base = np.where(orders, np.where(cost_unknown, 0, gp_share), base).astype("int64")
    fx_rate = part["fx_rate"].to_numpy(dtype=object)
    same = (part["currency"].to_numpy(dtype=object) == plan_currency)
    if plan.fx.date == "order" and same.all():
        return base, fx_rate, cost_unknown
    if inputs.fx_rates is None:
        raise PlanError([f"{plan.where}plan {plan.plan_id!r}: needs fx_rates to convert into {plan_currency}"])
    if plan.fx.date == "payout":
        days = np.full(len(part), payout_day(month).to_datetime64())
    elif plan.fx.date == "collection":
        days = np.where(part["kind"] == "collection", days_of(part["credited_date"]), days_of(part["collected_day"]))
        missing = pd.isna(days)
        if missing.any():
            first = part[missing].iloc[0]
            raise PlanError([f"{plan.where}plan {plan.plan_id!r}: fx.date collection: order {first['order_id']} is not collected yet "
                             f"({int(missing.sum())} credit(s)); nothing is converted on a guess"])
    else:
        days = days_of(part["credited_date"])
    if plan.basis == "gross_profit":
        amounts, currencies = base, part["currency"].to_numpy(dtype=object)
    else:
        amounts, currencies = part["original_amount_minor"].to_numpy("int64"), part["original_currency"].to_numpy(dtype=object)
    frame = pd.DataFrame({"day": days, "cur": currencies})
    try:
        rates = attach_rates(frame, inputs.fx_rates, "day", "cur", plan_currency, pivot=inputs.fx_pivot_currency)["fx_rate"].to_numpy(dtype=object)
    except ValueError as exc:
        raise PlanError([f"{plan.where}plan {plan.plan_id!r}: {exc}"]) from None
    from transforms.money import convert_minor

    converted = convert_minor(pd.Series(amounts), pd.Series(currencies, dtype=object), pd.Series(rates, dtype=object), plan_currency)
    return converted.to_numpy("int64"), rates, cost_unknown


def _div_half_up(numerator, denominator) -> np.ndarray:
    n, d = as_objects(numerator), as_objects(denominator)
    sign = np.where((n < 0) != (d < 0), -1, 1).astype(object)
    n, d = abs_obj(n), abs_obj(d)
    return (sign * ((n * 2 + d) // (d * 2))).astype("int64")


def abs_obj(values: np.ndarray) -> np.ndarray:
    return np.where(values < 0, -values, values).astype(object)


def _quota_minor(plan: CommissionPlan, members: np.ndarray, currency: str, month: Period, inputs: PlanInputs) -> dict:
    """member -> quota in minor units of ``currency`` (None when unknown and allowed)."""
    q = plan.quota
    if q.amount is not None:
        return {m: _to_minor_exact(q.amount, currency) for m in members}
    table = _member_targets(inputs.targets, month)
    out = {}
    for m in members:
        if m in table.index:
            cur = table.loc[m, "currency"] or currency
            if cur != currency:
                raise PlanError([f"{plan.where}plan {plan.plan_id!r}: quota: member {m}'s target is in {cur}, the plan counts in {currency}"])
            out[m] = int(Decimal(table.loc[m, "value"]).scaleb(exponent(currency)).quantize(Decimal(1), ROUND_HALF_UP))
        else:
            out[m] = None
    return out


def _band_multiplier(bands, value: Decimal, upper_inclusive: bool) -> tuple[int, Decimal]:
    chosen = 0
    for k, b in enumerate(bands):
        if k == 0:
            continue
        if value > b.from_ or (value == b.from_ and not upper_inclusive):
            chosen = k
    return chosen, bands[chosen].multiplier


def _evaluation_factor(plan: CommissionPlan, member: str, scores: pd.Series) -> tuple[Decimal, str, str] | None:
    """(factor, explanation, the composite score as the statement shows it), None without scores."""
    ev = plan.evaluation
    values = {}
    for dim in ev.weights:
        if (member, dim) in scores.index:
            values[dim] = Decimal(scores.loc[(member, dim)])
    if len(values) < len(ev.weights):
        return None
    composite = sum((ev.weights[d] * values[d] for d in ev.weights), Decimal(0))
    parts = " + ".join(f"{d} {values[d].normalize():f}×{ev.weights[d].normalize():f}" for d in ev.weights)
    if ev.multipliers:
        _, factor = _band_multiplier(ev.multipliers, composite, False)
        return factor, f"score {composite.normalize():f} ({parts}) → ×{factor.normalize():f}", f"{composite.normalize():f}"
    factor = (composite / ev.scale).quantize(Decimal(1).scaleb(-ev.places), ROUND_HALF_UP)
    score = f"{composite.normalize():f}/{ev.scale.normalize():f}"
    return factor, f"score {score} ({parts}) → ×{factor.normalize():f}", score


def earn_plan(part: pd.DataFrame, plan: CommissionPlan, month: Period, roles: pd.Series, inputs: PlanInputs,
              members_without_lines: list[str] = ()) -> pd.DataFrame:
    """One plan's lines for one currency group of credits in processing order (per member by
    time): credit lines then each member's month-level lines. Amounts exact then rounded
    once per line on the running total (see the module docstring)."""
    team_currency = part["currency"].iloc[0] if len(part) else (plan.currency or "CNY")
    plan_currency = plan.currency or team_currency
    payout_currency = plan.payout_currency or plan_currency
    n = len(part)
    base, fx_rate, cost_unknown = _plan_base(part, plan, plan_currency, month, inputs)
    member = part["member_id"].to_numpy(dtype=object)
    codes = pd.factorize(member)[0]
    cum = group_cumsum(base, codes)
    before = cum - as_objects(base)

    # weights: role coefficient x customer-class factor
    klass = _customer_class(part, plan.new_customer_window_days or inputs.new_customer_window_days)
    role = pd.Series(member).map(roles).to_numpy(dtype=object)
    coefficients = plan.role_coefficients or {}
    classes = plan.customer_classes or {}
    flat_rate = None
    if plan.kind == "flat" and any(c.rate is not None for c in classes.values()):
        flat_rate = Decimal(1)

    def class_factor(k):
        rule = classes.get(k)
        if flat_rate is not None:
            if rule is not None and rule.rate is not None:
                return Decimal(rule.rate)
            return Decimal(plan.rate) * (Decimal(rule.multiplier) if rule is not None else Decimal(1))
        return Decimal(rule.multiplier) if rule is not None else Decimal(1)

    # the few (role, class) pairs: each pair's Decimal weight made once, then mapped to its lines
    pair, first = combination_codes(role, klass)
    coef_of = [Decimal(coefficients.get(role[i], 1)) for i in first]
    weight_of = [c * class_factor(klass[i]) for c, i in zip(coef_of, first)]
    wp = decimal_places(weight_of)
    w = np.array([scaled(x, wp) for x in weight_of] + [0], dtype=object)[pair]
    weight = np.array(weight_of + [Decimal(1)], dtype=object)[pair]

    bands = bands_for(plan, plan_currency, flat_rate)
    rp = bands.places
    quota = plan.quota
    quotas = _quota_minor(plan, pd.unique(np.r_[member, np.asarray(list(members_without_lines), dtype=object)]), plan_currency,
                          month, inputs) if quota else {}  # a member with no line this month (floor) has a quota too
    mp = 0
    label_first = bands.band_of(np.where(as_objects(base) >= 0, before, cum))
    label_last = bands.band_of(np.where(as_objects(base) >= 0, cum - (as_objects(base) > 0), before - 1))
    if plan.tier_method == "retroactive" and plan.kind == "tiered":
        wb = w * as_objects(base)
        W = group_cumsum(wb, codes)
        W0 = W - wb
        exact = bands.rate_at(cum) * W - bands.rate_at(before) * W0
        band_text = np.array(bands.labels, dtype=object)[bands.band_of(cum)]
    elif quota is not None and quota.method == "marginal":
        mults = [Decimal(b.multiplier) for b in quota.multipliers]
        mp = decimal_places(mults)
        ms = [scaled(x, mp) for x in mults]
        member_of = pd.unique(member)
        qv = np.array([quotas.get(m) for m in member_of] + [None], dtype=object)[pd.Index(member_of).get_indexer(member)]
        if any(q is None for q in qv):
            qv = np.array([BIG if q is None else q for q in qv], dtype=object)  # neutral: never leaves band 0
        def H(x):
            total = np.zeros(len(x), dtype=object)
            for k, band in enumerate(quota.multipliers):
                lo = _bound(qv, band.from_) if k else -BIG
                hi = _bound(qv, band.to) if band.to is not None else BIG
                clipped = np.minimum(np.maximum(as_objects(x), lo), hi) if k else np.minimum(as_objects(x), hi)
                part_k = bands.marginal(clipped) - (bands.marginal(lo) if k else 0)
                total = total + part_k * ms[k]
            return total
        exact = w * (H(cum) - H(before))
        band_text = np.array(bands.labels, dtype=object)[label_first]
    else:
        exact = w * (bands.marginal(cum) - bands.marginal(before))
        band_text = np.array(bands.labels, dtype=object)[label_first]
    if any(bands.amounts):
        cp = decimal_places(coef_of) if n else 0
        cs = np.array([scaled(c, cp) for c in coef_of] + [0], dtype=object)[pair] if n else np.zeros(0, dtype=object)
        flat_part = (bands.amount_at(cum) - bands.amount_at(before)) * cs * 10 ** (rp + mp)
        exact = exact * 10**cp + flat_part * 10 ** wp
        wp += cp
    scale = rp + wp + mp  # exact = numerator / 10**scale minor units of the plan currency
    spanning = label_first != label_last
    if plan.kind == "tiered" and plan.tier_method == "marginal" and spanning.any():
        idx = np.flatnonzero(spanning)  # lines crossing a band bound: a few per member
        band_text = band_text.copy()
        band_text[idx] = [" + ".join(bands.labels[a: b + 1]) for a, b in zip(label_first[idx], label_last[idx])]
    rate_of_band = np.array([Decimal(r) for r in bands.rates], dtype=object)
    rate = rate_of_band[label_first].copy() if n else np.zeros(0, dtype=object)
    # blended rate for marginal lines crossing a bound
    if plan.kind == "tiered" and plan.tier_method == "marginal" and spanning.any() and quota is None:
        idx = np.flatnonzero(spanning & (as_objects(base) != 0))
        if len(idx):
            marg = bands.marginal(cum[idx]) - bands.marginal(before[idx])
            rate[idx] = [(Decimal(int(m)).scaleb(-rp) / Decimal(int(b))).quantize(Decimal("1e-10"), ROUND_HALF_UP).normalize()
                         for m, b in zip(marg, as_objects(base)[idx])]  # crossing lines only: a few per member
    if plan.kind == "tiered" and plan.tier_method == "retroactive":
        rate = rate_of_band[bands.band_of(cum)]

    lines = pd.DataFrame({
        "row": np.arange(n), "member_id": member, "line_type": "credit",
        "rule": ("flat" if plan.kind == "flat" else "tiered_marginal" if plan.tier_method == "marginal" else "tiered_retroactive"),
        "band": None if plan.kind == "flat" else band_text, "rate": rate,
        "multiplier": np.array([None if x == 1 else x for x in weight_of] + [None], dtype=object)[pair] if n else np.zeros(0, dtype=object),
        "customer_class": klass if classes else None, "role": role,
        "base_minor": base, "fx_rate": fx_rate, "exact": exact,
        "cumulative_base_minor": as_objects(cum).astype("int64") if n else np.zeros(0, dtype="int64"),
        "cost_unknown": cost_unknown,
    })

    # month-level lines per member: attainment (whole), evaluation, cap / floor
    extra_rows = []
    everyone = list(pd.unique(member)) + [m for m in members_without_lines if m not in set(member)]
    totals = pd.Series(exact, dtype=object).groupby(member).sum() if n else pd.Series(dtype=object)
    finals = pd.Series(as_objects(cum), dtype=object).groupby(member).last() if n else pd.Series(dtype=object)
    qp = decimal_places([b.multiplier for b in quota.multipliers]) if quota is not None and quota.method == "whole" else 0
    ep = 0
    if plan.evaluation is not None:
        ev = plan.evaluation
        ep = decimal_places([b.multiplier for b in ev.multipliers]) if ev.multipliers else ev.places
    multiplier_places = qp + ep
    lift = 10**multiplier_places
    scores = _scores(inputs.scores, month) if plan.evaluation is not None else None
    for m in everyone:
        S = int(totals.get(m, 0)) * lift
        final = int(finals.get(m, 0))
        steps = []
        if quota is not None and quota.method == "whole":
            q = quotas.get(m)
            if q is None:
                steps.append(("quota", 0, None, f"no {month.label} target: attainment multiplier ×1 (quota.missing: neutral)", None))
            else:
                attainment = Decimal(final) / Decimal(q)
                k, mu = _band_multiplier(quota.multipliers, attainment, quota.boundaries == "upper_inclusive")
                adj = (S * scaled(mu, qp)) // 10**qp - S  # exact: S carries 10**(qp + ep)
                b = quota.multipliers[k]
                rng = f"{format_percent(b.from_)}+" if b.to is None else f"{format_percent(b.from_)}–{format_percent(b.to)}"
                reached = format_percent(attainment.quantize(Decimal('0.0001'), ROUND_HALF_UP))
                steps.append(("quota", adj, mu, f"attainment {reached} of quota {minor_text(q, plan_currency)} {plan_currency} "
                              f"(band {rng}) → ×{mu.normalize():f}", f"{reached} ∈ {rng}"))
                S += adj
        if plan.evaluation is not None:
            got = _evaluation_factor(plan, m, scores)
            if got is None:
                steps.append(("evaluation", 0, None, "no evaluation scores: ×1 (evaluation.missing: neutral)", None))
            else:
                phi, text, score = got
                adj = (S * scaled(phi, ep)) // 10**ep - S  # exact: S carries 10**ep still
                steps.append(("evaluation", adj, phi, "evaluation " + text, score))
                S += adj
        if plan.cap is not None:
            cap = _to_minor_exact(plan.cap, plan_currency) * 10**scale * lift
            if S > cap:
                steps.append(("cap", cap - S, None, f"capped at {format_major(plan.cap)} {plan_currency} a month",
                              f"{format_major(plan.cap)} {plan_currency}"))
                S = cap
        if plan.floor is not None:
            floor = _to_minor_exact(plan.floor, plan_currency) * 10**scale * lift
            if S < floor:
                steps.append(("floor", floor - S, None, f"raised to the floor of {format_major(plan.floor)} {plan_currency} a month",
                              f"{format_major(plan.floor)} {plan_currency}"))
                S = floor
        for rule, adj, mu, text, reason in steps:
            extra_rows.append({"row": -1, "member_id": m, "line_type": "member", "rule": rule, "band": None, "rate": None,
                               "multiplier_reason": reason,
                               "multiplier": mu, "customer_class": None, "role": roles.get(m), "base_minor": 0,
                               "fx_rate": None, "exact": adj, "cumulative_base_minor": final, "cost_unknown": False,
                               "detail": text})
    lines["exact"] = as_objects(lines["exact"].to_numpy()) * lift
    if extra_rows:
        lines = pd.concat([lines, pd.DataFrame(extra_rows)], ignore_index=True)
    scale += multiplier_places
    # exact -> payout currency, then rounding once per line on the running total
    denominator = 10**scale
    payout_rate = Decimal(1)
    numer = as_objects(lines["exact"].to_numpy())
    if payout_currency != plan_currency:
        if inputs.fx_rates is None:
            raise PlanError([f"{plan.where}plan {plan.plan_id!r}: payout in {payout_currency} needs fx_rates"])
        frame = pd.DataFrame({"day": [payout_day(month)], "cur": [plan_currency]})
        try:
            payout_rate = attach_rates(frame, inputs.fx_rates, "day", "cur", payout_currency, pivot=inputs.fx_pivot_currency)["fx_rate"].iloc[0]
        except ValueError as exc:
            raise PlanError([f"{plan.where}plan {plan.plan_id!r}: payout: {exc}"]) from None
        numer = numer * int(rate_to_scaled(pd.Series([payout_rate]))[0])
        denominator *= 10**RATE_PLACES
        shift = exponent(payout_currency) - exponent(plan_currency)
        numer = numer * 10**shift if shift >= 0 else numer
        denominator = denominator if shift >= 0 else denominator * 10 ** (-shift)
    place = place_minor(plan.rounding, payout_currency)
    mcodes = pd.factorize(lines["member_id"].to_numpy(dtype=object))[0]
    order = np.lexsort((np.arange(len(lines)), mcodes))
    lines = renumbered(lines.iloc[order])
    numer = numer[order]
    mcodes = mcodes[order]
    running = group_cumsum(numer, mcodes)
    rounded = round_to_place(running, denominator, place, plan.rounding.mode)
    previous = rounded - np.concatenate([[0], rounded[:-1]])
    starts = np.r_[True, mcodes[1:] != mcodes[:-1]] if len(mcodes) else np.zeros(0, dtype=bool)
    amount = np.where(starts, rounded, previous).astype("int64")
    del lines["exact"]  # ``lines`` is this function's own frame: set in place, not copied twice more
    for col, value in dict(amount_minor=amount, currency=payout_currency, plan_currency=plan_currency,
                           payout_fx_rate=payout_rate if payout_currency != plan_currency else None, plan_id=plan.plan_id,
                           exact_scale=scale + (RATE_PLACES if payout_currency != plan_currency else 0)).items():
        lines[col] = value
    return lines


def _bound(quota: np.ndarray, fraction: Decimal) -> np.ndarray:
    """quota x fraction in minor units, rounded half up (a band edge of attainment)."""
    p = decimal_places([fraction])
    f = scaled(fraction, p)
    return _div_half_up(as_objects(quota) * f, np.full(len(quota), 10**p, dtype=object))


# ----------------------------------------------------------------------------- month


def _processing_positions(credits: pd.DataFrame, at: np.ndarray, member: str | None = None) -> np.ndarray:
    """The order of ``credits``' rows ``at`` in processing order (read from the sort keys only),
    all credited to ``member`` when given (a project)."""
    from transforms.commissions import processing_order

    if not len(at):
        return np.zeros(0, dtype=np.int64)
    keys = _rows(credits, at, PROCESSING_KEYS)
    return processing_order(keys if member is None else keys.assign(member_id=member))


def _uses(plan: CommissionPlan, kinds: np.ndarray) -> np.ndarray:
    """Which credits a plan's base is built from."""
    if plan.basis == "collected":
        earning = kinds == "collection"
    else:
        earning = kinds == "order"
    if plan.refund_mode == "net":
        earning = earning | np.isin(kinds, REFUND_KINDS)
    return earning


# what earn_plan reads of a credit (the rest of the credit's columns are attached to its lines once, at the end)
EARN_COLUMNS = ("member_id", "kind", "currency", "base_minor", "gross_profit_minor", "record_base_minor", "fx_rate",
                "original_amount_minor", "original_currency", "credited_date", "collected_day", "customer_class",
                "previous_order_day", "signed_day", "key_account", "order_source", "order_id")
PROCESSING_KEYS = ("member_id", "credited_at", "order_id", "kind", "record_id")
LINE_KEYS = ("order_source", "order_id")  # carried on every line: settling groups lines by order


def _rows(credits: pd.DataFrame, positions: np.ndarray, columns) -> pd.DataFrame:
    """``credits``' rows at ``positions``, only ``columns`` (those it has), numbered 0..n-1: the
    wide credit frame is never taken whole."""
    at = [credits.columns.get_loc(c) for c in columns if c in credits.columns]
    return renumbered(credits.iloc[np.asarray(positions, dtype=np.int64), at])


def earn_month(credits: pd.DataFrame, members: pd.DataFrame, commission: Commission, month: Period,
               inputs: PlanInputs) -> pd.DataFrame:
    """Every plan's credit lines and month-level lines for ``month`` (before stages, clawbacks,
    draws and pools), one frame. A line carries its credit's position in ``credits``
    (``credit_row``, -1 on month-level lines) and its order, not the credit's other columns:
    :func:`with_credit_columns` attaches those once, to the month's final lines."""
    in_month = np.flatnonzero((credits["month"] == month.label).to_numpy())
    plans = assign(members, commission)
    people = _member_table(members)
    roles = people["role"]
    projects = project_of(_rows(credits, in_month, ("order_source", "order_id")), commission)
    by_id = {p.plan_id: p for p in commission.plans}
    frames = []
    in_project = pd.notna(projects)
    normal = in_month[~in_project]
    normal_member = credits["member_id"].to_numpy(dtype=object)[normal]
    plan_id = pd.Series(normal_member, dtype=object).map(plans).to_numpy(dtype=object)
    unpaid = pd.unique(normal_member[pd.isna(plan_id)])
    if len(unpaid):
        log.warning("commission %s: no plan for member(s) %s; their credits are not paid", month.label, ", ".join(map(str, unpaid)))
    active = people["active"].astype("boolean").fillna(True)
    kinds = credits["kind"].to_numpy(dtype=object)[normal]
    currencies = credits["currency"].to_numpy(dtype=object)
    for pid, plan in by_id.items():
        # the plan's credits in processing order, only the columns earning reads, once per currency
        at = normal[np.flatnonzero((plan_id == pid) & _uses(plan, kinds))]
        at = at[_processing_positions(credits, at)]
        idle = []
        if plan.floor is not None:
            assigned = plans[plans == pid].index
            selling = set(credits["member_id"].to_numpy(dtype=object)[at])
            idle = [m for m in assigned if bool(active.get(m, True)) and m not in selling]  # per member
        if not len(at) and not idle:
            continue
        groups = pd.Series(currencies[at]).groupby(currencies[at], sort=False).indices if len(at) else {}
        for k, (_cur, positions) in enumerate(groups.items()):
            part = _rows(credits, at[positions], EARN_COLUMNS)
            lines = earn_plan(part, plan, month, roles, inputs, idle if k == 0 else [])
            frames.append(_with_credit_rows(lines, part, at[positions]))
        if not groups and idle:
            empty = _rows(credits, np.zeros(0, dtype=np.int64), EARN_COLUMNS)
            lines = earn_plan(empty, plan, month, roles, inputs, idle)
            frames.append(_with_credit_rows(lines, empty, np.zeros(0, dtype=np.int64)))
    for project in commission.projects:
        mine = in_month[projects == project.project_id]
        if not len(mine):
            continue
        plan = project.as_plan()
        mine = mine[_processing_positions(credits, mine, f"project:{project.project_id}")]
        mine = mine[_uses(plan, credits["kind"].to_numpy(dtype=object)[mine])]
        for _cur, positions in pd.Series(currencies[mine]).groupby(currencies[mine], sort=False).indices.items():
            part = _rows(credits, mine[positions], EARN_COLUMNS).assign(member_id=f"project:{project.project_id}")
            lines = _with_credit_rows(earn_plan(part, plan, month, roles, inputs), part, mine[positions])
            frames.append(_split_project(lines, project))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


CARRIED = ("team_id", "kind", "record_id", "credited_at", "credited_date", "original_currency", "original_amount_minor",
           "share")  # the credit's own columns a final line keeps (LINE_KEYS are on every line already)


def _with_credit_rows(lines: pd.DataFrame, part: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Earned lines with their credit's position in the credit frame (-1: a month-level line) and
    its order (LINE_KEYS), in place of the row within ``part``. A new (consolidated) frame: how
    settling's concatenation fills the columns clawbacks lack depends on it."""
    rows = lines["row"].to_numpy()
    has = rows >= 0
    safe = np.where(has, rows, 0)
    keys = {col: np.where(has, part[col].to_numpy(dtype=object)[safe], None) if len(part) else np.full(len(lines), None, dtype=object)
            for col in LINE_KEYS if col in part.columns}
    credit_row = np.where(has, np.asarray(positions, dtype=np.int64)[safe] if len(positions) else -1, -1)
    return lines.drop(columns="row").assign(credit_row=credit_row, **keys)


def _credit_column(column: pd.Series, credit_row: np.ndarray, nullable_ints: bool = False):
    """``column``'s values at ``credit_row``: NaT / <NA> / None where it is -1 (month-level lines);
    integers stay 8-byte integers (nullable when a row has no credit or ``nullable_ints``)."""
    has = credit_row >= 0
    safe = np.where(has, credit_row, 0)
    if column.dtype.kind == "M":
        return np.where(has, column.to_numpy()[safe], np.datetime64("NaT")) if len(column) else np.full(len(credit_row), np.datetime64("NaT"), dtype="datetime64[ns]")
    if column.dtype.kind in "iu" or isinstance(column.dtype, pd.Int64Dtype):
        if has.all() and not nullable_ints and not isinstance(column.dtype, pd.Int64Dtype):
            return column.to_numpy()[safe]
        values = column.array if isinstance(column.dtype, pd.Int64Dtype) else pd.array(column.to_numpy("int64"), dtype="Int64")
        return values.take(np.where(has, credit_row, -1), allow_fill=True)
    if not len(column):
        return np.full(len(credit_row), None, dtype=object)
    return np.where(has, column.to_numpy(dtype=object)[safe], None)


def with_credit_columns(lines: pd.DataFrame, credits: pd.DataFrame) -> pd.DataFrame:
    """The month's lines (a frame of the caller's own, changed in place and returned) with their
    credit's own columns (CARRIED), taken once by ``credit_row``.
    What a line has set itself (a project share; every column of the lines built elsewhere -
    stage releases, clawbacks, pools, draws: no ``credit_row`` - missing ones NaN, as a
    concatenation leaves them) is kept."""
    if "credit_row" not in lines.columns:
        return lines
    credit_row = lines["credit_row"].to_numpy(dtype="float64")
    elsewhere = np.isnan(credit_row)
    credit_row = np.where(elsewhere, -1, credit_row).astype(np.int64)
    out = {}
    for col in CARRIED:
        if col not in credits.columns:
            continue
        values = _credit_column(credits[col], credit_row)
        own = lines[col] if col in lines.columns else None
        keep = elsewhere | (own.notna().to_numpy() if own is not None else False)
        if keep.any():
            if isinstance(values, np.ndarray) and values.dtype == object:
                values[keep] = own.to_numpy(dtype=object)[keep] if own is not None else np.nan
            elif isinstance(values, np.ndarray) and values.dtype.kind == "M":
                values[keep] = days_of(own)[keep] if own is not None else np.datetime64("NaT")
            else:  # integers: nullable, lines built elsewhere have <NA> unless they set it
                values = pd.array(values, dtype="Int64")
                values[keep] = pd.array(own.to_numpy(dtype=object)[keep], dtype="Int64") if own is not None else pd.NA
        out[col] = values
    for col, values in out.items():  # the month's own concatenation: set in place
        lines[col] = values
    del lines["credit_row"]
    return lines


def _split_project(lines: pd.DataFrame, project) -> pd.DataFrame:
    """Each project line's rounded amount shared by contribution (largest remainder: exact)."""
    contributors = list(project.contributions)
    pct = [project.contributions[m] for m in contributors]
    places = decimal_places(pct)
    weights = [scaled(p, places) for p in pct]
    k = len(contributors)
    rep = lines.loc[lines.index.repeat(k)].reset_index(drop=True)
    line_no = np.repeat(np.arange(len(lines)), k)
    w = np.tile(np.array(weights, dtype=object), len(lines))
    amount = allocate_rows(rep["amount_minor"].to_numpy(dtype=object), w, line_no)
    base = allocate_rows(rep["base_minor"].to_numpy(dtype=object), w, line_no)
    return rep.assign(member_id=np.tile(np.array(contributors, dtype=object), len(lines)), amount_minor=amount,
                      project_base_minor=rep["base_minor"], project_amount_minor=rep["amount_minor"],
                      base_minor=base, share=np.tile(np.array(pct, dtype=object), len(lines)),
                      project_id=project.project_id, line_type="project")


# ----------------------------------------------------------------------------- settle: stages and clawbacks


def _released(earned: pd.DataFrame, versions: dict[str, Commission], day: pd.Timestamp, stages: bool = False):
    """Per earning line, the part of its amount released by the end of ``day``; with
    ``stages``, also the stages each line's order has reached by then (``signed+shipped``,
    ``none``; None for lines of plans without stages)."""
    amount = earned["amount_minor"].to_numpy("int64")
    released = amount.copy()
    reached = np.full(len(earned), None, dtype=object)
    for (month, pid), positions in earned.groupby(["month", "plan_id"], sort=False).indices.items():
        plan = _plan(versions, month, pid)
        if plan is None or not plan.stages:
            continue
        part = earned.iloc[positions]
        places = decimal_places([s.percent for s in plan.stages])
        portions = allocate_matrix(amount[positions], [scaled(s.percent, places) for s in plan.stages])
        events = np.column_stack([days_of(part[f"{s.event}_day"]) for s in plan.stages])
        done = (~pd.isna(events)) & (events <= np.datetime64(day))
        released[positions] = np.where(done, portions, 0).sum(axis=1)
        if stages:  # one text per combination of stages reached (2**k at most), mapped back
            bits = (done * (1 << np.arange(len(plan.stages)))).sum(axis=1)
            names = [s.event for s in plan.stages]
            texts = np.array(["+".join(e for j, e in enumerate(names) if b >> j & 1) or "none"
                              for b in range(1 << len(names))], dtype=object)
            reached[positions] = texts[bits]
    return (released, reached) if stages else released


def _plan(versions: dict[str, Commission], month: str, plan_id: str) -> CommissionPlan | None:
    cm = versions.get(month)
    if cm is None:
        return None
    for p in cm.plans:
        if p.plan_id == plan_id:
            return p
    return None


EARNED_KEYS = ("member_id", "plan_id", "line_type", "amount_minor", "currency", "order_source", "order_id", "credit_row")
SETTLE_COLUMNS = (  # what settling reads of an earning line's credit
    "kind", "source", "record_id", "order_original_minor", "order_base_minor", "order_currency", "original_currency",
    "record_original_minor", "record_base_minor", "signed_day", "shipped_day", "collected_day",
)


def settle(earned: dict[str, pd.DataFrame], credits: pd.DataFrame, members: pd.DataFrame,
           versions: dict[str, Commission], month: Period) -> pd.DataFrame:
    """The month's lines after stages and clawbacks (see the module docstring)."""
    current = earned.get(month.label, pd.DataFrame())
    window = [f for f in earned.values() if len(f)]
    if not window or not any(p.stages or p.refund_mode == "clawback" for cm in versions.values() for p in cm.plans):
        return current
    # the earning lines of staged / clawback plans, only the columns settling reads (months oldest
    # first, so the current month's come last, in the order of its rows ``current_at``)
    kinds = credits["kind"].to_numpy(dtype=object)
    parts, current_at = [], np.zeros(0, dtype=np.int64)
    for label, frame in earned.items():
        if not len(frame):
            continue
        credit_row = frame["credit_row"].to_numpy()
        kind = np.where(credit_row >= 0, kinds[np.maximum(credit_row, 0)], None)
        is_earning = frame["line_type"].isin(["credit", "project"]).to_numpy() & np.isin(kind, EARNING_KINDS)
        codes, uniques = pd.factorize(frame["plan_id"].to_numpy(dtype=object))  # a few plans: judged once each
        staged_or_claw = np.array([_needs_settle(versions, label, p) for p in uniques] + [False], dtype=bool)[codes]
        at = np.flatnonzero(is_earning & staged_or_claw)
        if label == month.label:
            current_at = at
        if len(at):
            parts.append(frame.iloc[at][list(EARNED_KEYS)].assign(month=label))
    earning = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: pd.Series(dtype=object) for c in EARNED_KEYS}).assign(
        amount_minor=pd.Series(dtype="int64"), credit_row=pd.Series(dtype="int64"), month=pd.Series(dtype=object))
    # the credit's columns settling reads, taken once (integers nullable: a refund may not find its order)
    credit_row = earning["credit_row"].to_numpy("int64")
    earning = earning.assign(**{c: _credit_column(credits[c], credit_row, nullable_ints=True)
                                for c in SETTLE_COLUMNS if c in credits.columns})
    end = pd.Timestamp(month.end) - pd.Timedelta(days=1)
    end_before = pd.Timestamp(month.start) - pd.Timedelta(days=1)
    refunds = _claw_refunds(credits, members, versions, month)
    if earning.empty and refunds.empty:
        return current
    r1, stage = _released(earning, versions, end, stages=True)
    r0 = np.where(earning["month"].to_numpy(dtype=object) == month.label, 0, _released(earning, versions, end_before))
    key = ["member_id", "plan_id", "order_source", "order_id"]
    earning = earning.assign(r1=r1, r0=r0, stage=stage)
    groups = earning.groupby(key, sort=False, dropna=False).agg(
        E=("amount_minor", "sum"), R1=("r1", "sum"), R0=("r0", "sum"),
        currency=("currency", "first"), order_original_minor=("order_original_minor", "first"),
        order_base_minor=("order_base_minor", "first"), order_currency=("order_currency", "first"),
        original_currency=("original_currency", "first"), record_original_minor=("record_original_minor", "sum"),
        record_base_minor=("record_base_minor", "first"), earn_month=("month", "first"), stage=("stage", "first"),
    ).reset_index()
    # clawed back: C_k = round(E x refunded fraction so far) at each clawback refund, per group
    rkey = ["member_id", "refund_plan_id", "order_source", "order_id"]
    now = refunds.iloc[0:0]
    groups["c0"], groups["c1"] = 0, 0
    if len(refunds):
        refunds = refunds.merge(groups.drop(columns=["c0", "c1"]).rename(columns={"plan_id": "refund_plan_id"}), how="left",
                                on=rkey, suffixes=("", "_order"))
        refunds = refunds.assign(found=refunds["E"].notna())
        refunds = refunds.assign(_g=pd.factorize(pd.MultiIndex.from_frame(refunds[rkey].astype(object)))[0])
        refunds = refunds.sort_values(["_g", "credited_at", "record_id"], kind="stable").reset_index(drop=True)
        found = refunds["found"].to_numpy(dtype=bool)
        same = (refunds["original_currency"] == refunds["order_currency_order"]).to_numpy(dtype=bool)
        order_amt = np.where(same, refunds["order_original_minor_order"].astype(object), refunds["order_base_minor_order"].astype(object))
        refund_amt = np.where(same, refunds["record_original_minor"].astype(object), refunds["record_base_minor"].astype(object))
        order_amt = np.where(found & pd.notna(order_amt), order_amt, 0).astype(object)
        refund_amt = abs_obj(np.where(found, refund_amt, 0).astype(object))
        cum_amt = group_cumsum(refund_amt, refunds["_g"].to_numpy())
        capped = np.where(cum_amt > order_amt, order_amt, cum_amt).astype(object)
        E = np.where(found, refunds["E"].fillna(0).astype(object), 0).astype(object)
        currency = refunds["currency_order"].where(refunds["found"], refunds["currency"])
        earn_month, refund_plan = refunds["earn_month"].to_numpy(dtype=object), refunds["refund_plan_id"].to_numpy(dtype=object)
        which, first = combination_codes(earn_month, refund_plan, currency.to_numpy(dtype=object))  # a few (month, plan, currency)
        place = np.array([_place_of(versions, earn_month[i], refund_plan[i], currency.iloc[i]) for i in first] + [1], dtype=object)[which]
        mode = np.array([_mode_of(versions, earn_month[i], refund_plan[i]) for i in first] + ["half_up"], dtype=object)[which]
        ck = np.zeros(len(refunds), dtype=object)
        for md in set(mode.tolist()):
            sel = mode == md
            ck[sel] = _round_fraction(E[sel] * capped[sel], np.where(order_amt[sel] == 0, 1, order_amt[sel]).astype(object), place[sel], md)
        ck = np.where(order_amt == 0, 0, ck).astype(object)
        prev = pd.Series(ck, dtype=object).groupby(refunds["_g"].to_numpy()).shift(1).to_numpy(dtype=object)
        prev = np.where(pd.isna(prev), 0, prev).astype(object)
        refunds = refunds.assign(C=ck, C_prev=prev, currency_line=currency)
        in_month = (refunds["month"] == month.label).to_numpy()
        last_before = refunds[~in_month].groupby(rkey, dropna=False)["C"].last().rename("c0").reset_index()
        last_now = refunds.groupby(rkey, dropna=False)["C"].last().rename("c1").reset_index()
        g = groups.drop(columns=["c0", "c1"]).merge(last_before.rename(columns={"refund_plan_id": "plan_id"}), how="left", on=key)
        g = g.merge(last_now.rename(columns={"refund_plan_id": "plan_id"}), how="left", on=key)
        groups = g.assign(c0=g["c0"].astype(object).where(g["c0"].notna(), 0), c1=g["c1"].astype(object).where(g["c1"].notna(), 0))
        now = refunds[in_month]
    c0 = groups["c0"].to_numpy(dtype=object)
    c1 = groups["c1"].to_numpy(dtype=object)
    E, R0, R1 = (groups[c].to_numpy(dtype=object) for c in ("E", "R0", "R1"))
    # min for what an order earned; for a negative earning (a band amount given back) the mirror image
    paid0 = _paid(R0, E, c0)
    release = _paid(R1, E, c0) - paid0
    held = np.where(E >= 0, np.maximum(E - c1 - R1, 0), 0) if len(groups) else np.zeros(0, dtype=object)
    groups = groups.assign(release=release, held=held, c0=c0, c1=c1)
    out = current if len(current) else pd.DataFrame()  # RangeIndex (earn_month); updated in place below, not copied
    if len(out):
        # this month's earning lines pay what is released by month end (whole columns set at once)
        n = len(out)
        amount, held = out["amount_minor"].to_numpy("int64").copy(), np.zeros(n, dtype="int64")
        earned = pd.array(np.zeros(n, dtype="int64"), dtype="Int64")  # what each staged line earned; <NA> elsewhere
        earned[:] = pd.NA
        stages_reached = np.full(n, None, dtype=object)
        mine = earning.iloc[len(earning) - len(current_at):]
        if len(mine):
            at = current_at
            amount[at] = mine["r1"].to_numpy("int64")
            held[at] = (mine["amount_minor"] - mine["r1"]).to_numpy("int64")
            earned[at] = mine["amount_minor"].to_numpy("int64")
            stages_reached[at] = mine["stage"].to_numpy(dtype=object)
        out["amount_minor"], out["held_minor"], out["earned_minor"], out["stage"] = amount, held, earned, stages_reached
    extra = []
    old = groups[(groups["earn_month"] != month.label) & (groups["release"] != 0)]
    if len(old):
        extra.append(pd.DataFrame({
            "member_id": old["member_id"], "plan_id": old["plan_id"], "order_source": old["order_source"],
            "order_id": old["order_id"], "line_type": "release", "rule": "stage_release", "kind": "release",
            "record_id": old["order_id"], "amount_minor": old["release"].astype("int64"), "base_minor": 0,
            "currency": old["currency"], "held_minor": old["held"].astype("int64"), "earned_minor": old["E"].astype("int64"),
            "earned_in": old["earn_month"], "month": month.label, "stage": old["stage"],
            "credited_date": pd.Timestamp(end), "credited_at": pd.NaT, "detail": None,
        }))
    if len(now):
        R1g = np.where(now["found"], now["R1"].astype(object), 0).astype(object)
        Eg = np.where(now["found"], now["E"].astype(object), 0).astype(object)
        ck, prev_c = now["C"].to_numpy(dtype=object), now["C_prev"].to_numpy(dtype=object)
        claw = (_paid(R1g, Eg, ck) - _paid(R1g, Eg, prev_c)).astype("int64")
        extra.append(pd.DataFrame({
            "member_id": now["member_id"], "plan_id": now["refund_plan_id"], "order_source": now["order_source"],
            "order_id": now["order_id"], "line_type": "clawback", "rule": "clawback", "kind": now["kind"],
            "record_id": now["record_id"], "source": now["source"], "amount_minor": claw,
            "base_minor": now["base_minor"].astype("int64"), "currency": now["currency_line"],
            "held_minor": 0, "clawed_minor": (ck - prev_c).astype("int64"), "earned_minor": Eg.astype("int64"),
            "earned_in": now["earn_month"], "found": now["found"].to_numpy(dtype=bool), "month": month.label,
            "team_id": now["team_id"], "credited_date": now["credited_date"], "credited_at": now["credited_at"],
            "fx_rate": now["fx_rate"], "detail": None,
        }))
    if extra:
        out = pd.concat([out] + extra, ignore_index=True) if len(out) else pd.concat(extra, ignore_index=True)
    # held shown where the group's last line of the month is
    if len(groups) and len(out):
        # one code per (member, plan, order) over the lines and the groups together (no MultiIndex of a million rows)
        n = len(out)
        code, _ = combination_codes(*(np.concatenate([out[c].to_numpy(dtype=object), groups[c].to_numpy(dtype=object)]) for c in key))
        held_by_code = np.full(code.max() + 1, None, dtype=object)
        group_code = code[n:]
        first_of_group = np.flatnonzero(~pd.Series(group_code).duplicated().to_numpy())  # the first group of a key
        held_by_code[group_code[first_of_group]] = groups["held"].to_numpy(dtype=object)[first_of_group]
        group_held = held_by_code[code[:n]]
        is_last = ~pd.Series(code[:n]).duplicated(keep="last").to_numpy()
        settled = out["line_type"].isin(["credit", "project", "release", "clawback"]).to_numpy() & pd.notna(group_held)
        out["held_minor"] = np.where(settled & is_last, group_held, np.where(settled, 0, out.get("held_minor", 0))).astype("int64")
    return out


def _paid(released, earned, clawed) -> np.ndarray:
    """What an order has paid so far: its released part, less what refunds clawed back beyond
    the part still held - ``min(R, E - C)`` (``max`` for a negative earning)."""
    released, earned, clawed = as_objects(released), as_objects(earned), as_objects(clawed)
    return np.where(earned >= 0, np.minimum(released, earned - clawed), np.maximum(released, earned - clawed)).astype(object)


def _needs_settle(versions, month, plan_id) -> bool:
    plan = _plan(versions, month, plan_id)
    return plan is not None and (bool(plan.stages) or plan.refund_mode == "clawback")


def _place_of(versions, month, plan_id, currency) -> int:
    plan = _plan(versions, month, plan_id)
    return place_minor(plan.rounding if plan else Rounding(), currency) if isinstance(currency, str) else 1


def _mode_of(versions, month, plan_id) -> str:
    plan = _plan(versions, month, plan_id)
    return plan.rounding.mode if plan else "half_up"


def _round_fraction(numerator, denominator, place, mode) -> np.ndarray:
    """numerator / denominator rounded to a multiple of ``place`` (arrays of Python ints, one
    denominator and place per row)."""
    place = as_objects(place)
    return (as_objects(round_scaled(numerator, as_objects(denominator) * place, mode)) * place).astype(object)


def _claw_refunds(credits: pd.DataFrame, members: pd.DataFrame, versions: dict[str, Commission], month: Period) -> pd.DataFrame:
    """Refunds in the window whose member's plan (in the refund's month) claws back."""
    refunds = credits[credits["kind"].isin(REFUND_KINDS) & (credits["month"] <= month.label)]
    if refunds.empty:
        return refunds.assign(refund_plan_id=pd.Series(dtype=object))
    frames = []
    for m, part in refunds.groupby("month", sort=False):
        cm = versions.get(m)
        if cm is None:
            continue
        plans = assign(members, cm)
        pid = part["member_id"].map(plans)
        mode = pid.map({p.plan_id: p.refund_mode for p in cm.plans})
        projects = project_of(part, cm)
        keep = (mode == "clawback").to_numpy() & pd.isna(projects)
        frames.append(part[keep].assign(refund_plan_id=pid[keep].to_numpy(dtype=object)))
    if not frames:
        return refunds.iloc[0:0].assign(refund_plan_id=pd.Series(dtype=object))
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- draws and pools


def draw_lines(lines: pd.DataFrame, members: pd.DataFrame, commission: Commission, month: Period,
               prior_lines: pd.DataFrame | None, team_currency: dict) -> pd.DataFrame:
    """Per member on a plan with a draw: top up to the draw, or recover an owed draw from the
    part of this month's commission above it (never below the draw)."""
    if not any(p.draw for p in commission.plans):
        return pd.DataFrame()
    plans = assign(members, commission)
    people = _member_table(members)
    rows = []
    for plan in commission.plans:
        if plan.draw is None:
            continue
        who = [m for m in plans[plans == plan.plan_id].index if bool(people["active"].astype("boolean").fillna(True).get(m, True))]
        for m in who:  # per member, not per line
            mine = lines[lines["member_id"] == m] if len(lines) else lines
            currency = plan.payout_currency or plan.currency or (mine["currency"].iloc[0] if len(mine) else None)
            if currency is None:
                currency = team_currency.get(people.loc[m, "team_id"] if m in people.index else None)
            earned = int(mine["amount_minor"].sum()) if len(mine) else 0
            draw = _to_minor_exact(plan.draw.amount, currency)
            owed = 0
            if prior_lines is not None and len(prior_lines):
                p = prior_lines[(prior_lines["member_id"] == m) & (prior_lines["month"].astype(str) < month.label)]
                owed = int(p.loc[p["rule"].isin(["draw_recoverable", "draw_recovery"]), "amount_minor"].sum())
            if earned < draw:
                rule = "draw_recoverable" if plan.draw.recoverable else "draw"
                text = (f"draw {minor_text(draw, currency)} {currency}: commission {minor_text(earned, currency)} topped up"
                        + (f"; recoverable, owed after this month {minor_text(owed + draw - earned, currency)}" if plan.draw.recoverable else "; not recoverable"))
                rows.append(dict(member_id=m, plan_id=plan.plan_id, rule=rule, amount_minor=draw - earned, currency=currency, detail=text))
            elif plan.draw.recoverable and owed > 0 and earned > draw:
                back = min(earned - draw, owed)
                text = (f"draw recovery: owed {minor_text(owed, currency)} {currency}, commission {minor_text(earned, currency)} is "
                        f"{minor_text(earned - draw, currency)} above the draw; recovered {minor_text(back, currency)}, still owed {minor_text(owed - back, currency)}")
                rows.append(dict(member_id=m, plan_id=plan.plan_id, rule="draw_recovery", amount_minor=-back, currency=currency, detail=text))
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).assign(line_type="draw", kind="draw", base_minor=0, month=month.label,
                                     credited_date=payout_day(month), held_minor=0)


def pool_lines(credits: pd.DataFrame, members: pd.DataFrame, teams: pd.DataFrame, commission: Commission,
               month: Period, inputs: PlanInputs) -> pd.DataFrame:
    """Team pools: funded at target, split by result x role coefficient, exactly."""
    if not commission.pools:
        return pd.DataFrame()
    people = _member_table(members)
    bases = teams.drop_duplicates("team_id").set_index("team_id")["base_currency"]
    month_credits = credits[(credits["month"] == month.label) & credits["kind"].isin(("order",) + REFUND_KINDS)]
    rows = []
    for pool in commission.pools:
        currency = bases.get(pool.team_id)
        team_members = people[people["team_id"] == pool.team_id]
        mine = month_credits[month_credits["member_id"].isin(team_members.index)]
        by_member = mine.groupby("member_id")["base_minor"].sum()
        result = int(by_member.sum())
        if pool.target is not None:
            target = _to_minor_exact(pool.target, currency)
        else:
            t = _member_targets(inputs.targets, month, scope="team")
            if pool.team_id not in t.index:
                raise PlanError([f"commission.pools: {pool.pool_id}: no {month.label} revenue target for team {pool.team_id}"])
            target = int(Decimal(t.loc[pool.team_id, "value"]).scaleb(exponent(currency)).quantize(Decimal(1), ROUND_HALF_UP))
        if result < target:
            continue
        place = place_minor(pool.rounding, currency)
        if pool.amount is not None:
            total = _to_minor_exact(pool.amount, currency)
            funding = f"fixed {format_major(pool.amount)} {currency}"
        else:
            p = decimal_places([pool.rate])
            total = int(round_to_place(np.array([result * scaled(pool.rate, p)], dtype=object), 10**p, place, pool.rounding.mode)[0])
            funding = f"{format_percent(pool.rate)} of team result {minor_text(result, currency)} {currency}"
        ids = [m for m in by_member.index if by_member[m] > 0]
        if not ids:
            continue
        coefs = [Decimal(pool.role_coefficients.get(people.loc[m, "role"], 1)) for m in ids]
        cp = decimal_places(coefs)
        weights = np.array([int(by_member[m]) * scaled(c, cp) for m, c in zip(ids, coefs)], dtype=object)
        units = allocate(total // place, weights) * place if total % place == 0 else allocate(total, weights)
        whole = int(sum(weights))
        for m, c, w, amt in zip(ids, coefs, weights, units):
            share = (Decimal(int(w)) / Decimal(whole) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            text = (f"team pool {pool.pool_id} {minor_text(total, currency)} {currency} ({funding}; team result "
                    f"{minor_text(result, currency)} ≥ target {minor_text(target, currency)}): your result "
                    f"{minor_text(int(by_member[m]), currency)} × role {people.loc[m, 'role']} {c.normalize():f} = {share}% of the weighted total")
            rows.append(dict(member_id=m, plan_id=f"pool:{pool.pool_id}", rule="pool", amount_minor=int(amt), currency=currency,
                             base_minor=int(by_member[m]), multiplier=c, detail=text, team_id=pool.team_id))
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).assign(line_type="pool", kind="pool", month=month.label, credited_date=payout_day(month), held_minor=0)


# ----------------------------------------------------------------------------- the month


def needs_lookback(commission: Commission) -> int:
    """How many earlier months must be earned again: stages and clawbacks look back."""
    back = [p.lookback_months for p in commission.plans if p.stages or p.refund_mode == "clawback"]
    return max(back) if back else 0


def compute_month(credits: pd.DataFrame, members: pd.DataFrame, teams: pd.DataFrame, commission: Commission,
                  month: Period, inputs: PlanInputs = PlanInputs()) -> pd.DataFrame:
    """All of ``month``'s lines for every member (credit lines, month-level lines, stage
    releases, clawbacks, project shares, draws, pools), in statement order per member, with
    ``amount_minor`` per line and the running ``cumulative_amount_minor``. ``credits`` may
    hold earlier months too (stages and clawbacks need them)."""
    credits = with_extras(credits)
    current = commission.for_month(month.label)
    months = months_back(month, needs_lookback(current))
    versions = {m.label: commission.for_month(m.label) for m in months}
    preflight(credits, members, teams, commission, months, month, inputs)
    credits = expand_splits(credits, commission)
    earned = {m.label: earn_month(credits, members, versions[m.label], m, inputs) for m in months}
    lines = settle(earned, credits, members, versions, month)
    del earned  # every month's earning lines: settled into ``lines``, not needed beside them
    team_currency = teams.drop_duplicates("team_id").set_index("team_id")["base_currency"].to_dict()
    draws = draw_lines(lines, members, current, month, inputs.prior_lines, team_currency)
    pools = pool_lines(credits, members, teams, current, month, inputs)
    from transforms.commissions import LINE_COLUMNS

    # only the columns the statement keeps or explains from, dropped in place (``lines`` is settle's
    # own frame): the lines are not copied whole once more before the concatenation
    for f in (lines, draws, pools):
        for c in [c for c in f.columns if c not in LINE_COLUMNS and c != "credit_row"]:
            del f[c]
    parts = [f for f in (lines, draws, pools) if len(f)]
    del lines
    if not parts:
        return pd.DataFrame()
    out = with_credit_columns(pd.concat(parts, ignore_index=True), credits)
    out["month"] = month.label
    return out
