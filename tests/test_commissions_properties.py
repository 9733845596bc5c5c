"""Properties of commission arithmetic (hypothesis): exact, telescoping, monotone, refund-neutral."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from config.models import Commission, CommissionPlan
from transforms.commissions import commission_lines, schedule_for
from transforms.periods import parse_period
from transforms.schema import CREDITS

OCT = parse_period("2026-10")
MEMBERS = pd.DataFrame({"member_id": ["M1", "M2"], "name": ["a", "b"], "team_id": ["T1", "T1"], "role": ["sales", "sales"],
                        "active": [True, True]})
TEAMS = pd.DataFrame({"team_id": ["T1"], "name": ["t"], "base_currency": ["CNY"], "lead_member_id": [None]})

rates = st.decimals(min_value=0, max_value=1, places=4)
amounts = st.integers(min_value=-5 * 10**8, max_value=10**10)  # minor units: -5M .. 100M CNY
huge = st.integers(min_value=-(10**15), max_value=10**16)  # beyond int64-safe products: the exact object path


@st.composite
def plans(draw) -> CommissionPlan:
    if draw(st.booleans()):
        return CommissionPlan(plan_id="p", name="flat", kind="flat", rate=draw(rates))
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=10**8), min_size=0, max_size=4)))
    cents = draw(st.sampled_from([Decimal(1), Decimal("0.01")]))
    tiers = [{"up_to": Decimal(b) * cents, "rate": draw(rates)} for b in bounds] + [{"rate": draw(rates)}]
    return CommissionPlan(plan_id="p", name="tiered", kind="tiered", tiers=tiers)


def credits(bases: list[int], members: list[str] | None = None) -> pd.DataFrame:
    n = len(bases)
    members = members or ["M1"] * n
    at = pd.Timestamp("2026-10-01 01:00") + pd.to_timedelta(np.arange(n), unit="min")
    frame = pd.DataFrame(
        {
            "month": OCT.label, "member_id": members, "team_id": "T1",
            "kind": ["order" if b >= 0 else "refund" for b in bases], "source": "s",
            "record_id": [f"X{i:06d}" for i in range(n)], "order_source": "s",
            "order_id": [f"X{i:06d}" for i in range(n)], "credited_at": at, "credited_date": at.normalize(),
            "base_minor": pd.Series(bases, dtype="int64"), "currency": "CNY", "fx_rate": Decimal(1),
            "original_currency": "CNY", "original_amount_minor": pd.Series(bases, dtype="int64"),
        }
    )
    return frame[list(CREDITS)]


def lines_for(plan: CommissionPlan, frame: pd.DataFrame) -> pd.DataFrame:
    return commission_lines(frame, MEMBERS, TEAMS, Commission(plans=[plan], default_plan="p"), OCT)


def reference_commission(plan: CommissionPlan, x: int) -> Decimal:
    """F(x) in minor units, straight from the definition, in Decimal (no integer tricks)."""
    if plan.kind == "flat":
        return plan.rate * x
    bands, lower = [], Decimal(0)
    for tier in plan.tiers:
        upper = None if tier.up_to is None else tier.up_to * 100
        bands.append((lower, upper, tier.rate))
        lower = upper
    if x < 0:
        return bands[0][2] * x
    total = Decimal(0)
    for lo, hi, rate in bands:
        top = Decimal(x) if hi is None else min(Decimal(x), hi)
        total += rate * max(Decimal(0), top - lo)
    return total


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=150, deadline=None)
@given(plan=plans(), bases=st.lists(amounts, min_size=1, max_size=25), split=st.integers(min_value=0, max_value=25))
def test_lines_sum_exactly_to_the_rounded_total_per_member(plan, bases, split):
    members = ["M1" if i < split else "M2" for i in range(len(bases))]
    lines = lines_for(plan, credits(bases, members))
    assert len(lines) == len(bases)
    for member, group in lines.groupby("member_id"):
        total = sum(b for b, m in zip(bases, members) if m == member)
        expected = round_half_up(reference_commission(plan, total))
        assert int(group["amount_minor"].sum()) == expected
        assert int(group["cumulative_amount_minor"].iloc[-1]) == expected
        assert int(group["cumulative_base_minor"].iloc[-1]) == total


@settings(max_examples=200, deadline=None)
@given(plan=plans(), x=huge, step=st.integers(min_value=0, max_value=10**9))
def test_marginal_commission_is_exact_non_decreasing_and_continuous(plan, x, step):
    schedule = schedule_for(plan, "CNY")
    scale = 10**schedule.places
    low, high = schedule.commission_scaled([x, x + step])
    assert Decimal(int(low)) / scale == reference_commission(plan, x)  # exact on either arithmetic path
    max_rate = max(schedule.rates)
    assert 0 <= int(high) - int(low) <= int(max_rate * scale) * step  # monotone, Lipschitz: no jumps
    one = schedule.commission_minor([x, x + 1])
    assert 0 <= int(one[1]) - int(one[0]) <= 1  # a unit more base never pays more than one unit more


@settings(max_examples=100, deadline=None)
@given(plan=plans(), bases=st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=20), data=st.data())
def test_a_full_refund_in_the_same_month_brings_the_total_back_exactly(plan, bases, data):
    refunded = data.draw(st.integers(min_value=0, max_value=len(bases) - 1))
    later = data.draw(st.integers(min_value=refunded + 1, max_value=len(bases)))
    with_refund = bases[:later] + [-bases[refunded]] + bases[later:]
    without = bases[:refunded] + bases[refunded + 1 :]
    total = lines_for(plan, credits(with_refund))["amount_minor"].sum()
    expected = lines_for(plan, credits(without))["amount_minor"].sum() if without else 0
    assert total == expected


@settings(max_examples=150, deadline=None)
@given(rate=rates, bases=st.lists(amounts, min_size=1, max_size=30))
def test_flat_total_is_the_rounded_rate_times_the_summed_base(rate, bases):
    plan = CommissionPlan(plan_id="p", name="flat", kind="flat", rate=rate)
    lines = lines_for(plan, credits(bases))
    assert lines["amount_minor"].sum() == round_half_up(rate * sum(bases))
    # and each line is within one unit of its own base x rate (the cumulative rounding moves at most a unit)
    for base, amount in zip(bases, lines["amount_minor"]):
        assert abs(Decimal(int(amount)) - rate * base) <= 1


# ----------------------------------------------------------------------------- vectorised exact helpers (transforms.exact)

int64s = st.integers(min_value=-(2**62), max_value=2**62)


@given(values=st.lists(int64s, max_size=40), currency=st.sampled_from(["CNY", "JPY", "BHD", "USD"]))
def test_vectorised_amount_text_is_what_python_formatting_writes(values, currency):
    from transforms.exact import format_minor
    from transforms.money import exponent

    digits = exponent(currency)

    def written(v):
        whole, frac = divmod(abs(v), 10**digits)
        return ("-" if v < 0 else "") + f"{whole:,}" + (f".{frac:0{digits}d}" if digits else "")

    assert list(format_minor(values, currency)) == [written(v) for v in values]


@given(totals=st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1, max_size=30),
       weights=st.lists(st.integers(min_value=0, max_value=10**4), min_size=1, max_size=4), huge_weights=st.booleans())
def test_allocations_split_each_total_exactly_like_the_one_at_a_time_allocate(totals, weights, huge_weights):
    from transforms.exact import allocate, allocate_matrix, allocate_rows

    if huge_weights:  # products beyond int64: the Python-int path must give the same split
        weights = [w * 10**15 for w in weights]
    expected = [list(allocate(t, np.array(weights, dtype=object))) for t in totals]
    assert allocate_matrix(totals, weights).tolist() == expected
    k = len(weights)
    rows = allocate_rows(np.repeat(np.array(totals, dtype=object), k), np.tile(np.array(weights, dtype=object), len(totals)),
                         np.repeat(np.arange(len(totals)), k))
    assert rows.reshape(len(totals), k).tolist() == expected


def test_int64_is_used_only_where_every_product_fits():
    from transforms.exact import fits_int64

    assert fits_int64(np.array([10**9]), np.array([10**9]), factor=4)
    assert not fits_int64(np.array([2**31]), np.array([2**31]))  # 2**62: at the bound, refused
    assert not fits_int64(np.array([10**20], dtype=object))
