"""A weekly run on :func:`transforms.window.weekly_window` equals one on the whole history."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta

import pandas as pd
import pytest

from bench.generate import Shape, generate
from transforms import commissions, customers, metrics
from transforms.periods import month, parse_period
from transforms.window import weekly_window


def weekly_frames(data, period, trend_weeks=12, quiet_after_days=45, min_orders=2):
    last_day = period.end - timedelta(days=1)
    previous = period.previous()
    return {
        "member_metrics": pd.concat([metrics.member_metrics(data, period), metrics.member_metrics(data, previous)]),
        "team_metrics": pd.concat([metrics.team_metrics(data, period), metrics.team_metrics(data, previous)]),
        "trend": metrics.weekly_trend(data, period, trend_weeks),
        "mix_platform": metrics.mix(data, period, "platform"),
        "mix_country": metrics.mix(data, period, "country"),
        "top_customers": customers.top_customers(data, period, 5),
        "quiet_customers": customers.quiet_customers(data, last_day, quiet_after_days, min_orders=min_orders),
        "quiet_all": customers.quiet_customers(data, last_day, quiet_after_days),
        "credits": commissions.credits_for_month(data, month(last_day)),
    }


@pytest.fixture(scope="module")
def history():
    # two years, CNY and USD teams, stores and B2B with deposits and balances, refunds, inquiries
    data = generate(Shape(lines=40_000, members=160, days=730), seed=5)
    if "fees" not in {f.name for f in fields(data)}:
        return data
    # platform fees on every 7th order (gross profit deducts them)
    o = data.orders.iloc[::7]
    fees = pd.DataFrame({
        "source": o["source"].to_numpy(dtype=object), "fee_id": [f"F{i}" for i in range(len(o))],
        "order_source": o["source"].to_numpy(dtype=object), "order_id": o["order_id"].to_numpy(dtype=object),
        "fee_type": "referral", "posted_at": o["ordered_at"].to_numpy(), "currency": o["currency"].to_numpy(dtype=object),
        "amount_minor": (o["gross_minor"].astype("int64") // 10).to_numpy(),
    })
    return replace(data, fees=fees)


@pytest.mark.parametrize("label", ["2026-W46", "2026-W40", "2026-W05", "2025-W49"])
def test_windowed_weekly_run_equals_full_history(history, label):
    period = parse_period(label)
    window = weekly_window(history, period, trend_weeks=12, quiet_after_days=45)
    assert len(window.orders) < len(history.orders)
    full = weekly_frames(history, period)
    small = weekly_frames(window, period)
    for name, frame in full.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(small[name].reset_index(drop=True), frame.reset_index(drop=True), obj=name)


def test_outstanding_is_computed_once_per_day(history, monkeypatch):
    from transforms import facts as facts_module

    calls = []
    original = facts_module.outstanding_by_order
    monkeypatch.setattr(metrics, "outstanding_by_order", lambda *a: calls.append(a[2]) or original(*a))
    data = weekly_window(history, parse_period("2026-W46"))
    period = parse_period("2026-W46")
    metrics.member_metrics(data, period)
    metrics.team_metrics(data, period)
    metrics.member_metrics(data, period.previous())
    assert sorted(set(calls)) == sorted(calls) and len(calls) == 3


@pytest.mark.parametrize("day", ["2025-01-06", "2026-06-01", "2026-11-09", "2026-11-16"])
def test_outstanding_without_paid_orders_equals_outstanding_of_every_order(history, day):
    from transforms.facts import outstanding_by_order, sales_facts

    facts = sales_facts(history)
    as_of = pd.Timestamp(day)
    full = outstanding_by_order(facts.orders, facts.collections, as_of)
    pruned = metrics._outstanding(facts, as_of)
    assert len(pruned) < len(full) and full["outstanding_minor"].sum() > 0
    for key in ("member_id", "team_id"):
        expected = full.groupby(key)["outstanding_minor"].sum()
        got = pruned.groupby(key)["outstanding_minor"].sum().reindex(expected.index, fill_value=0)
        pd.testing.assert_series_equal(got, expected)
    assert full[~full.set_index(["source", "order_id"]).index.isin(pruned.set_index(["source", "order_id"]).index)][
        "outstanding_minor"
    ].eq(0).all()


# ----------------------------------------------------------------------------- reading the window from the warehouse


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history_warehouse(request, history, tmp_path_factory):
    """``history`` loaded into a real warehouse: a SQLite file, and PostgreSQL when
    ``YEJI_TEST_DATABASE_URL`` is set (skipped visibly otherwise)."""
    from bench.generate import to_warehouse
    from tests.conftest import empty_warehouse
    from warehouse.db import make_engine, migrate

    url = empty_warehouse(request.param, tmp_path_factory.mktemp("history"))
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        to_warehouse(history, conn)
    yield engine, _read_whole(engine, history)
    engine.dispose()


def _read_whole(engine, history):
    from flows.common import SALES_TABLES
    from warehouse.db import read_table

    with engine.connect() as conn:
        frames = {name: read_table(conn, table) for name, table in SALES_TABLES.items() if hasattr(history, name)}
    return replace(history, **frames, extra={})


def _read_window(engine, history, period):
    from transforms.window import window_bounds, window_extra
    from warehouse.reads import read_weekly_window

    # a customer's earlier order matters back to the new-customer window (the flow's bound)
    bounds = window_bounds(period, trend_weeks=12, quiet_after_days=45, new_customer_days=history.new_customer_window_days)
    with engine.connect() as conn:
        frames = read_weekly_window(conn, bounds)
    earlier, previous = frames.pop("earlier_orders"), frames.pop("previous_orders")
    return replace(history, **frames, extra=window_extra(earlier, previous, bounds)).check()


# near the history's start (2024-11-17: the first weeks with quiet customers), mid-history (a month running past the week), the last week
@pytest.mark.parametrize("label", ["2025-W05", "2025-W31", "2026-W05", "2026-W46"])
def test_weekly_run_read_with_where_clauses_equals_whole_tables(history_warehouse, history, label):
    period = parse_period(label)
    engine, whole = history_warehouse
    window = _read_window(engine, history, period)
    assert len(window.orders) < len(whole.orders) / 3
    earlier = window.extra["earlier_orders"]
    assert len(earlier) < len(whole.orders) / 3
    assert (earlier["ordered_at"] < window.extra["earlier_than"]).all()
    full = _with_lines(weekly_frames(whole, period), whole, period)
    small = _with_lines(weekly_frames(window, period), window, period)
    for name, frame in full.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(small[name].reset_index(drop=True), frame.reset_index(drop=True), obj=name)
    # the in-memory window of the whole tables gives the same figures too
    cut = _with_lines(weekly_frames(weekly_window(whole, period, trend_weeks=12, quiet_after_days=45), period), whole,
                      period)
    for name, frame in full.items():
        pd.testing.assert_frame_equal(cut[name].reset_index(drop=True), frame.reset_index(drop=True), obj=name)


def _with_lines(frames, data, period):
    """``frames`` with the month's commission lines (what the review shows); the credits, which
    list records in the order the tables were read (a whole-table read has no ORDER BY), sorted."""
    from bench.generate import settings

    month_so_far = month(period.end - timedelta(days=1))
    credits = frames["credits"]
    lines = commissions.commission_lines(credits, data.members, data.teams, settings().commission, month_so_far)
    return {**frames, "credits": credits.sort_values(["kind", "source", "record_id", "member_id"], kind="stable"),
            "commission_lines": lines}


def test_a_window_cut_for_one_week_refuses_another(history):
    window = weekly_window(history, parse_period("2026-W46"))
    assert weekly_window(window, parse_period("2026-W46")) is window
    with pytest.raises(ValueError, match="2026-W46.*2026-W40"):
        weekly_window(window, parse_period("2026-W40"))
