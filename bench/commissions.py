"""The commission plan engine at scale (issue 3): one month for many members and credited lines.

``credits`` makes CREDITS + CREDIT_EXTRAS straight (no orders to aggregate first): the engine
is what is measured, not :func:`transforms.commission_credits.plan_credits`. ``PLANS`` combine
every scheme the engine has on the same data: retroactive tiers with a whole-month attainment
multiplier and a cap, marginal tiers with marginal attainment multipliers, an evaluation and a
floor, a flat plan with customer-class rates and signed / shipped / collected stages clawing
refunds back (so the month before is earned again), role coefficients everywhere, split
orders, a project and a team pool.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from config.plans import Commission
from transforms.commission_credits import CREDIT_EXTRAS
from transforms.periods import Period, parse_period
from transforms.schema import CREDITS

MONTH = parse_period("2026-11")
TEAMS = 10
ROLES = np.array(["sales"] * 7 + ["follow_up", "follow_up", "customer_service"], dtype=object)
SCORE_DIMENSIONS = ("skill", "attitude")


def _team(k: int) -> str:
    return f"T{k:02d}"


def plans(members: int) -> Commission:
    """Three plans over the ten teams (3 / 3 / 4), splits, a project and a pool."""
    def team_members(teams):
        return [f"M{i:04d}" for i in range(members) if i % TEAMS in teams]

    coefficients = {"sales": "1", "follow_up": "0.5", "customer_service": "0.3"}
    split_orders = [f"O{10_000_000 + n:08d}" for n in range(0, 4_000, 20)]  # 200 orders, spread over members
    return Commission.model_validate({
        "plans": [
            {"plan_id": "retro", "name": "Retroactive", "kind": "tiered", "tier_method": "retroactive",
             "members": team_members({0, 1, 2}), "role_coefficients": coefficients,
             "tiers": [{"from": 0, "to": 200000, "rate": "0.01"}, {"from": 200000, "to": 1000000, "rate": "0.015"},
                       {"from": 1000000, "rate": "0.02", "amount": 500}],
             "customer_classes": {"new": {"multiplier": "1.5"}, "key_account": {"multiplier": "1.2"}},
             "quota": {"amount": 600000, "method": "whole",
                       "multipliers": [{"from": 0, "to": "0.5", "multiplier": "0.5"}, {"from": "0.5", "to": 1, "multiplier": 1},
                                       {"from": 1, "multiplier": "1.2"}]},
             "cap": 30000},
            {"plan_id": "marginal", "name": "Marginal", "kind": "tiered", "tier_method": "marginal",
             "members": team_members({3, 4, 5}), "role_coefficients": coefficients,
             "tiers": [{"from": 0, "to": 300000, "rate": "0.01"}, {"from": 300000, "rate": "0.0125"}],
             "customer_classes": {"new": {"multiplier": "1.25"}},
             "quota": {"amount": 500000, "method": "marginal",
                       "multipliers": [{"from": 0, "to": 1, "multiplier": 1}, {"from": 1, "multiplier": "1.5"}]},
             "evaluation": {"weights": {"skill": "0.5", "attitude": "0.5"}, "scale": 5},
             "floor": 800},
            {"plan_id": "staged", "name": "Staged", "kind": "flat", "rate": "0.01",
             "members": team_members({6, 7, 8, 9}), "role_coefficients": coefficients,
             "customer_classes": {"new": {"rate": "0.03"}, "key_account": {"rate": "0.02"}},
             "stages": [{"event": "signed", "percent": 30}, {"event": "shipped", "percent": 30},
                        {"event": "collected", "percent": 40}],
             "refunds": "clawback", "lookback_months": 1},
        ],
        "splits": [{"order_id": o, "shares": {f"M{(n * 7) % members:04d}": 60, f"M{(n * 7 + 10) % members:04d}": 40}}
                   for n, o in enumerate(split_orders)],
        "projects": [{"project_id": "tender", "name": "Tender", "orders": [f"O{10_000_000 + n:08d}" for n in range(5, 1_000, 20)],
                      "tiers": [{"from": 0, "to": 100000, "rate": "0.02"}, {"from": 100000, "rate": "0.03"}],
                      "contributions": {"M0000": 50, "M0003": 30, "M0006": 20}}],
        "pools": [{"pool_id": "t00", "name": "Team 0 pool", "team_id": _team(0), "target": 20000, "amount": 5000,
                   "role_coefficients": {"follow_up": "0.5"}}],
    })


def people(members: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.array([f"M{i:04d}" for i in range(members)], dtype=object)
    team = np.array([_team(i % TEAMS) for i in range(members)], dtype=object)
    roles = ROLES[(np.arange(members) // TEAMS) % len(ROLES)]
    roles[:3] = "sales"  # the project's contributors
    members_frame = pd.DataFrame({"member_id": ids, "name": ids, "team_id": team, "role": roles, "manager_id": None,
                                  "email": None, "language": "zh-CN", "active": True})
    teams = pd.DataFrame({"team_id": [_team(k) for k in range(TEAMS)], "name": [f"Team {k}" for k in range(TEAMS)],
                          "base_currency": "CNY", "lead_member_id": None})
    return members_frame, teams


def _month_credits(rng: np.random.Generator, month: Period, n: int, members: int, first_order: int) -> pd.DataFrame:
    """``n`` credits of ``month``: 95% orders, 4% refunds, 1% cancellations of this month's orders."""
    weight = rng.pareto(1.2, members) + 1  # a few members sell much more than most
    member = rng.choice(members, size=n, p=weight / weight.sum())
    start = np.datetime64(month.start, "s") - np.timedelta64(8, "h")
    seconds = (month.end - month.start).days * 86_400
    at = np.sort(start + rng.integers(0, seconds, n).astype("timedelta64[s]")).astype("datetime64[ns]")
    day = (at + np.timedelta64(8, "h")).astype("datetime64[D]").astype("datetime64[ns]")
    base = np.maximum((rng.lognormal(10.5, 1.2, n)).astype("int64"), 100)
    roll = rng.random(n)
    kind = np.where(roll < 0.95, "order", np.where(roll < 0.99, "refund", "cancellation")).astype(object)
    is_order = kind == "order"
    order_no = np.full(n, -1, dtype="int64")
    order_no[is_order] = first_order + np.arange(int(is_order.sum()))
    # a refund refers to an earlier order of the month (its member and amount)
    orders_at = np.flatnonzero(is_order)
    refunds = np.flatnonzero(~is_order)
    earlier = np.searchsorted(orders_at, refunds) - 1
    has = earlier >= 0
    kind[refunds[~has]] = "order"
    order_no[refunds[~has]] = first_order + int(is_order.sum()) + np.arange(int((~has).sum()))
    refunds, earlier = refunds[has], earlier[has]
    refunded = orders_at[rng.integers(0, np.maximum(earlier, 0) + 1)]
    order_no[refunds] = order_no[refunded]
    member[refunds] = member[refunded]
    base[refunds] = -np.maximum(base[refunded] // rng.integers(1, 4, len(refunds)), 1)
    is_order = kind == "order"
    order_id = np.char.add("O", np.char.zfill(order_no.astype(str), 8)).astype(object)
    record_id = order_id.copy()
    record_id[~is_order] = np.char.add("R", np.char.zfill(np.arange(int((~is_order).sum())).astype(str), 8)).astype(object)
    record_id[~is_order] = np.char.add(record_id[~is_order].astype(str), month.label[-2:]).astype(object)
    usd = rng.random(n) < 0.3
    usd[refunds] = usd[refunded]  # a refund is in its order's currency
    rate = Decimal("7.1234")
    original = np.where(usd, (base * 10_000 // 71_234), base).astype("int64")
    member_ids = np.array([f"M{i:04d}" for i in range(members)], dtype=object)[member]
    team = np.array([_team(i % TEAMS) for i in range(members)], dtype=object)[member]
    customer = rng.integers(0, 60_000, n)
    previous = np.where(rng.random(n) < 0.35, np.datetime64("NaT"), day - rng.integers(1, 500, n).astype("timedelta64[D]"))
    shipped = np.where(is_order & (rng.random(n) < 0.7), day + rng.integers(0, 20, n).astype("timedelta64[D]"), np.datetime64("NaT"))
    collected = np.where(is_order & (rng.random(n) < 0.5), day + rng.integers(0, 40, n).astype("timedelta64[D]"), np.datetime64("NaT"))
    month_end = np.datetime64(month.end, "ns")
    shipped = np.where(shipped < month_end + np.timedelta64(31, "D"), shipped, np.datetime64("NaT"))
    signed = day.copy()
    signed[refunds] = day[refunded]  # a refund is judged on its order's day (customer class)
    order_base = base.copy()
    order_base[refunds] = base[refunded]
    order_original = original.copy()
    order_original[refunds] = original[refunded]
    frame = pd.DataFrame({
        "month": month.label, "member_id": member_ids, "team_id": team, "kind": kind, "source": "shop",
        "record_id": record_id, "order_source": "shop", "order_id": order_id, "credited_at": at, "credited_date": day,
        "base_minor": base, "currency": "CNY", "fx_rate": np.where(usd, rate, Decimal(1)),
        "original_currency": np.where(usd, "USD", "CNY").astype(object), "original_amount_minor": original,
        "customer_id": np.char.add("C", customer.astype(str)).astype(object),
        "key_account": customer % 50 == 0,
        "previous_order_day": pd.to_datetime(previous).astype("datetime64[ns]"),
        "gross_profit_minor": pd.array(np.where(is_order, base // 3, 0), dtype="Int64"),
        "signed_day": signed,
        "shipped_day": shipped.astype("datetime64[ns]"), "collected_day": collected.astype("datetime64[ns]"),
        "order_original_minor": pd.array(order_original, dtype="Int64"),
        "order_currency": np.where(usd, "USD", "CNY").astype(object),
        "order_base_minor": pd.array(order_base, dtype="Int64"),
    })
    return frame


def credits(lines: int, members: int, seed: int = 7, month: Period = MONTH) -> pd.DataFrame:
    """About ``lines`` credits in ``month`` plus a quarter as many the month before (the staged
    plan looks back one month)."""
    rng = np.random.default_rng(seed)
    before = _month_credits(rng, month.previous(), max(lines // 4, 1), members, 0)
    now = _month_credits(rng, month, lines, members, 10_000_000)
    out = pd.concat([before, now], ignore_index=True)
    return out[list(CREDITS + CREDIT_EXTRAS)]


def scores(members: int, month: Period = MONTH, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    values = np.array([Decimal(v) / 2 for v in range(4, 11)], dtype=object)  # 2.0 .. 5.0 by halves
    ids = [f"M{i:04d}" for i in range(members)]
    rows = [(m, month.label, d, values[rng.integers(0, len(values))]) for m in ids for d in SCORE_DIMENSIONS]
    return pd.DataFrame(rows, columns=["member_id", "period", "dimension", "score"])


def compute(credit_frame: pd.DataFrame, members: pd.DataFrame, teams: pd.DataFrame, commission: Commission,
            score_frame: pd.DataFrame, month: Period = MONTH) -> dict:
    """The month's lines and totals, as the monthly flow computes them (no I/O)."""
    from transforms.commission_engine import PlanInputs
    from transforms.commissions import commission_lines, commission_summary

    lines = commission_lines(credit_frame, members, teams, commission, month, PlanInputs(scores=score_frame))
    return {"lines": lines, "summary": commission_summary(lines, members, commission.for_month(month.label), month, teams)}


def run(p: dict) -> list:
    """The ``commissions`` benchmark: ``p["lines"]`` credits for ``p["members"]`` members,
    ``p["runs"]`` measured runs after one unmeasured run on tiny data (imports, first calls)."""
    import resource

    from bench.harness import Figure, measure

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    warm = credits(2_000, 40, seed=1)
    compute(warm, *people(40), plans(40), scores(40))
    members = p["members"]
    frame = credits(p["lines"], members, seed=p.get("seed", 7))
    member_frame, teams = people(members)
    commission, score_frame = plans(members), scores(members)
    seconds, peak, cpu_seconds, result = [], 0.0, [], None
    for _ in range(p["runs"]):
        started = cpu()
        s, mb, result = measure(lambda: compute(frame, member_frame, teams, commission, score_frame))
        cpu_seconds.append(cpu() - started)
        seconds.append(s)
        peak = max(peak, mb)
    lines = result["lines"]
    in_month = int((frame["month"] == MONTH.label).sum())
    kinds = lines["line_type"].value_counts().to_dict()
    note = (f"{len(lines):,} lines out ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}); "
            f"CPU {min(cpu_seconds):.1f}-{max(cpu_seconds):.1f} s; goal < 15 s, < 2 GB")
    return [Figure("commissions", f"commission plans, one month: {in_month:,} credited lines (+{len(frame) - in_month:,} the month "
                   f"before), {members} members", seconds, peak, note=note,
                   extra={"lines": in_month, "lines_out": len(lines), "cpu_seconds": cpu_seconds})]
