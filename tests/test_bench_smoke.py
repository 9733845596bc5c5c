"""Each benchmark at a tiny size, so that `make bench` does not rot. No timing assertions."""

from __future__ import annotations

import math
import os
from decimal import Decimal

import pandas as pd
import pytest

from bench import duck, worker
from bench.__main__ import render_markdown, slopes, table
from bench.generate import Shape, fresh, generate
from transforms.schema import INPUTS


def test_generator_is_seeded_exact_and_warehouse_shaped():
    shape = Shape(lines=3_000, members=160, days=90)  # three teams: CNY and USD, stores and B2B
    data, again = generate(shape, seed=3), generate(shape, seed=3)
    for name, columns in INPUTS.items():
        frame = getattr(data, name)
        assert list(frame.columns) == list(columns), name
        pd.testing.assert_frame_equal(frame, getattr(again, name))
        for col in columns:
            if col.endswith("_minor"):
                assert str(frame[col].dtype) in ("int64", "Int64"), (name, col)
    assert {type(v) for v in data.fx_rates["rate"]} == {Decimal}
    assert str(data.orders["ordered_at"].dtype) == "datetime64[ns]"
    assert set(data.orders["currency"]) >= {"USD", "EUR", "JPY", "GBP", "CNY"}
    assert len(data.collections) and len(data.refunds) and len(data.inquiries) and len(data.targets)
    # an order's gross is the exact sum of its lines' gross
    lines = data.order_lines.groupby(["source", "order_id"])["gross_minor"].sum()
    orders = data.orders.set_index(["source", "order_id"])["gross_minor"]
    assert (lines.reindex(orders.index) == orders).all()
    assert fresh(data) is not data and fresh(data).orders is data.orders


def test_compute_benchmark_smoke():
    figures = worker.compute(dict(lines=3_000, members=40, runs=1))
    assert figures[0].benchmark == "compute" and len(figures[0].seconds) == 1
    assert figures[0].peak_mb and figures[0].peak_mb > 0
    if duck.available():
        assert figures[0].note == "same results as DuckDB", figures[0].note
        assert len(figures) == 2


def test_duckdb_reference_matches_yeji_value_for_value():
    pytest.importorskip("duckdb")
    data = generate(Shape(lines=8_000, members=160, days=200), seed=11)  # CNY and USD teams, B2B collections
    commission = worker.settings().commission
    yeji = worker.yeji_compute(data, commission)
    reference = duck.compute(data, worker.WEEK, worker.MONTH, commission)
    assert duck.differences(yeji, reference) == []


def test_history_benchmark_smoke():
    figures = worker.history(dict(lines_per_day=30, members=30, short_days=60, long_days=120, runs=1, postgres=None))
    assert [f.benchmark for f in figures] == ["scaling", "scaling"]
    assert figures[1].reference == figures[0].name


def test_history_benchmark_smoke_on_postgresql():
    url = os.environ.get("YEJI_TEST_DATABASE_URL")
    if not url:
        pytest.skip("YEJI_TEST_DATABASE_URL is not set: PostgreSQL case skipped")
    figures = worker.history(dict(lines_per_day=30, members=30, short_days=60, long_days=120, runs=1, postgres=url))
    assert [f.name.split(",")[0] for f in figures] == ["weekly run from SQLite"] * 2 + ["weekly run from PostgreSQL"] * 2
    assert figures[3].reference == figures[2].name and all(len(f.seconds) == 1 for f in figures)
    from sqlalchemy import text

    from warehouse.db import make_engine

    engine = make_engine(url)  # the benchmark's databases are dropped after it
    with engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname LIKE 'yeji_bench_%'")).scalar()
    engine.dispose()
    assert left == 0


def test_render_benchmark_smoke():
    figures = worker.render(dict(members=4, runs=1, parallel=False))
    assert figures[0].extra["pdfs"] >= 1
    assert figures[1].name == figures[0].reference


def test_ingest_benchmark_smoke():
    figures = worker.ingest(dict(rows=300, members=20, runs=1))
    assert "300 loaded, 0 rejected" in figures[0].note and "300 unchanged, 0 inserted" in figures[0].note
    assert "skipped as load 1" in figures[1].note and "--force" in figures[2].name  # unchanged file: not read again
    assert not any("SLOT" in f.note for f in figures)


def test_store_sync_benchmark_smoke():
    figures = worker.sync(dict(orders=400, runs=1))
    assert "500 records (400 orders + Amazon finance events)" in figures[0].note
    assert "0 records read, 0 rows changed" in figures[1].note


def test_table_and_slopes():
    figures = worker.compute(dict(lines=2_000, members=20, runs=1)) + worker.compute(dict(lines=4_000, members=20, runs=1))
    rows = table(figures)
    assert len(rows) == len(figures) and all(len(r) == 7 for r in rows)
    if len(figures) == 4:  # with DuckDB: each size is compared with its own reference
        assert rows[0][4] == f"{figures[0].median / figures[1].median:.2f}x"
        assert rows[2][4] == f"{figures[2].median / figures[3].median:.2f}x"
    assert render_markdown(rows).startswith("| benchmark |")
    assert slopes(figures) and "slope" in slopes(figures)[0]


def test_commissions_benchmark_smoke():
    figures = worker.commissions(dict(lines=3_000, members=40, runs=1))
    assert [f.benchmark for f in figures] == ["commissions"] and figures[0].peak_mb > 0
    assert figures[0].extra["lines"] > 2_500 and figures[0].extra["lines_out"] > 2_500


def test_commissions_benchmark_exercises_every_scheme_and_reconciles():
    from bench import commissions as bc

    members, teams = bc.people(40)
    out = bc.compute(bc.credits(3_000, 40, seed=5), members, teams, bc.plans(40), bc.scores(40))
    lines = out["lines"]
    kinds = set(zip(lines["line_type"], lines["rule"]))
    for expected in [("credit", "tiered_retroactive"), ("credit", "tiered_marginal"), ("credit", "flat"),
                     ("member", "quota"), ("member", "evaluation"), ("project", "tiered_marginal"),
                     ("pool", "pool"), ("release", "stage_release"), ("clawback", "clawback")]:
        assert expected in kinds, expected
    assert (lines["held_minor"] > 0).any() and lines["multiplier"].notna().any()
    split = lines[lines["order_id"] == "O10000000"]
    assert split["member_id"].nunique() == 2  # the split order is credited to both members
    totals = lines.groupby("member_id")["amount_minor"].sum()
    summary = out["summary"].set_index("member_id")["amount_minor"]
    assert (summary.reindex(totals.index) == totals).all()
