"""Tiny, hand-written report inputs (the contract frames of transforms.schema) shared by the
report, email and delivery tests, and the checks that they honour the contract.

Every member's figures are distinct on purpose (张伟 nets ¥12,345.67, 李娜 ¥8,888.00, Olivia
CN¥5,555.55, Daniel US$999.99), so a test can tell whose numbers ended up where.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from config.models import Settings
from transforms.periods import parse_period, trailing_weeks
from transforms.schema import (
    COMMISSION_LINES,
    COMMISSION_SUMMARY,
    MEMBER_METRICS,
    MEMBERS,
    MIX,
    QUIET_CUSTOMERS,
    TEAM_METRICS,
    TEAMS,
    TOP_CUSTOMERS,
    TREND,
    require_columns,
)

WEEK = "2026-W46"
MONTH = "2026-10"
GENERATED = datetime(2026, 11, 16, 8, 0)

NET = {"M1": 1_234_567, "M2": 888_800, "M3": 555_555, "M9": 99_999}  # this week's net revenue, minor units
CURRENCY = {"T1": "CNY", "T2": "USD"}


def settings(**delivery) -> Settings:
    return Settings.model_validate({
        "company": "杭州义吉进出口有限公司",
        "timezone": "Asia/Shanghai",
        "commission": {"plans": [
            {"plan_id": "tiered-cn", "name": "外贸阶梯提成", "kind": "tiered",
             "tiers": [{"up_to": "50000", "rate": "0.02"}, {"rate": "0.05"}]},
            {"plan_id": "flat-usd", "name": "Online flat 4%", "kind": "flat", "rate": "0.04"},
        ]},
        "delivery": {"sender": "义吉报表 <reports@yeji.example.com>",
                     "finance_recipients": ["finance@example.com", "olivia.chen@example.com"], **delivery},
    })


def teams() -> pd.DataFrame:
    return pd.DataFrame([("T1", "华东一组", "CNY", "M1"), ("T2", "Global Online", "USD", "M9")], columns=list(TEAMS))


def members() -> pd.DataFrame:
    rows = [
        ("M1", "张伟", "T1", "lead", None, "zhang.wei@example.com", "zh-CN", True),
        ("M2", "李娜", "T1", "sales", "M1", None, "zh-CN", True),
        ("M3", "Olivia Chen", "T1", "sales", "M1", "olivia.chen@example.com", "en", True),
        ("M4", "郑凯", "T1", "sales", "M1", "zheng.kai@example.com", "zh-CN", False),
        ("M9", "Daniel Wu", "T2", "lead", None, "daniel.wu@example.com", "en", True),
    ]
    return pd.DataFrame(rows, columns=list(MEMBERS))


def member_row(member_id: str, team_id: str, period: str, net: int, orders: int, *, previous_net: int = 0,
               previous_orders: int = 0, rank: int = 1, team_size: int = 1, target: int | None = None,
               margin: float | None = 0.25, **overrides) -> dict:
    refunds = 10_000
    revenue = net + refunds
    row = {
        "member_id": member_id, "team_id": team_id, "period": period, "currency": CURRENCY[team_id],
        "revenue_minor": revenue, "refunds_minor": refunds, "net_revenue_minor": net, "orders": orders,
        "average_order_value_minor": revenue // orders if orders else 0,
        "cost_known_revenue_minor": revenue if margin is not None else 0,
        "gross_profit_minor": int(revenue * margin) if margin is not None else pd.NA,
        "gross_margin": margin if margin is not None else float("nan"),
        "customers": orders, "new_customers": 2, "returning_customers": 3,
        "refund_rate": refunds / revenue, "target_revenue_minor": target if target is not None else pd.NA,
        "attainment": net / target if target else float("nan"),
        "collections_received_minor": 700_000, "collections_outstanding_minor": 300_000,
        "inquiries": 10, "inquiries_replied_24h": 8, "reply_within_24h_rate": 0.8, "inquiries_converted": 2,
        "inquiry_conversion_rate": 0.2, "previous_net_revenue_minor": previous_net,
        "net_revenue_change": (net - previous_net) / abs(previous_net) if previous_net else float("nan"),
        "previous_orders": previous_orders,
        "orders_change": (orders - previous_orders) / previous_orders if previous_orders else float("nan"),
        "rank_in_team": rank, "team_size": team_size,
    }
    row.update(overrides)
    return row


def member_metrics() -> pd.DataFrame:
    rows = [
        member_row("M1", "T1", WEEK, NET["M1"], 12, previous_net=1_000_000, previous_orders=10, rank=1, team_size=3,
                   target=1_500_000),
        member_row("M2", "T1", WEEK, NET["M2"], 7, previous_net=900_000, previous_orders=8, rank=2, team_size=3,
                   margin=None),
        member_row("M3", "T1", WEEK, NET["M3"], 5, rank=3, team_size=3),
        member_row("M4", "T1", WEEK, 0, 0, rank=4, team_size=3),  # inactive member: no review
        member_row("M9", "T2", WEEK, NET["M9"], 3, previous_net=120_000, rank=1, team_size=1, target=100_000),
        # the previous week for M1 only: its other KPI cards get changes too
        member_row("M1", "T1", "2026-W45", 1_000_000, 10, refund_rate=0.02, gross_margin=0.2),
    ]
    frame = pd.DataFrame(rows)
    frame["gross_profit_minor"] = frame["gross_profit_minor"].astype("Int64")
    frame["target_revenue_minor"] = frame["target_revenue_minor"].astype("Int64")
    return frame


def team_metrics() -> pd.DataFrame:
    rows = []
    for tid, size, net, orders, target in (("T1", 3, NET["M1"] + NET["M2"] + NET["M3"], 24, 3_000_000),
                                           ("T2", 1, NET["M9"], 3, None)):
        m = member_row("X", tid, WEEK, net, orders, previous_net=2_000_000 if tid == "T1" else 0, target=target)
        rows.append({c: m[c] for c in TEAM_METRICS if c in m} | {"team_id": tid, "members": size})
    frame = pd.DataFrame(rows)[list(TEAM_METRICS)]
    frame["target_revenue_minor"] = frame["target_revenue_minor"].astype("Int64")
    return frame


def trend() -> pd.DataFrame:
    rows = []
    for mid, tid in (("M1", "T1"), ("M3", "T1"), ("M9", "T2")):
        for i, wk in enumerate(trailing_weeks(parse_period(WEEK), 12)):
            net = NET[mid] if wk.label == WEEK else 500_000 + 37_000 * i
            rows.append((mid, tid, wk.label, pd.Timestamp(wk.start), net, 5, CURRENCY[tid]))
    return pd.DataFrame(rows, columns=list(TREND))


def top_customers() -> pd.DataFrame:
    rows = [
        ("M1", "C1", "Müller Handels GmbH", "DE", 600_000, 3, "CNY", 1),
        ("M1", "C2", "Brightline Supply Co.", "US", 400_000, 2, "CNY", 2),
        ("M3", "C7", "Sakura Zakka 株式会社", "JP", 300_000, 1, "CNY", 1),
        ("M9", "C9", "Pacific Gear Inc.", "US", 99_999, 1, "USD", 1),
    ]
    return pd.DataFrame(rows, columns=list(TOP_CUSTOMERS))


def quiet_customers() -> pd.DataFrame:
    rows = [
        ("M1", "C5", "Al Noor Trading LLC", "AE", "key_account", pd.Timestamp("2026-08-01"), 106, 9_876_543, 14, "CNY"),
        ("M2", "C6", "Casa Bella S.r.l.", "IT", None, pd.Timestamp("2026-09-01"), 75, 1_111_100, 3, "CNY"),
    ]
    return pd.DataFrame(rows, columns=list(QUIET_CUSTOMERS))


def mix(dimension: str) -> pd.DataFrame:
    values = (("amazon", 0.625), ("b2b", 0.375)) if dimension == "platform" else (("US", 0.5), ("DE", 0.3), ("JP", 0.2))
    total = NET["M1"] + NET["M2"] + NET["M3"]
    rows = [("T1", dimension, v, int(total * s), 4, s, "CNY") for v, s in values]
    return pd.DataFrame(rows, columns=list(MIX))


def commission_lines(month: str = MONTH, m1_lines: int = 3) -> pd.DataFrame:
    """M1: ``m1_lines`` lines (one a refund), M3: one, M9: one in USD."""
    rows = []
    for k in range(m1_lines):
        base = -120_000 if k == 1 else 1_000_000 + k * 12_345
        amount = -2_400 if k == 1 else 20_000 + k * 247 + (k % 3)
        rows.append((month, "M1", "tiered-cn", "erp", f"SO-{k:04d}", pd.Timestamp(f"{month}-01 02:00") + pd.Timedelta(hours=7 * k),
                     "refund" if k == 1 else "tiered_marginal", "0 – 50,000", base, Decimal("0.02"),
                     Decimal("7.1034") if k % 2 else Decimal(1), amount, "CNY", f"Order SO-{k:04d}"))
    rows.append((month, "M3", "tiered-cn", "erp", "SO-9001", pd.Timestamp(f"{month}-05 02:00"), "tiered_marginal",
                 "0 – 50,000", 555_555, Decimal("0.02"), Decimal(1), 11_111, "CNY", "Order SO-9001"))
    rows.append((month, "M9", "flat-usd", "shopify", "#1001", pd.Timestamp(f"{month}-07 02:00"), "flat", None,
                 99_999, Decimal("0.04"), Decimal(1), 4_000, "USD", "Order #1001"))
    return pd.DataFrame(rows, columns=list(COMMISSION_LINES))


def commission_summary(lines: pd.DataFrame) -> pd.DataFrame:
    team_of = dict(zip(members()["member_id"], members()["team_id"]))
    out = (lines.groupby(["month", "member_id", "plan_id", "currency"], as_index=False)
           .agg(base_minor=("base_minor", "sum"), amount_minor=("amount_minor", "sum"), lines=("order_id", "count")))
    out["team_id"] = out["member_id"].map(team_of)
    return out[list(COMMISSION_SUMMARY)]


def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    """The PDF's text (pdftotext), whitespace collapsed to single spaces."""
    args = ["pdftotext"]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    out = subprocess.run(args + [str(path), "-"], capture_output=True, check=True).stdout.decode("utf-8")
    return re.sub(r"\s+", " ", out)


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


# ----------------------------------------------------------------------------- the frames honour the contract


@pytest.mark.parametrize("name, build, columns", [
    ("member_metrics", member_metrics, MEMBER_METRICS), ("team_metrics", team_metrics, TEAM_METRICS),
    ("trend", trend, TREND), ("top_customers", top_customers, TOP_CUSTOMERS),
    ("quiet_customers", quiet_customers, QUIET_CUSTOMERS), ("mix", lambda: mix("platform"), MIX),
    ("commission_lines", commission_lines, COMMISSION_LINES),
    ("commission_summary", lambda: commission_summary(commission_lines()), COMMISSION_SUMMARY),
])
def test_sample_frames_have_the_contract_columns(name, build, columns):
    require_columns(build(), columns, name)


def test_sample_commission_summary_adds_up():
    lines = commission_lines()
    summary = commission_summary(lines)
    assert summary["amount_minor"].sum() == lines["amount_minor"].sum()
