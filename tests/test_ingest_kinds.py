"""Every spreadsheet kind loads from a team's own headers (Chinese or English), xlsx and csv,
into the warehouse (SQLite and PostgreSQL), exactly; reloading changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from config.models import Settings, SpreadsheetSource
from tests.ingest_helpers import ingest, write_table
from warehouse.db import read_table
from warehouse.loads import list_rejects

SETTINGS = Settings(territories={"M2": ["Germany"]})

# kind -> (source options, rows with the header first)
WORKSPACE: dict[str, tuple[dict, list[list]]] = {
    "teams": (
        dict(columns=dict(team_id="团队编号", name="团队名称", base_currency="本位币", lead_member_id="组长")),
        [["团队编号", "团队名称", "本位币", "组长"], ["T1", "华东外贸组", "cny", "M1"]],
    ),
    "members": (
        dict(columns=dict(member_id="工号", name="姓名", team_id="团队", role="角色", manager_id="上级",
                          email="邮箱", language="语言", active="在职")),
        [
            ["工号", "姓名", "团队", "角色", "上级", "邮箱", "语言", "在职"],
            ["M1", "王芳", "T1", "Lead", None, "wang@example.com", "zh-CN", "是"],
            ["M2", "Li Lei", "T1", "sales", "M1", "li@example.com", "en", "yes"],
            ["M3", "张伟", "T1", "sales", "M1", None, None, None],
        ],
    ),
    "customers": (
        dict(columns=dict(customer_id="客户编号", name="客户名称", country="国家", customer_class="客户类型",
                          owner_member_id="负责人")),
        [
            ["客户编号", "客户名称", "国家", "客户类型", "负责人"],
            ["C1", "Acme GmbH", "Germany", "key_account", "M2"],
            ["C2", "Dupont SARL", "France", None, None],
            [12345.0, "Float id Ltd", "Spain", None, None],  # an id that went through a float column
        ],
    ),
    "orders": (
        dict(
            columns=dict(order_id="订单号", ordered_at="下单日期", currency="币种", gross="金额", discount="折扣",
                         tax="税费", shipping="运费", platform="平台", store="店铺", customer_id="客户",
                         member_id="业务员", country="国家", payment_terms="付款方式", status="状态", shipped_at="出货日期"),
            defaults=dict(store="Main store"),
            date_format="%Y/%m/%d %H:%M",
        ),
        [
            ["订单号", "下单日期", "币种", "金额", "折扣", "税费", "运费", "平台", "店铺", "客户", "业务员", "国家", "付款方式", "状态",
             "出货日期"],
            ["A1001", "2026/11/10 09:30", "USD", 1234.5, 10, None, None, "amazon", "US store", "C1", None, "Germany", None, None,
             "2026/11/12 16:00"],
            ["A1002", "2026/11/11 23:15", "usd", "1,000.00", None, 2.55, "15", "woocommerce", None, "C2", "M3", "France", "TT30/70", "open",
             None],  # not shipped yet
            ["A1003", "2026/11/12 08:00", "JPY", 5000, None, None, None, "shopify", "JP", None, None, "Germany", None, "Cancelled",
             "2026/11/12 00:00"],  # shipped the day it was ordered (a date written at midnight)
        ],
    ),
    "order_lines": (
        dict(columns=dict(order_id="订单号", line_no="行号", sku="SKU", description="品名", quantity="数量",
                          unit_price="单价", discount="折扣", unit_cost="成本"), order_source="orders"),
        [
            ["订单号", "行号", "SKU", "品名", "数量", "单价", "折扣", "成本"],
            ["A1001", 1, "SKU-1", "蓝牙耳机", 3, 0.333, None, 0.2],  # 0.999 USD -> 100 (half up), cost 0.6
            ["A1001", 2, "SKU-2", "充电器", 1.5, 10, 1, None],
            ["A1003", 1, "SKU-3", "数据线", 2, 2500, None, None],  # JPY: no minor digits
        ],
    ),
    "sales_lines": (
        dict(
            columns=dict(order_id="Order Number", ordered_at="Order Date", currency="Currency", quantity="Qty",
                         unit_price="Unit Price", sku="Item SKU", description="Item Name", customer_id="Customer ID",
                         customer_name="Customer Name", country="Ship Country", discount="Line Discount",
                         shipped_at="Ship Date"),
            defaults=dict(platform="shopify", store="EU shop"),
            decimal_comma=True,
            dayfirst=True,
            cancellation_prefix="R-",
        ),
        [
            ["Order Number", "Order Date", "Currency", "Qty", "Unit Price", "Item SKU", "Item Name", "Customer ID",
             "Customer Name", "Ship Country", "Line Discount", "Ship Date"],
            ["S1", "10/11/2026 14:05", "EUR", 2, "12,50", "SKU-A", "Mug", "C9", "Müller KG", "Germany", "1,00", "13/11/2026 10:00"],
            ["S1", "10/11/2026 14:05", "EUR", 1, "0,99", "SKU-B", "Spoon", "C9", "Müller KG", "Germany", None, "11/11/2026"],
            ["S2", "11/11/2026 09:00", "EUR", 1, "1.234,56", "SKU-C", "Table", None, None, "Spain", None, None],
            ["R-S1", "12/11/2026 10:00", "EUR", -1, "12,50", "SKU-A", "Mug", "C9", "Müller KG", "Germany", None, None],
        ],
    ),
    "refunds": (
        dict(columns=dict(refund_id="退款单号", refunded_at="退款日期", currency="币种", amount="退款金额",
                          order_id="订单号", kind="类型", reason="原因", customer_id="客户"), order_source="orders"),
        [
            ["退款单号", "退款日期", "币种", "退款金额", "订单号", "类型", "原因", "客户"],
            ["RF1", datetime(2026, 11, 13, 10, 0), "USD", -20.5, "A1001", None, "质量问题", "C1"],
        ],
    ),
    "collections": (
        dict(columns=dict(collection_id="收款编号", order_id="订单号", received_at="到账日期", currency="币种",
                          amount="金额", stage="阶段"), order_source="orders"),
        [
            ["收款编号", "订单号", "到账日期", "币种", "金额", "阶段"],
            ["COL1", "A1002", "2026-11-12", "USD", 300, "deposit"],
            ["COL2", "A1002", "2026-11-20T10:00:00+08:00", "USD", "700.00", "Balance"],
        ],
    ),
    "fx_rates": (
        dict(columns=dict(rate_date="日期", from_currency="原币", to_currency="目标币", rate="汇率")),
        [
            ["日期", "原币", "目标币", "汇率"],
            [date(2026, 11, 10), "USD", "CNY", 7.1234],
            ["2026-11-10", "EUR", "CNY", "7.7"],
        ],
    ),
    "product_costs": (
        dict(columns=dict(sku="产品编码", effective_from="生效日期", currency="币种", unit_cost="成本单价")),
        [
            ["产品编码", "生效日期", "币种", "成本单价"],
            ["SKU-2", "2026-11-01", "CNY", 30.5],
            ["SKU-2", date(2026, 11, 11), "cny", "32.125"],  # the factory raised its price
            ["SKU-A", "2026-10-01", "EUR", "4.10"],
        ],
    ),
    "targets": (
        dict(columns=dict(scope="范围", scope_id="对象", period="期间", metric="指标", value="目标值", currency="币种")),
        [
            ["范围", "对象", "期间", "指标", "目标值", "币种"],
            ["member", "M2", "2026-11", "revenue", 50000, "USD"],
            ["team", "T1", "2026-W46", "orders", 30, None],
        ],
    ),
    "scores": (
        dict(columns=dict(member_id="工号", period="期间", dimension="维度", score="得分")),
        [
            ["工号", "期间", "维度", "得分"],
            ["M2", "2026-10", "客户满意度", 4.5],
            ["M3", datetime(2026, 10, 1), "客户满意度", "3.75"],  # Excel turned a typed 2026-10 into a date
        ],
    ),
    "inquiries": (
        dict(columns=dict(inquiry_id="询盘编号", received_at="收到时间", first_reply_at="首次回复",
                          owner_member_id="负责人", customer_id="客户", country="国家", channel="渠道",
                          converted_order_id="成交订单")),
        [
            ["询盘编号", "收到时间", "首次回复", "负责人", "客户", "国家", "渠道", "成交订单"],
            ["Q1", "2026-11-10 09:00", "2026-11-10 15:30", "M2", "C1", "Germany", "Alibaba", "A1001"],
            ["Q2", "2026-11-11 10:00", None, None, None, "Brazil", "email", None],
        ],
    ),
}


def _source(kind: str, path: Path, **overrides) -> SpreadsheetSource:
    options, _ = WORKSPACE[kind]
    name = {"scores": "scores", "sales_lines": "shop"}.get(kind, kind)
    return SpreadsheetSource(name=name, kind=kind, path=str(path), **(options | overrides))


def _load_workspace(engine, folder: Path, fmt: str) -> dict:
    summaries = {}
    for kind, (_, rows) in WORKSPACE.items():
        path = write_table(folder / f"{kind}.{fmt}", rows, sheet="数据")
        batch, summary = ingest(engine, _source(kind, path), path, SETTINGS)
        assert batch.rejects.empty, batch.rejects["error"].tolist()
        summaries[kind] = summary
    return summaries


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_every_kind_loads_exactly_from_its_own_headers(engine, tmp_path, fmt):
    summaries = _load_workspace(engine, tmp_path, fmt)
    assert {k: s.rows_read for k, s in summaries.items()} == {k: len(rows) - 1 for k, (_, rows) in WORKSPACE.items()}

    teams = read_table(engine, "teams").set_index("team_id")
    assert teams.loc["T1", ["name", "base_currency", "lead_member_id", "source"]].tolist() == ["华东外贸组", "CNY", "M1", "teams"]

    members = read_table(engine, "members").set_index("member_id").sort_index()
    assert members["role"].tolist() == ["lead", "sales", "sales"]
    assert members["manager_id"].tolist() == [None, "M1", "M1"]
    assert members["language"].tolist() == ["zh-CN", "en", "zh-CN"]  # M3: the workspace default
    assert members["active"].tolist() == [True, True, True]

    customers = read_table(engine, "customers").set_index("customer_id")
    assert customers.loc["12345", "name"] == "Float id Ltd"
    assert customers.loc["C1", ["customer_class", "owner_member_id"]].tolist() == ["key_account", "M2"]

    orders = read_table(engine, "orders").set_index(["source", "order_id"]).sort_index()
    a1, a2, a3 = (orders.loc[("orders", o)] for o in ("A1001", "A1002", "A1003"))
    assert a1["ordered_at"] == datetime(2026, 11, 10, 1, 30)  # 09:30 in Shanghai
    assert (a1["gross_minor"], a1["discount_minor"], a1["currency"], a1["store"]) == (123450, 1000, "USD", "US store")
    assert (a2["gross_minor"], a2["tax_minor"], a2["shipping_minor"], a2["currency"]) == (100000, 255, 1500, "USD")
    assert (a2["store"], a2["payment_terms"], a2["status"]) == ("Main store", "TT30/70", "open")
    assert (a3["gross_minor"], a3["currency"], a3["status"], a3["payment_terms"]) == (5000, "JPY", "cancelled", "prepaid")
    # attribution: customer owner (C1 -> M2), member column (M3), territory (Germany -> M2)
    assert [a1["member_id"], a2["member_id"], a3["member_id"]] == ["M2", "M3", "M2"]
    # ship dates are the team's clock (Shanghai) like order dates; blank = not shipped
    assert (a1["shipped_at"], a3["shipped_at"]) == (datetime(2026, 11, 12, 8, 0), datetime(2026, 11, 11, 16, 0))
    assert pd_isna(a2["shipped_at"])

    lines = read_table(engine, "order_lines").set_index(["source", "order_id", "line_no"]).sort_index()
    l1, l2, l3 = lines.loc[("orders", "A1001", 1)], lines.loc[("orders", "A1001", 2)], lines.loc[("orders", "A1003", 1)]
    assert (l1["quantity"], l1["unit_price"], l1["gross_minor"], l1["unit_cost"], l1["cost_minor"]) == (
        Decimal("3"), Decimal("0.333"), 100, Decimal("0.2"), 60)
    assert (l2["quantity"], l2["gross_minor"], l2["discount_minor"]) == (Decimal("1.5"), 1500, 100)
    assert pd_isna(l2["cost_minor"]) and l3["gross_minor"] == 5000

    s1, s2 = orders.loc[("shop", "S1")], orders.loc[("shop", "S2")]
    assert (s1["gross_minor"], s1["discount_minor"], s1["currency"], s1["platform"], s1["store"]) == (2599, 100, "EUR", "shopify", "EU shop")
    assert s1["ordered_at"] == datetime(2026, 11, 10, 6, 5)  # day first, Shanghai -> UTC
    assert (s1["customer_id"], s1["member_id"]) == ("C9", "M2")  # territory Germany
    assert (s2["gross_minor"], s2["customer_id"], s2["member_id"]) == (123456, None, None)
    assert s1["shipped_at"] == datetime(2026, 11, 10, 16, 0) and pd_isna(s2["shipped_at"])  # S1: its first line shipped
    assert ("shop", "R-S1") not in orders.index
    assert lines.loc[("shop", "S1")].index.tolist() == [1, 2]
    assert customers.loc["C9", ["name", "country", "source"]].tolist() == ["Müller KG", "Germany", "shop"]

    refunds = read_table(engine, "refunds").set_index("refund_id")
    cancel, refund = refunds.loc["R-S1"], refunds.loc["RF1"]
    assert (cancel["kind"], cancel["amount_minor"], cancel["order_source"], cancel["member_id"]) == ("cancellation", 1250, "shop", "M2")
    assert cancel["refunded_at"] == datetime(2026, 11, 12, 2, 0)
    assert (refund["kind"], refund["amount_minor"], refund["order_id"], refund["order_source"]) == ("refund", 2050, "A1001", "orders")
    assert (refund["member_id"], refund["reason"], refund["refunded_at"]) == ("M2", "质量问题", datetime(2026, 11, 13, 2, 0))

    collections = read_table(engine, "collections").set_index("collection_id").sort_index()
    assert collections["stage"].tolist() == ["deposit", "balance"]
    assert collections["amount_minor"].tolist() == [30000, 70000]
    assert collections["received_at"].tolist() == [datetime(2026, 11, 11, 16, 0), datetime(2026, 11, 20, 2, 0)]
    assert set(collections["order_source"]) == {"orders"}

    fx = read_table(engine, "fx_rates").set_index("from_currency")
    assert fx.loc["USD", "rate"] == Decimal("7.1234") and fx.loc["EUR", "rate"] == Decimal("7.7")
    assert set(fx["rate_date"].dt.date) == {date(2026, 11, 10)}

    targets = read_table(engine, "targets").set_index("scope_id")
    assert targets.loc["M2", ["period", "metric", "value", "currency"]].tolist() == ["2026-11", "revenue", Decimal(50000), "USD"]
    assert targets.loc["T1", ["period", "metric", "value"]].tolist() == ["2026-W46", "orders", Decimal(30)]

    scores = read_table(engine, "evaluation_scores").set_index("member_id").sort_index()
    assert scores["period"].tolist() == ["2026-10", "2026-10"]
    assert scores["score"].tolist() == [Decimal("4.5"), Decimal("3.75")]

    costs = read_table(engine, "product_costs").sort_values(["sku", "effective_from"])
    assert costs[["sku", "currency", "unit_cost", "source"]].values.tolist() == [
        ["SKU-2", "CNY", Decimal("30.5"), "product_costs"], ["SKU-2", "CNY", Decimal("32.125"), "product_costs"],
        ["SKU-A", "EUR", Decimal("4.10"), "product_costs"]]
    assert costs["effective_from"].dt.date.tolist() == [date(2026, 11, 1), date(2026, 11, 11), date(2026, 10, 1)]

    inquiries = read_table(engine, "inquiries").set_index("inquiry_id").sort_index()
    assert inquiries.loc["Q1", "first_reply_at"] == datetime(2026, 11, 10, 7, 30)
    assert pd_isna(inquiries.loc["Q2", "first_reply_at"]) and inquiries.loc["Q2", "owner_member_id"] is None

    loads = read_table(engine, "loads")
    assert len(loads) == len(WORKSPACE) and (loads["rows_rejected"] == 0).all()
    assert list_rejects(engine).empty


def pd_isna(value) -> bool:
    return value is None or bool(pd.isna(value))


def test_reloading_changes_nothing_and_a_changed_row_updates(engine, tmp_path):
    _load_workspace(engine, tmp_path, "xlsx")
    again = _load_workspace(engine, tmp_path, "xlsx")
    assert {k: (s.inserted, s.updated) for k, s in again.items()} == {k: (0, 0) for k in WORKSPACE}
    assert all(s.unchanged > 0 for s in again.values())

    options, rows = WORKSPACE["orders"]
    changed = [list(r) for r in rows]
    changed[2][3] = "1,000.01"  # A1002's amount
    path = write_table(tmp_path / "orders.xlsx", changed, sheet="数据")
    _, summary = ingest(engine, _source("orders", path), path, SETTINGS)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 2)
    orders = read_table(engine, "orders").set_index("order_id")
    assert orders.loc["A1002", "gross_minor"] == 100001
    assert len(read_table(engine, "loads")) == 2 * len(WORKSPACE) + 1


def test_a_line_removed_from_a_sales_export_leaves_its_order(engine, tmp_path):
    _, rows = WORKSPACE["sales_lines"]
    path = write_table(tmp_path / "shop.csv", rows)
    ingest(engine, _source("sales_lines", path), path, Settings())
    fewer = [r for r in rows if r[5] != "SKU-B"]  # drop S1's second line
    write_table(path, fewer)
    _, summary = ingest(engine, _source("sales_lines", path), path, Settings())
    assert summary.lines_removed == 1
    lines = read_table(engine, "order_lines")
    assert lines[lines["order_id"] == "S1"]["line_no"].tolist() == [1]
    orders = read_table(engine, "orders").set_index("order_id")
    assert orders.loc["S1", "gross_minor"] == 2500


def test_a_sales_export_never_overwrites_a_declared_customer(engine, tmp_path):
    _load_workspace(engine, tmp_path, "csv")  # C1 declared by the customers sheet, owner M2
    rows = [
        ["Order Number", "Order Date", "Currency", "Qty", "Unit Price", "Customer ID", "Customer Name", "Ship Country"],
        ["S9", "10/11/2026", "EUR", 1, "5,00", "C1", "ACME (typo)", "Austria"],
        ["S10", "10/11/2026", "EUR", 1, "5,00", "C77", "New Co", "Austria"],
    ]
    path = write_table(tmp_path / "shop2.csv", rows)
    source = SpreadsheetSource(
        name="shop2", kind="sales_lines", path=str(path), decimal_comma=True, dayfirst=True,
        columns=dict(order_id="Order Number", ordered_at="Order Date", currency="Currency", quantity="Qty",
                     unit_price="Unit Price", customer_id="Customer ID", customer_name="Customer Name", country="Ship Country"),
        defaults=dict(platform="shopify", store="EU shop"),
    )
    _, summary = ingest(engine, source, path, SETTINGS)
    customers = read_table(engine, "customers").set_index("customer_id")
    assert customers.loc["C1", ["name", "country", "owner_member_id", "source"]].tolist() == ["Acme GmbH", "Germany", "M2", "customers"]
    assert customers.loc["C77", ["name", "source"]].tolist() == ["New Co", "shop2"]
    assert summary.by_table["customers"].inserted == 1
    orders = read_table(engine, "orders").set_index("order_id")
    assert orders.loc["S9", "member_id"] == "M2"  # the declared owner of C1


@pytest.mark.parametrize(
    "attribute_by, expected",
    [
        (["member_column", "customer_owner", "territory"], "M3"),
        (["customer_owner", "member_column", "territory"], "M2"),
        (["territory"], "M1"),
        (["customer_owner"], "M2"),
    ],
)
def test_attribution_follows_the_source_order(sqlite_engine, tmp_path, attribute_by, expected):
    _load_workspace(sqlite_engine, tmp_path, "csv")
    rows = [["单号", "日期", "币种", "金额", "客户", "业务员", "国家"], ["B1", "2026-11-10", "USD", 10, "C1", "M3", "France"]]
    path = write_table(tmp_path / "b2b.csv", rows)
    source = SpreadsheetSource(
        name="b2b", kind="orders", path=str(path), attribute_by=attribute_by,
        columns=dict(order_id="单号", ordered_at="日期", currency="币种", gross="金额", customer_id="客户",
                     member_id="业务员", country="国家"),
        defaults=dict(platform="b2b", store="Trade"),
    )
    settings = Settings(territories={"M1": ["France"]})
    ingest(sqlite_engine, source, path, settings)
    orders = read_table(sqlite_engine, "orders").set_index("order_id")
    assert orders.loc["B1", "member_id"] == expected


def test_unattributed_orders_load_with_no_member(sqlite_engine, tmp_path):
    rows = [["order_id", "ordered_at", "gross", "country"], ["U1", "2026-11-10", "9.99", "Peru"]]
    path = write_table(tmp_path / "u.csv", rows)
    source = SpreadsheetSource(name="u", kind="orders", path=str(path), defaults=dict(currency="USD", platform="b2b", store="x"))
    batch, summary = ingest(sqlite_engine, source, path, Settings())
    assert (summary.rows_loaded, summary.unattributed) == (1, 1)
    assert read_table(sqlite_engine, "orders").loc[0, "member_id"] is None


def test_header_row_below_a_title_and_several_sheets(sqlite_engine, tmp_path):
    from tests.ingest_helpers import write_xlsx

    header = ["币种", "金额", "订单号", "下单日期"]
    path = write_xlsx(
        tmp_path / "two.xlsx",
        {"十月": [header, ["USD", 1, "O1", "2026-10-01"]], "十一月": [header, ["USD", 2, "O2", "2026-11-01"], [None] * 4, ["USD", 3, "O3", "2026-11-02"]]},
        title_rows=1,
    )
    source = SpreadsheetSource(
        name="two", kind="orders", path=str(path), sheets=["十月", "十一月"], header_row=2,
        columns=dict(order_id="订单号", ordered_at="下单日期", currency="币种", gross="金额"),
        defaults=dict(platform="b2b", store="x"),
    )
    batch, summary = ingest(sqlite_engine, source, path, Settings())
    assert (summary.rows_read, summary.rows_rejected) == (3, 0)  # the blank row is not a data row
    orders = read_table(sqlite_engine, "orders").set_index("order_id")
    assert orders["gross_minor"].to_dict() == {"O1": 100, "O2": 200, "O3": 300}


def test_csv_with_bom_and_semicolons(sqlite_engine, tmp_path):
    from tests.ingest_helpers import write_csv

    rows = [["Bestellnummer", "Datum", "Betrag"], ["D1", "31.10.2026", "1.234,50"]]
    path = write_csv(tmp_path / "de.csv", rows, delimiter=";", bom=True)
    source = SpreadsheetSource(
        name="de", kind="orders", path=str(path), decimal_comma=True, date_format="%d.%m.%Y", timezone="Europe/Berlin",
        columns=dict(order_id="Bestellnummer", ordered_at="Datum", gross="Betrag"),
        defaults=dict(currency="EUR", platform="woocommerce", store="DE"),
    )
    ingest(sqlite_engine, source, path, Settings())
    order = read_table(sqlite_engine, "orders").iloc[0]
    assert (order["order_id"], order["gross_minor"]) == ("D1", 123450)
    assert order["ordered_at"] == datetime(2026, 10, 30, 23, 0)  # midnight in Berlin (CET after 25 Oct) in UTC


def test_order_lines_take_their_orders_currency_and_number_themselves(sqlite_engine, tmp_path):
    _load_workspace(sqlite_engine, tmp_path, "csv")
    rows = [["order_id", "quantity", "unit_price"], ["A1002", 2, "0.125"], ["ZZZ", 1, 1], ["A1002", 1, 999.99]]
    path = write_table(tmp_path / "more_lines.csv", rows)
    source = SpreadsheetSource(name="more-lines", kind="order_lines", path=str(path), order_source="orders")
    batch, summary = ingest(sqlite_engine, source, path, SETTINGS)
    assert (summary.rows_loaded, summary.rows_rejected) == (2, 1)
    assert batch.rejects["error"].tolist() == [
        "more_lines.csv, line 3, column order_id: no currency for order 'ZZZ': it is not in the warehouse under"
        " source 'orders'; load its orders first, or map a currency column or give a default"
    ]
    lines = read_table(sqlite_engine, "order_lines").set_index(["source", "order_id", "line_no"])
    assert lines.loc[("orders", "A1002", 1), "gross_minor"] == 25  # 0.25 USD
    assert lines.loc[("orders", "A1002", 2), "gross_minor"] == 99999  # the order's 2nd line in file order


def test_a_cost_sheet_rejects_unknown_currencies_negative_costs_and_conflicting_rows(engine, tmp_path):
    rows = [
        ["SKU", "Effective From", "Currency", "Unit Cost"],
        ["GP-1", "2026-11-01", "CNY", "100"],
        ["GP-1", "2026-11-01", "CNY", "100"],  # the same row twice: loads once
        ["GP-2", "2026-11-01", "RMB", "50"],  # not an ISO code
        ["GP-3", "2026-11-01", "CNY", "-5"],
        ["GP-4", "2026-11-01", "CNY", "7"],
        ["GP-4", "2026-11-01", "CNY", "8"],  # two costs for one SKU and day
        ["GP-4", "2026-12-01", "CNY", "0"],  # free from December: a zero cost is a cost
    ]
    path = write_table(tmp_path / "costs.csv", rows)
    source = SpreadsheetSource(name="costs", kind="product_costs", path=str(path),
                               columns=dict(sku="SKU", effective_from="Effective From", currency="Currency",
                                            unit_cost="Unit Cost"))
    batch, summary = ingest(engine, source, path, Settings())
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 3, 4)
    errors = batch.rejects["error"].tolist()
    assert errors[:2] == ["costs.csv, line 4, column Currency: unknown currency 'RMB' (not one of the currencies in yeji.yaml)",
                          "costs.csv, line 5, column Unit Cost: a unit cost cannot be negative, got -5"]
    assert errors[2].startswith("costs.csv, line 6, column SKU: the same sku / effective_from 'GP-4 / 2026-11-01'"
                                " appears in line 7 with different content")
    assert errors[3].startswith("costs.csv, line 7, column SKU: the same sku / effective_from")
    costs = read_table(engine, "product_costs").sort_values(["sku", "effective_from"])
    assert costs[["sku", "unit_cost"]].values.tolist() == [["GP-1", Decimal(100)], ["GP-4", Decimal(0)]]
    assert list_rejects(engine, "costs")["row_number"].tolist() == [4, 5, 6, 7]


def test_a_shipment_dated_before_its_order_is_rejected(sqlite_engine, tmp_path):
    rows = [["单号", "下单时间", "金额", "发货日期"],
            ["B1", "2026-11-10 15:00", "10", "2026-11-10"],  # the same local day: fine
            ["B2", "2026-11-10 15:00", "10", "2026-11-09 23:00"]]
    path = write_table(tmp_path / "b2b.xlsx", rows)
    source = SpreadsheetSource(name="b2b", kind="orders", path=str(path),
                               columns=dict(order_id="单号", ordered_at="下单时间", gross="金额", shipped_at="发货日期"),
                               defaults=dict(currency="USD", platform="b2b", store="Trade"))
    batch, summary = ingest(sqlite_engine, source, path, Settings())
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 1)
    assert batch.rejects["error"].tolist() == [
        "b2b.xlsx, sheet Sheet1, row 3, column 发货日期: shipped before the order was placed (ship date earlier than"
        " the order date)"]
    assert read_table(sqlite_engine, "orders").loc[0, "shipped_at"] == datetime(2026, 11, 9, 16, 0)
