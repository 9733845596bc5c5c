"""Closed months never change; reruns become adjustment lines in the next open month
(real SQLite and PostgreSQL), and the `explain`, `close` and `commission simulate` commands."""

from __future__ import annotations

import pytest
import yaml

from config.plans import Commission
from tests.factories import order, refund, sales_data
from flows.monthly_commissions import month_in_warehouse
from transforms.periods import parse_period
from warehouse.commissions import (
    MonthClosed,
    close_month,
    month_lines,
    replace_month_lines,
    verify_closed,
)

OCT, NOV = parse_period("2026-10"), parse_period("2026-11")
CFG = Commission.model_validate({"plans": [{"plan_id": "p", "name": "P", "kind": "tiered", "tiers": [
    {"from": 0, "to": 1000, "rate": "0.01"}, {"from": 1000, "rate": "0.02"}]}], "default_plan": "p"})


def data(*extra_orders, refunds=()):
    return sales_data(orders=[order("A1", "2026-10-05 03:00", 800_00), order("A2", "2026-10-06 03:00", 500_00, member_id="M2"),
                              *extra_orders], refunds=list(refunds))


def run_month(conn, sales, month):
    return month_in_warehouse(conn, sales, CFG, month)


def test_a_closed_month_never_changes_and_differences_become_adjustments(engine):
    with engine.begin() as conn:
        first = run_month(conn, data(), OCT)
        assert first["summary"].set_index("member_id")["amount_minor"].to_dict() == {"M1": 8_00, "M2": 5_00}
        record = close_month(conn, OCT.label)
        assert record["totals"] == {"CNY": 13_00}
        with pytest.raises(MonthClosed):
            close_month(conn, OCT.label)
    locked = month_lines(engine.connect(), OCT.label)
    # a late order and a refund of October arrive; October is rerun
    late = data(order("A3", "2026-10-20 03:00", 400_00), refunds=[refund("R1", "2026-10-25 03:00", 500_00, order_id="A2")])
    with engine.begin() as conn:
        rerun = run_month(conn, late, OCT)
        assert verify_closed(conn, OCT.label)  # the stored statement is exactly what was closed
        with pytest.raises(MonthClosed):
            replace_month_lines(conn, OCT.label, rerun["lines"])
    assert rerun["lines"]["amount_minor"].tolist() == locked["amount_minor"].tolist()
    adjustments = rerun["adjustments"]
    assert set(adjustments["month"]) == {"2026-11"} and set(adjustments["adjusts_month"]) == {"2026-10"}
    # M1: 800 + 400 crosses 1,000: 8.00 + (2.00 + 4.00) = 14.00 -> +6.00; M2's order refunded in full: -5.00
    assert adjustments.groupby("member_id")["amount_minor"].sum().to_dict() == {"M1": 6_00, "M2": -5_00}
    assert adjustments["explanation"].str.startswith("Adjustment to closed month 2026-10").all()
    # rerunning again adds nothing: what was adjusted already counts
    with engine.begin() as conn:
        again = run_month(conn, late, OCT)
        assert again["adjustments"].empty
        november = run_month(conn, late, NOV)  # the open month shows the adjustments and keeps them
        assert november["lines"]["line_type"].tolist().count("adjustment") == len(adjustments)
        assert november["summary"].set_index("member_id")["amount_minor"].to_dict() == {"M1": 6_00, "M2": -5_00}
        run_month(conn, late, NOV)
        stored_nov = month_lines(conn, NOV.label)
    assert int(stored_nov["amount_minor"].sum()) == 1_00
    assert stored_nov["adjusts_month"].tolist().count("2026-10") == len(adjustments)


def test_closing_needs_computed_lines(engine):
    with engine.begin() as conn, pytest.raises(RuntimeError, match="run `yeji run monthly-commissions --month 2026-09`"):
        close_month(conn, "2026-09")


def _workspace(tmp_path, url=None):
    (tmp_path / "yeji.yaml").write_text(yaml.safe_dump({"warehouse_url": url or f"sqlite:///{tmp_path / 'warehouse.db'}",
                                                         "commission": CFG.model_dump(mode="json", by_alias=True)}))
    return tmp_path


def test_explain_and_close_commands(tmp_path, capsys):
    from config.loader import load_workspace, warehouse_url
    from warehouse.db import make_engine, migrate
    from yeji.cli import main

    root = _workspace(tmp_path)
    engine = make_engine(warehouse_url(load_workspace(root)))
    migrate(engine)
    with engine.begin() as conn:
        run_month(conn, data(order("A3", "2026-10-20 03:00", 400_00)), OCT)
    engine.dispose()
    assert main(["-w", str(root), "explain", "--member", "M1", "--month", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "Order A1 (2026-10-05)" in out and "Total 14.00 CNY over 2 line(s) = sum of lines" in out
    assert main(["-w", str(root), "close", "--month", "2026-10"]) == 0
    assert "Commission month 2026-10 closed: 3 line(s), 19.00 CNY" in capsys.readouterr().out
    assert main(["-w", str(root), "close", "--month", "2026-10"]) == 1
    assert "already closed" in capsys.readouterr().out
    assert main(["-w", str(root), "explain", "--member", "nobody", "--month", "2026-10"]) == 1


PLAN = """\
plan_id: trial
name: Trial
kind: tiered
tier_method: retroactive
tiers:
  - {from: 0, to: 1000, rate: 0.01}
  - {from: 1000, rate: 0.02}
customer_classes:
  new: {multiplier: 2}
"""


def test_simulate_runs_a_plan_file_over_a_csv(tmp_path, capsys):
    from yeji.cli import main

    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "credits.csv").write_text(
        "member_id,date,amount,currency,order_id,customer_class\n"
        "lina,2026-10-03,600.00,CNY,A1,returning\n"
        "lina,2026-10-09,600.00,CNY,A2,new\n"
        "wang,2026-10-09,100.00,CNY,B1,returning\n"
        "lina,2026-11-02,-600.00,CNY,A2,\n")
    assert main(["commission", "simulate", "--plan", str(tmp_path / "plan.yaml"), "--credits", str(tmp_path / "credits.csv")]) == 0
    out = capsys.readouterr().out
    # October: 1,200 reached the 2% band: 2% x (600 + 600 x 2) = 36.00
    assert "Simulation 2026-10" in out and "36.00" in out and "Total 36.00 CNY over 2 line(s) = sum of lines" in out
    assert "Simulation 2026-11" in out and "Refund L4 of order A2" in out


@pytest.mark.parametrize(("csv", "message"), [
    ("member_id,date,amount\nx,2026-10-01,1\n", "missing column(s) currency"),
    ("member_id,date,amount,currency\nx,2026-10-01,1.234,CNY\n", "row 2, column amount: 1.234 has more decimals than CNY allows"),
    ("member_id,date,amount,currency\nx,someday,1,CNY\n", "row 2, column date: 'someday' is not a date"),
    ("member_id,date,amount,currency,role\nx,2026-10-01,1,CNY,boss\n", "column role: unknown role 'boss'"),
])
def test_simulate_names_file_row_and_column_of_bad_input(tmp_path, capsys, csv, message):
    from yeji.cli import main

    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "c.csv").write_text(csv)
    assert main(["commission", "simulate", "--plan", str(tmp_path / "plan.yaml"), "--credits", str(tmp_path / "c.csv")]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert message in out and "c.csv" in out


def test_simulate_refuses_a_bad_plan_file_naming_it(tmp_path, capsys):
    from yeji.cli import main

    (tmp_path / "plan.yaml").write_text(PLAN.replace("{from: 1000, rate: 0.02}", "{from: 900, rate: 0.02}"))
    (tmp_path / "c.csv").write_text("member_id,date,amount,currency\nx,2026-10-01,1,CNY\n")
    assert main(["commission", "simulate", "--plan", str(tmp_path / "plan.yaml"), "--credits", str(tmp_path / "c.csv")]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "plan.yaml: (top level): tiers[1].from: overlaps tiers[0]" in out


GBP_PLAN = "plan_id: gbp\nname: GBP plan\nkind: flat\nrate: 0.1\ncurrency: GBP\n"
# the only rates: JPY->EUR and EUR->GBP, so JPY->GBP exists only as a cross rate through EUR
EUR_LEGS = ("rate_date,from_currency,to_currency,rate\n"
            "2026-10-01,JPY,EUR,0.00612345678\n"
            "2026-10-01,EUR,GBP,0.85671234\n")


def _cross_rate_case(tmp_path, monkeypatch):
    monkeypatch.delenv("YEJI_HOME", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # explanations on one line
    monkeypatch.chdir(tmp_path)  # no yeji.yaml here: no workspace unless -w names one
    (tmp_path / "plan.yaml").write_text(GBP_PLAN)
    (tmp_path / "credits.csv").write_text("member_id,date,amount,currency,order_id\nlina,2026-10-05,123457,JPY,A1\n")
    (tmp_path / "fx.csv").write_text(EUR_LEGS)
    return ["commission", "simulate", "--plan", str(tmp_path / "plan.yaml"), "--credits", str(tmp_path / "credits.csv"),
            "--fx", str(tmp_path / "fx.csv")]


def _expected_cross_amounts():
    from decimal import ROUND_HALF_UP, Decimal

    rate = (Decimal("0.00612345678") * Decimal("0.85671234")).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
    base_pence = (123457 * rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)  # 64,766.048... pence
    commission_pence = (base_pence * Decimal("0.1")).quantize(Decimal(1), rounding=ROUND_HALF_UP)  # 6,476.6 pence
    return rate, base_pence, commission_pence


def _major(pence) -> str:
    return f"{int(pence) // 100:,}.{int(pence) % 100:02d}"


def _assert_cross_rate_commission(out: str) -> None:
    rate, base_pence, commission_pence = _expected_cross_amounts()
    assert (str(rate), _major(base_pence), _major(commission_pence)) == ("0.005246040987", "647.66", "64.77")
    assert f"base {_major(base_pence)} GBP (123,457 JPY @ {rate})" in out
    assert f"Total {_major(commission_pence)} GBP over 1 line(s) = sum of lines" in out


def test_simulate_converts_through_the_fx_pivot_option(tmp_path, capsys, monkeypatch):
    from yeji.cli import main

    args = _cross_rate_case(tmp_path, monkeypatch)
    assert main(args + ["--fx-pivot", "EUR"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "FX cross rates via EUR (--fx-pivot)" in out
    _assert_cross_rate_commission(out)


def test_simulate_without_the_pivot_finds_no_cross_rate(tmp_path, capsys, monkeypatch):
    """The default pivot, USD, has no legs in the FX file: the monthly run would refuse too."""
    from yeji.cli import main

    args = _cross_rate_case(tmp_path, monkeypatch)
    assert main(args) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "FX cross rates via USD (default; no yeji.yaml in" in out
    assert "no FX rate JPY->GBP on or before 2026-10-05" in out and "none through USD" in out


def test_simulate_uses_the_workspaces_fx_pivot_and_the_option_overrides_it(tmp_path, capsys, monkeypatch):
    from yeji.cli import main

    args = _cross_rate_case(tmp_path, monkeypatch)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "yeji.yaml").write_text("fx_pivot_currency: EUR\n")
    assert main(["-w", str(ws)] + args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"FX cross rates via EUR (fx_pivot_currency of {ws / 'yeji.yaml'})" in out
    _assert_cross_rate_commission(out)
    monkeypatch.setenv("YEJI_HOME", str(ws))  # found the way the other commands find it
    assert main(args) == 0
    _assert_cross_rate_commission(" ".join(capsys.readouterr().out.split()))
    assert main(["-w", str(ws)] + args + ["--fx-pivot", "USD"]) == 2
    assert "none through USD" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("pivot", ["eur", "EURO", "E1R", ""])
def test_simulate_refuses_a_bad_fx_pivot_naming_the_option(tmp_path, capsys, monkeypatch, pivot):
    from yeji.cli import main

    args = _cross_rate_case(tmp_path, monkeypatch)
    assert main(args + ["--fx-pivot", pivot]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert f"--fx-pivot {pivot!r}: expected a 3-letter upper-case currency code" in out


def test_simulate_names_a_broken_workspace_config(tmp_path, capsys, monkeypatch):
    from yeji.cli import main

    args = _cross_rate_case(tmp_path, monkeypatch)
    (tmp_path / "yeji.yaml").write_text("fx_pivot_currency: euro\n")
    assert main(args) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "yeji.yaml" in out and "fx_pivot_currency" in out and "--fx-pivot CUR" in out
    assert main(args + ["--fx-pivot", "EUR"]) == 0  # the option needs no workspace
    _assert_cross_rate_commission(" ".join(capsys.readouterr().out.split()))
