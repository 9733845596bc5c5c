"""Statements of engine-computed lines (issue 3): every scheme a member can meet in one month
- team pool, cap, floor, attainment multiplier, project share, held (staged) lines with the
stages reached, clawbacks, stage releases and adjustments of a closed month - stored in a real
warehouse (SQLite, and PostgreSQL when configured), read back, rendered to PDF and read with
pdftotext: each line's explanation is printed, and the printed total is the sum of the lines
and the warehouse's SUM."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from sqlalchemy import func, select

from config.models import Settings
from config.plans import Commission
from reports import render_commission_statements
from tests import test_reports_frames as f
from tests.factories import collection, order, refund, sales_data
from flows.monthly_commissions import month_in_warehouse
from transforms.commissions import commission_summary
from transforms.exact import format_minor
from transforms.periods import parse_period
from warehouse.commissions import close_month, month_lines
from warehouse.models import CommissionLine

SEP, OCT, NOV = (parse_period(m) for m in ("2026-09", "2026-10", "2026-11"))
MEMBERS = [dict(member_id="M1", name="张伟", role="sales", team_id="T1", language="zh-CN"),
           dict(member_id="M2", name="Olivia Chen", role="sales", team_id="T1", language="en")]
PLANS = {
    "plans": [{
        "plan_id": "sales", "name": "外贸提成", "kind": "tiered", "tier_method": "marginal",
        "tiers": [{"from": 0, "to": 10000, "rate": "0.05"}, {"from": 10000, "rate": "0.1"}],
        "quota": {"amount": 20000, "method": "whole",
                  "multipliers": [{"from": 0, "to": 1, "multiplier": 1}, {"from": 1, "multiplier": "1.2"}]},
        "cap": 3000, "floor": 100, "refunds": "clawback", "lookback_months": 1,
        "stages": [{"event": "signed", "percent": 30}, {"event": "collected", "percent": 70}],
    }],
    "default_plan": "sales",
    "projects": [{"project_id": "tender", "name": "Tender", "orders": ["P1"], "rate": "0.02",
                  "contributions": {"M1": 60, "M2": 40}}],
    "pools": [{"pool_id": "q4", "name": "Q4 pool", "team_id": "T1", "target": 1000, "amount": 500}],
}


def sales(*late_orders):
    """M1: a September order collected and partly refunded in October (release, clawback), two
    October orders (one collected: its held part is released), a project order; M2: a small
    order (raised to the floor)."""
    return sales_data(
        members=MEMBERS,
        orders=[order("S1", "2026-09-10 03:00", 5_000_00, payment_terms="TT30/70"),
                order("A1", "2026-10-05 03:00", 30_000_00, payment_terms="TT30/70"),
                order("A2", "2026-10-08 03:00", 8_000_00, payment_terms="TT30/70"),
                order("P1", "2026-10-09 03:00", 10_000_00, payment_terms="prepaid"),
                order("B1", "2026-10-12 03:00", 1_000_00, member_id="M2", payment_terms="TT30/70"),
                *late_orders],
        collections=[collection("C1", "S1", "2026-10-15 03:00", 5_000_00, stage="full"),
                     collection("C2", "A2", "2026-10-20 03:00", 8_000_00, stage="full")],
        refunds=[refund("R1", "2026-10-18 03:00", 1_000_00, order_id="S1")],
    )


def settings() -> Settings:
    base = f.settings().model_dump(by_alias=True)
    base["commission"] = PLANS
    return Settings.model_validate(base)


def run_month(conn, data, commission, month):
    return month_in_warehouse(conn, data, commission, month)


def pdf_text(path) -> str:
    return " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())


@pytest.fixture
def stored(engine):
    """October computed, stored and closed; a late October order then becomes an adjustment
    line in November, which is computed and stored too. November's lines as stored."""
    cfg = Commission.model_validate(PLANS)
    with engine.begin() as conn:
        october = run_month(conn, sales(), cfg, OCT)
        close_month(conn, OCT.label)
    with engine.begin() as conn:
        run_month(conn, sales(order("A9", "2026-10-28 03:00", 2_000_00, member_id="M2")), cfg, OCT)  # adjustment into Nov
        run_month(conn, sales(), cfg, NOV)
    with engine.connect() as conn:
        oct_lines, nov_lines = month_lines(conn, OCT.label), month_lines(conn, NOV.label)
        table = CommissionLine.__table__
        sums = {m: {mid: int(v) for mid, v in conn.execute(
            select(table.c.member_id, func.sum(table.c.amount_minor)).where(table.c.month == m).group_by(table.c.member_id))}
            for m in (OCT.label, NOV.label)}
    return october, oct_lines, nov_lines, sums


def test_stage_and_multiplier_reason_are_stored_and_read_back(stored):
    october, oct_lines, _nov, _sums = stored
    computed = october["computed"].set_index(["member_id", "line_type", "rule", "record_id"], drop=False)
    for col in ("stage", "multiplier_reason"):
        assert oct_lines[col].tolist() == october["computed"][col].where(october["computed"][col].notna(), None).tolist(), col
    m1 = oct_lines[oct_lines["member_id"] == "M1"]
    stage = dict(zip(m1["record_id"].fillna(m1["rule"]), m1["stage"]))
    assert stage["A1"] == "signed" and stage["A2"] == "signed+collected" and stage["S1"] == "signed+collected"
    reasons = dict(zip(oct_lines["member_id"] + "/" + oct_lines["rule"], oct_lines["multiplier_reason"]))
    assert reasons["M1/quota"] == "190.00% ∈ 100.00%+"  # 38,000 of a 20,000 quota (the refund is clawed back, not netted)
    assert reasons["M1/cap"] == "3,000 CNY" and reasons["M2/floor"] == "100 CNY"
    assert computed.loc[("M1", "credit", "tiered_marginal", "A1"), "held_minor"].item() > 0


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_statement_prints_every_line_explained_and_totals_that_reconcile(stored, tmp_path):
    _october, oct_lines, nov_lines, sums = stored
    people = pd.DataFrame(MEMBERS).assign(manager_id=None, email=None, active=True)
    people = people[["member_id", "name", "team_id", "role", "manager_id", "email", "language", "active"]]
    teams = pd.DataFrame([("T1", "华东一组", "CNY", "M1")], columns=["team_id", "name", "base_currency", "lead_member_id"])
    for month, lines in ((OCT, oct_lines), (NOV, nov_lines)):
        summary = commission_summary(lines, people)
        rendered = render_commission_statements(lines, summary, people, teams, month, settings(), tmp_path / month.label,
                                                generated_at=f.GENERATED)
        assert {r.member_id for r in rendered} == set(lines["member_id"])
        for item in rendered:
            mine = lines[lines["member_id"] == item.member_id]
            text = pdf_text(item.pdf_path)
            squeezed = "".join(text.split())
            total = int(mine["amount_minor"].sum())
            assert total == sums[month.label][item.member_id]  # the warehouse's SUM is the sum of the lines
            zh = item.member_id == "M1"
            for _, line in mine.iterrows():  # each line is printed, with its own explanation
                assert format_minor([line["amount_minor"]], "CNY")[0] in text, line["explanation"]
                if isinstance(line["record_id"], str):
                    assert line["record_id"] in squeezed, line["explanation"]
                if isinstance(line["stage"], str):
                    names = {"signed": "签约" if zh else "signed", "collected": "回款" if zh else "collected"}
                    shown = "/".join(names[e] for e in line["stage"].split("+") if e != "none")
                    assert "".join((("已达阶段：" if zh else "stages reached: ") + shown).split()) in squeezed, line["explanation"]
                if isinstance(line["multiplier_reason"], str):  # attainment and its band; the cap / floor reached
                    label = {"quota": ("达成率 ", "attainment "), "cap": ("每月封顶", "monthly cap of "),
                             "floor": ("每月保底", "monthly floor of ")}[line["rule"]]
                    assert "".join(f"{label[0 if zh else 1]}{line['multiplier_reason']}".split()) in squeezed, line["explanation"]
            printed = re.findall(r"(?:合计|Total)\s*·[^0-9-]*\d+\s+(-?[\d,]+\.\d\d)\s+(-?[\d,]+\.\d\d)", text)
            assert printed, text[-400:]
            assert printed[-1][1] == format_minor([total], "CNY")[0]  # the printed total is the sum of the lines
    rules = set(zip(oct_lines["line_type"], oct_lines["rule"])) | set(zip(nov_lines["line_type"], nov_lines["rule"]))
    for expected in [("pool", "pool"), ("member", "cap"), ("member", "floor"), ("member", "quota"), ("project", "flat"),
                     ("release", "stage_release"), ("clawback", "clawback")]:
        assert expected in rules, expected
    assert (nov_lines["line_type"] == "adjustment").any() and (oct_lines["held_minor"] > 0).any()
