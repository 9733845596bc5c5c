"""Render every report from deterministic demo frames, to look at the design.

    .venv/bin/python -m reports.preview /tmp/yeji-preview            # PDFs
    .venv/bin/python -m reports.preview /tmp/yeji-preview --png      # and PNGs (pdftoppm)

The frames follow :mod:`transforms.schema` exactly (same columns and dtypes the
transforms produce), so this doubles as an example of the reports' inputs.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from config.models import Settings
from transforms.periods import Period, parse_period, trailing_weeks

WEEK = "2026-W46"
MONTH = "2026-10"

TEAMS = [
    ("T01", "华东外贸一组", "CNY", "M001"),
    ("T02", "Global Online", "USD", "M010"),
]
MEMBERS = [
    # member_id, name, team, role, email, language
    ("M001", "王芳", "T01", "lead", "wang.fang@example.com", "zh-CN"),
    ("M002", "张伟", "T01", "sales", "zhang.wei@example.com", "zh-CN"),
    ("M003", "李娜", "T01", "sales", None, "zh-CN"),
    ("M004", "刘洋", "T01", "sales", "liu.yang@example.com", "zh-CN"),
    ("M005", "陈静", "T01", "sales", "chen.jing@example.com", "zh-CN"),
    ("M006", "Olivia Chen", "T01", "sales", "olivia.chen@example.com", "en"),
    ("M010", "Daniel Wu", "T02", "lead", "daniel.wu@example.com", "en"),
    ("M011", "赵磊", "T02", "sales", "zhao.lei@example.com", "zh-CN"),
]
CUSTOMERS = [
    ("Müller Handels GmbH", "DE"), ("Brightline Supply Co.", "US"), ("Nordic Home AB", "SE"),
    ("Al Noor Trading LLC", "AE"), ("Casa Bella S.r.l.", "IT"), ("Maple Leaf Imports", "CA"),
    ("Sakura Zakka 株式会社", "JP"), ("Outback Living Pty Ltd", "AU"), ("Lumière Déco SARL", "FR"),
    ("Rio Verde Comércio", "BR"), ("Hanse Logistik KG", "DE"), ("Pacific Gear Inc.", "US"),
    ("Atlas Retail Sp. z o.o.", "PL"), ("Desert Rose Est.", "SA"), ("Kiwi Outdoor Ltd", "NZ"),
    ("Iberia Hogar S.L.", "ES"), ("Thames Home Ltd", "GB"), ("Lion City Living Pte", "SG"),
]


def _r(seed: str) -> random.Random:
    return random.Random(seed)


def sample_frames() -> dict[str, pd.DataFrame]:
    week = parse_period(WEEK)
    prev = week.previous()
    teams = pd.DataFrame(TEAMS, columns=["team_id", "name", "base_currency", "lead_member_id"])
    members = pd.DataFrame(
        [(m, n, t, r, None if r == "lead" else next(x[3] for x in TEAMS if x[0] == t), e, lang, True)
         for m, n, t, r, e, lang in MEMBERS],
        columns=["member_id", "name", "team_id", "role", "manager_id", "email", "language", "active"],
    )
    currency = {t[0]: t[2] for t in TEAMS}
    weeks = trailing_weeks(week, 12)
    trend_rows, metric_rows = [], []
    base_level = {"M001": 180_000, "M002": 150_000, "M003": 90_000, "M004": 120_000, "M005": 60_000,
                  "M006": 105_000, "M010": 26_000, "M011": 17_000}
    for mid, _, tid, *_ in MEMBERS:
        rnd = _r(mid)
        for i, wk in enumerate(weeks):
            level = base_level[mid] * (0.75 + 0.5 * rnd.random()) * (1 + i * 0.015)
            net = int(level * 100) + rnd.randint(0, 99)
            if mid == "M005" and wk.label == "2026-W41":
                net = -int(8_500_00)  # a week of refunds larger than sales
            trend_rows.append((mid, tid, wk.label, pd.Timestamp(wk.start), net, rnd.randint(5, 40), currency[tid]))
    trend = pd.DataFrame(trend_rows, columns=["member_id", "team_id", "period", "week_start", "net_revenue_minor",
                                              "orders", "currency"])
    for label in (prev.label, week.label):
        rows = trend[trend["period"] == label]
        for rec in rows.to_dict("records"):
            mid = rec["member_id"]
            rnd = _r(mid + label)
            net = int(rec["net_revenue_minor"])
            refunds = int(abs(net) * rnd.uniform(0.0, 0.06))
            revenue = net + refunds
            orders = int(rec["orders"])
            known = int(revenue * rnd.uniform(0.6, 1.0))
            margin = None if mid == "M003" else rnd.uniform(0.18, 0.36)
            inquiries = rnd.randint(8, 40)
            replied = int(inquiries * rnd.uniform(0.6, 1.0))
            converted = int(inquiries * rnd.uniform(0.05, 0.3))
            target = None if mid == "M006" else int(base_level[mid] * 100 * 1.1)
            metric_rows.append({
                "member_id": mid, "team_id": rec["team_id"], "period": label, "currency": rec["currency"],
                "revenue_minor": revenue, "refunds_minor": refunds, "net_revenue_minor": net, "orders": orders,
                "average_order_value_minor": (revenue + orders // 2) // orders if orders else 0,
                "cost_known_revenue_minor": 0 if margin is None else known,
                "gross_profit_minor": pd.NA if margin is None else int(known * margin),
                "gross_margin": float("nan") if margin is None else margin,
                "customers": max(orders - rnd.randint(0, 6), 1), "new_customers": rnd.randint(0, 5),
                "returning_customers": rnd.randint(3, 12), "refund_rate": refunds / revenue if revenue else float("nan"),
                "target_revenue_minor": pd.NA if target is None else target,
                "attainment": float("nan") if target is None else net / target,
                "collections_received_minor": int(revenue * rnd.uniform(0.5, 1.1)),
                "collections_outstanding_minor": int(revenue * rnd.uniform(0.2, 0.9)),
                "inquiries": inquiries, "inquiries_replied_24h": replied,
                "reply_within_24h_rate": replied / inquiries, "inquiries_converted": converted,
                "inquiry_conversion_rate": converted / inquiries,
            })
    mm = pd.DataFrame(metric_rows)
    mm["gross_profit_minor"] = mm["gross_profit_minor"].astype("Int64")
    mm["target_revenue_minor"] = mm["target_revenue_minor"].astype("Int64")
    prev_map = mm[mm["period"] == prev.label].set_index("member_id")
    mm["previous_net_revenue_minor"] = mm["member_id"].map(prev_map["net_revenue_minor"]).where(mm["period"] == week.label, 0).astype("int64")
    mm["net_revenue_change"] = [
        (n - p) / abs(p) if p else float("nan") for n, p in zip(mm["net_revenue_minor"], mm["previous_net_revenue_minor"])]
    mm["previous_orders"] = mm["member_id"].map(prev_map["orders"]).where(mm["period"] == week.label, 0).astype("int64")
    mm["orders_change"] = [(n - p) / p if p else float("nan") for n, p in zip(mm["orders"], mm["previous_orders"])]
    mm["rank_in_team"] = mm.groupby(["team_id", "period"])["net_revenue_minor"].rank(method="dense", ascending=False).astype("int64")
    mm["team_size"] = mm.groupby(["team_id", "period"])["member_id"].transform("count").astype("int64")

    team_rows = []
    for (tid, label), g in mm.groupby(["team_id", "period"]):
        revenue, refunds, net, orders = (int(g[c].sum()) for c in ("revenue_minor", "refunds_minor", "net_revenue_minor", "orders"))
        targets = g["target_revenue_minor"].dropna()
        target = int(targets.sum()) if len(targets) else None
        gp = g["gross_profit_minor"].dropna()
        known = int(g.loc[g["gross_profit_minor"].notna(), "cost_known_revenue_minor"].sum())
        inquiries = int(g["inquiries"].sum())
        team_rows.append({
            "team_id": tid, "period": label, "currency": g["currency"].iloc[0], "members": len(g),
            "revenue_minor": revenue, "refunds_minor": refunds, "net_revenue_minor": net, "orders": orders,
            "average_order_value_minor": (revenue + orders // 2) // orders if orders else 0,
            "gross_profit_minor": int(gp.sum()) if len(gp) else pd.NA,
            "gross_margin": int(gp.sum()) / known if known else float("nan"),
            "new_customers": int(g["new_customers"].sum()), "returning_customers": int(g["returning_customers"].sum()),
            "refund_rate": refunds / revenue if revenue else float("nan"),
            "target_revenue_minor": target if target is not None else pd.NA,
            "attainment": net / target if target else float("nan"),
            "collections_received_minor": int(g["collections_received_minor"].sum()),
            "collections_outstanding_minor": int(g["collections_outstanding_minor"].sum()),
            "inquiries": inquiries,
            "reply_within_24h_rate": int(g["inquiries_replied_24h"].sum()) / inquiries if inquiries else float("nan"),
            "inquiry_conversion_rate": int(g["inquiries_converted"].sum()) / inquiries if inquiries else float("nan"),
        })
    tm = pd.DataFrame(team_rows)
    tm["gross_profit_minor"] = tm["gross_profit_minor"].astype("Int64")
    tm["target_revenue_minor"] = tm["target_revenue_minor"].astype("Int64")
    tprev = tm[tm["period"] == prev.label].set_index("team_id")["net_revenue_minor"]
    tm["previous_net_revenue_minor"] = tm["team_id"].map(tprev).where(tm["period"] == week.label, 0).astype("int64")
    tm["net_revenue_change"] = [(n - p) / abs(p) if p else float("nan")
                                for n, p in zip(tm["net_revenue_minor"], tm["previous_net_revenue_minor"])]

    tops, quiet = [], []
    for mid, _, tid, *_ in MEMBERS:
        rnd = _r("cust" + mid)
        picks = rnd.sample(CUSTOMERS, 5 + 4)
        net_week = int(mm[(mm["member_id"] == mid) & (mm["period"] == week.label)]["net_revenue_minor"].iloc[0])
        shares = sorted((rnd.random() for _ in range(5)), reverse=True)
        for rank, ((name, country), share) in enumerate(zip(picks[:5], shares), start=1):
            tops.append((mid, f"C-{mid}-{rank}", name, country, int(abs(net_week) * share * 0.35), rnd.randint(1, 6),
                         currency[tid], rank))
        for j, (name, country) in enumerate(picks[5:]):
            days = rnd.randint(46, 200)
            last = date(2026, 11, 15) - timedelta(days=days)
            quiet.append((mid, f"Q-{mid}-{j}", name, country, "key_account" if j == 0 else None, pd.Timestamp(last),
                          days, rnd.randint(20_000, 900_000) * 100, rnd.randint(2, 30), currency[tid]))
    top_customers = pd.DataFrame(tops, columns=["member_id", "customer_id", "customer_name", "country",
                                                "net_revenue_minor", "orders", "currency", "rank"])
    quiet_customers = pd.DataFrame(quiet, columns=["member_id", "customer_id", "customer_name", "country",
                                                   "customer_class", "last_order_date", "days_since_last_order",
                                                   "lifetime_revenue_minor", "orders", "currency"])
    mix_rows = {"platform": [], "country": []}
    for tid, *_ in TEAMS:
        total = int(tm[(tm["team_id"] == tid) & (tm["period"] == week.label)]["net_revenue_minor"].iloc[0])
        for dim, values in (("platform", ["b2b", "amazon", "alibaba", "shopify", "offline"]),
                            ("country", ["US", "DE", "GB", "AE", "JP", "AU", "FR", "CA", "BR", "SE", "PL"])):
            rnd = _r(tid + dim)
            weights = [rnd.random() ** 2 for _ in values]
            parts = [int(total * w / sum(weights)) for w in weights]
            parts[0] += total - sum(parts)
            for value, part in zip(values, parts):
                mix_rows[dim].append((tid, dim, value, part, rnd.randint(1, 30), part / total, currency[tid]))
    cols = ["team_id", "dimension", "value", "net_revenue_minor", "orders", "share", "currency"]
    mix_platform = pd.DataFrame(mix_rows["platform"], columns=cols)
    mix_country = pd.DataFrame(mix_rows["country"], columns=cols)

    lines = []
    for label, start, days, count in ((MONTH, date(2026, 10, 1), 31, 34), ("2026-11", date(2026, 11, 1), 15, 9)):
        for mid, _, tid, *_ in MEMBERS:
            if mid == "M005":
                continue  # no plan
            rnd = _r("comm" + mid + label)
            plan = "tiered-cn" if tid == "T01" else "flat-usd"
            running = 0
            n = count if mid != "M011" else 6
            moments = sorted(datetime.combine(start + timedelta(days=rnd.randrange(days)), datetime.min.time())
                             + timedelta(hours=rnd.randint(1, 10)) for _ in range(n))  # processing order
            for k, at in enumerate(moments):
                base = rnd.randint(3_000, 60_000) * 100 + rnd.randint(0, 99)
                rule = "refund" if k % 11 == 10 else "order"
                if rule == "refund":
                    base = -base // 4
                if plan == "flat-usd":
                    rate, band = Decimal("0.04"), "flat 4%"
                else:
                    running += base
                    rate, band = ((Decimal("0.02"), "0 – 200,000") if running < 200_000_00 else
                                  (Decimal("0.035"), "200,000 – 500,000") if running < 500_000_00 else
                                  (Decimal("0.05"), "≥500,000"))
                fx = Decimal(1) if rnd.random() < 0.5 else Decimal(rnd.choice(["7.1034", "7.0856", "0.9261", "7.1312"]))
                amount_dec = Decimal(base) * rate
                amount = int(amount_dec.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
                order_id = f"{'AMZ' if k % 3 == 0 else 'SO'}-{label.replace('-', '')}-{mid[1:]}{k:03d}"
                explanation = (f"{'退款冲回' if rule == 'refund' else '订单'} {order_id}: {base / 100:,.2f} × {rate * 100:g}%")
                lines.append((label, mid, plan, "erp", order_id, pd.Timestamp(at), rule, band, base, rate, fx, amount,
                              currency[tid], explanation))
    commission_lines = pd.DataFrame(lines, columns=["month", "member_id", "plan_id", "order_source", "order_id",
                                                    "credited_at", "rule", "band", "base_minor", "rate", "fx_rate",
                                                    "amount_minor", "currency", "explanation"])
    summary = (commission_lines.groupby(["month", "member_id", "plan_id", "currency"], as_index=False)
               .agg(base_minor=("base_minor", "sum"), amount_minor=("amount_minor", "sum"), lines=("order_id", "count")))
    summary["team_id"] = summary["member_id"].map(dict((m[0], m[2]) for m in MEMBERS))
    summary = summary[["month", "member_id", "team_id", "plan_id", "base_minor", "amount_minor", "lines", "currency"]]
    return {
        "teams": teams, "members": members, "member_metrics": mm, "team_metrics": tm, "trend": trend,
        "top_customers": top_customers, "quiet_customers": quiet_customers, "mix_platform": mix_platform,
        "mix_country": mix_country, "commission_lines": commission_lines, "commission_summary": summary,
    }


def sample_settings() -> Settings:
    return Settings.model_validate({
        "company": "杭州义吉进出口有限公司",
        "timezone": "Asia/Shanghai",
        "base_currency": "CNY",
        "commission": {
            "plans": [
                {"plan_id": "tiered-cn", "name": "外贸阶梯提成", "kind": "tiered",
                 "tiers": [{"up_to": "200000", "rate": "0.02"}, {"up_to": "500000", "rate": "0.035"}, {"rate": "0.05"}]},
                {"plan_id": "flat-usd", "name": "Online flat 4%", "kind": "flat", "rate": "0.04"},
            ],
        },
        "delivery": {"sender": "义吉报表 <reports@yeji.example.com>", "finance_recipients": ["finance@yeji.example.com"]},
    })


def render_all(out_dir: Path, *, png: bool = False, jobs: int = 1) -> list:
    from reports import (render_commission_statements, render_finance_summary, render_team_summaries,
                         render_weekly_reviews)

    f = sample_frames()
    settings = sample_settings()
    stamp = datetime(2026, 11, 16, 8, 0)
    started = time.perf_counter()
    items = render_weekly_reviews(f["member_metrics"], f["trend"], f["top_customers"], f["quiet_customers"],
                                  f["commission_lines"], f["members"], f["teams"], WEEK, settings, out_dir,
                                  jobs=jobs, generated_at=stamp)
    items += render_team_summaries(f["team_metrics"], f["member_metrics"], f["mix_platform"], f["mix_country"],
                                   f["quiet_customers"], f["members"], f["teams"], WEEK, settings, out_dir,
                                   trend=f["trend"], jobs=jobs, generated_at=stamp)
    items += render_commission_statements(f["commission_lines"], f["commission_summary"], f["members"], f["teams"],
                                          MONTH, settings, out_dir, jobs=jobs, generated_at=stamp)
    items += render_finance_summary(f["commission_summary"], f["commission_lines"], f["members"], f["teams"], MONTH,
                                    settings, out_dir, generated_at=stamp)
    took = time.perf_counter() - started
    for item in items:
        print(f"{item.pdf_path.name:48s} {item.render_seconds:5.2f}s  {item.recipient_email or '(no recipient)'}")
    print(f"{len(items)} reports in {took:.1f}s")
    if png:
        for pdf in sorted({i.pdf_path for i in items}):
            subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(pdf.with_suffix(""))], check=True)
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--png", action="store_true")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    render_all(args.out_dir, png=args.png, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
