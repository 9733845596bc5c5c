"""Broken spreadsheets: every bad row becomes a reject naming file, sheet, row and column;
good rows in the same file still load; a whole-file problem loads nothing."""

from __future__ import annotations

import json

import pytest

from config.models import Settings, SpreadsheetSource
from connectors.batch import IngestError, KnownRefs
from connectors.spreadsheets import read_source
from tests.ingest_helpers import ingest, write_csv, write_table, write_xlsx
from warehouse.db import read_table
from warehouse.loads import list_rejects

SETTINGS = Settings()
ORDER_COLUMNS = dict(order_id="订单号", ordered_at="下单日期", currency="币种", gross="金额", member_id="业务员", status="状态")
ORDER_HEADER = ["订单号", "下单日期", "币种", "金额", "业务员", "状态"]


def _orders_source(path, **overrides) -> SpreadsheetSource:
    options = dict(
        name="b2b", kind="orders", path=str(path), columns=ORDER_COLUMNS, date_format="%Y/%m/%d",
        defaults=dict(platform="b2b", store="Trade"),
    )
    return SpreadsheetSource(**(options | overrides))


def _teams_and_members(engine, tmp_path):
    teams = write_table(tmp_path / "teams.csv", [["team_id", "name", "base_currency"], ["T1", "外贸一组", "CNY"]])
    ingest(engine, SpreadsheetSource(name="teams", kind="teams", path=str(teams)), teams, SETTINGS)
    members = write_table(tmp_path / "members.csv", [["member_id", "name", "team_id", "role"], ["M1", "王芳", "T1", "sales"]])
    ingest(engine, SpreadsheetSource(name="members", kind="members", path=str(members)), members, SETTINGS)


BROKEN_ORDERS = [
    ORDER_HEADER,
    ["A1", "2026/11/10", "USD", 10.5, "M1", "open"],  # row 2: good
    ["A2", "2026-13-45", "USD", 5, None, None],  # 3: date
    ["A3", "2026/11/10", "USD", "12,34abc", None, None],  # 4: amount
    ["A4", "2026/11/10", "USD", "12.345", None, None],  # 5: more decimals than USD
    ["A5", "2026/11/10", "XYZ", 1, None, None],  # 6: currency
    ["A6", "2026/11/10", "USD", 1, "M9", None],  # 7: member
    [None, "2026/11/10", "USD", 1, None, None],  # 8: missing id
    ["A8", "2026/11/10", "USD", 1, None, "paid"],  # 9: status
    ["A9", "2026/11/10", "USD", 1, None, None],  # 10: same id as 11, different content
    ["A9", "2026/11/10", "USD", 2, None, None],  # 11
    ["A10", "2026/11/10", "USD", 3, None, None],  # 12: identical to 13 -> loads once
    ["A10", "2026/11/10", "USD", 3.0, None, None],  # 13
    ["A11", "2026/11/10", "JPY", 100.5, None, None],  # 14: yen have no decimals
    ["A12", "31/12/2026", "EURO", 1, None, None],  # 15: two problems in one row
    ["合计", None, None, 37.0, None, None],  # 16: a totals row
]

EXPECTED = [  # (row, column, message fragment)
    (3, "下单日期", "cannot read '2026-13-45' as a date (expected %Y/%m/%d)"),
    (4, "金额", "cannot read '12,34abc' as an amount"),
    (5, "金额", "12.345 has more decimals than USD allows (2)"),
    (6, "币种", "unknown currency 'XYZ'"),
    (7, "业务员", "unknown member 'M9'"),
    (8, "订单号", "missing required value"),
    (9, "状态", "'paid' is not a valid status (expected one of: open, cancelled)"),
    (10, "订单号", "the same order_id 'A9' appears in row 11 with different content"),
    (11, "订单号", "the same order_id 'A9' appears in row 10 with different content"),
    (14, "金额", "100.5 has more decimals than JPY allows (0)"),
    (15, "下单日期", "cannot read '31/12/2026' as a date"),
    (15, "币种", "unknown currency 'EURO'"),
    (16, "下单日期", "missing required value"),
    (16, "币种", "missing required value"),
]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_each_bad_row_is_named_and_good_rows_still_load(engine, tmp_path, fmt):
    _teams_and_members(engine, tmp_path)
    path = write_table(tmp_path / f"orders.{fmt}", BROKEN_ORDERS, sheet="订单")
    batch, summary = ingest(engine, _orders_source(path), path, SETTINGS)

    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (15, 3, 12)
    orders = read_table(engine, "orders").set_index("order_id")
    assert orders["gross_minor"].to_dict() == {"A1": 1050, "A10": 300}

    where = "orders.xlsx, sheet 订单, row" if fmt == "xlsx" else "orders.csv, line"
    rejects = list_rejects(engine, source="b2b")
    got = list(zip(rejects["row_number"], rejects["column_name"], rejects["error"]))
    assert len(got) == len(EXPECTED)
    for (row, column, error), (want_row, want_column, fragment) in zip(got, EXPECTED):
        assert (row, column) == (want_row, want_column)
        assert error.startswith(f"{where} {row}, column {column}: "), error
        assert (fragment if fmt == "xlsx" else fragment.replace("in row ", "in line ")) in error, error
    first = rejects.iloc[0]
    assert first["sheet"] == ("订单" if fmt == "xlsx" else None)
    assert first["record_key"] == "A2" and first["kind"] == "orders" and first["location"] == str(path)
    assert json.loads(first["raw"])["下单日期"] == "2026-13-45"
    assert first["load_id"] == read_table(engine, "loads")["load_id"].max()


def test_rejects_are_replaced_on_reload_and_cleared_when_fixed(engine, tmp_path):
    _teams_and_members(engine, tmp_path)
    path = write_table(tmp_path / "orders.xlsx", BROKEN_ORDERS, sheet="订单")
    source = _orders_source(path)
    ingest(engine, source, path, SETTINGS)
    _, again = ingest(engine, source, path, SETTINGS)
    assert (again.inserted, again.updated, again.rows_rejected) == (0, 0, 12)
    assert len(list_rejects(engine, source="b2b")) == len(EXPECTED)  # not doubled

    fixed = [r for r in BROKEN_ORDERS if r[0] in ("订单号", "A1", "A2")]
    fixed[2] = ["A2", "2026/12/25", "USD", 5, None, None]
    write_table(path, fixed, sheet="订单")
    _, summary = ingest(engine, source, path, SETTINGS)
    assert (summary.rows_rejected, summary.inserted) == (0, 1)
    assert list_rejects(engine, source="b2b").empty
    loads = read_table(engine, "loads")
    assert loads["rows_rejected"].tolist() == [0, 0, 12, 12, 0]  # teams, members, then the three loads


def test_a_missing_mapped_column_loads_nothing_from_the_file(engine, tmp_path):
    _teams_and_members(engine, tmp_path)
    rows = [["订单号", "下单日期", "币种", "备注"], ["A1", "2026/11/10", "USD", "x"]]
    path = write_xlsx(tmp_path / "orders.xlsx", {"订单": rows})
    with pytest.raises(IngestError) as error:
        ingest(engine, _orders_source(path), path, SETTINGS)
    message = str(error.value)
    assert message.startswith("orders.xlsx, sheet 订单: missing column(s) 金额 (gross), 业务员 (member_id), 状态 (status)")
    assert "the sheet has: 订单号, 下单日期, 币种, 备注" in message
    assert read_table(engine, "orders").empty
    assert len(read_table(engine, "loads")) == 2  # teams and members only


@pytest.mark.parametrize(
    "change, fragment",
    [
        (dict(sheets=["十一月"]), "orders.xlsx: no sheet named 十一月; the workbook has sheets: 订单"),
        (dict(columns=ORDER_COLUMNS | {"amount": "金额"}), "columns: amount not a field of kind orders"),
        (dict(defaults=dict(store="Trade")), "no column or default for required field(s) platform"),
        (dict(defaults=dict(platform="b2b", store="Trade", currency="XYZ")), "defaults.currency: unknown currency 'XYZ'"),
        (dict(defaults=dict(platform="b2b", store="Trade", member_id="M9")), "defaults.member_id: unknown member 'M9'"),
        (dict(timezone="Mars/Base"), "timezone: unknown IANA timezone 'Mars/Base'"),
        (dict(attribute_by=["territory"]), "territories name member(s) M7 that the warehouse does not have"),
    ],
)
def test_whole_file_problems_raise_a_clear_error(tmp_path, change, fragment):
    path = write_xlsx(tmp_path / "orders.xlsx", {"订单": BROKEN_ORDERS[:2]})
    settings = Settings(territories={"M1": ["France"], "M7": ["Spain"]}) if "territor" in fragment else SETTINGS
    with pytest.raises(IngestError) as error:
        read_source(_orders_source(path, **change), path, settings, KnownRefs(member_ids=frozenset({"M1"})))
    assert fragment in str(error.value)


def test_unreadable_files_raise_a_clear_error(tmp_path):
    source = _orders_source(tmp_path / "x")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("订单号,下单日期\nA1,2026/11/10\n".encode("gb18030"))
    not_a_workbook = tmp_path / "fake.xlsx"
    not_a_workbook.write_text("hello")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    for path, fragment in [
        (gbk, "gbk.csv: not UTF-8 text"),
        (not_a_workbook, "fake.xlsx: cannot open as an xlsx workbook"),
        (tmp_path / "old.xls", "old.xls: old-style .xls workbooks are not read; save it as .xlsx"),
        (tmp_path / "missing.csv", "no such file"),
    ]:
        with pytest.raises(IngestError) as error:
            read_source(source, path, SETTINGS, KnownRefs())
        assert fragment in str(error.value)


def test_sales_lines_reject_conflicting_and_incomplete_orders(engine, tmp_path):
    rows = [
        ["order_id", "ordered_at", "quantity", "unit_price", "country"],
        ["S1", "2026-11-10 10:00", 1, 5, "France"],  # line 2
        ["S1", "2026-11-10 10:01", 1, 5, "France"],  # 3: same order, another time
        ["S2", "2026-11-10 11:00", 2, "2.50", "France"],  # 4: good
        ["S3", "2026-11-10 12:00", "two", 5, "France"],  # 5: bad quantity
        ["S3", "2026-11-10 12:00", 1, 5, "France"],  # 6: good, but its order is incomplete
        ["S4", "2026-11-10 12:00", 1, 5, "France"],  # 7: same order, other country
        ["S4", "2026-11-10 12:00", 1, 5, "Spain"],  # 8
        ["S4", "2026-11-10 12:00", 3, 5, "Spain"],  # 9
    ]
    path = write_csv(tmp_path / "shop.csv", rows)
    source = SpreadsheetSource(name="shop", kind="sales_lines", path=str(path), defaults=dict(currency="EUR", platform="shopify", store="FR"))
    batch, summary = ingest(engine, source, path, SETTINGS)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (8, 1, 7)
    assert read_table(engine, "orders")["order_id"].tolist() == ["S2"]
    errors = dict(zip(batch.rejects["row_number"], batch.rejects["error"]))
    assert errors[2] == (
        "shop.csv, line 2, column ordered_at: the same order id 'S1' twice with different content: ordered_at is"
        " '2026-11-10 10:00' here but '2026-11-10 10:01' in line 3; the whole order is rejected"
    )
    assert "in line 2;" in errors[3]
    assert errors[5] == "shop.csv, line 5, column quantity: cannot read 'two' as a number"
    assert errors[6] == "shop.csv, line 6: order 'S3' is not loaded because line 5 of it was rejected; an order loads whole or not at all"
    assert "country is 'France' here but 'Spain' in lines 8, 9" in errors[7]
    assert "country is 'Spain' here but 'France' in line 7" in errors[9]


def test_reference_and_choice_problems_in_other_kinds(sqlite_engine, tmp_path):
    _teams_and_members(sqlite_engine, tmp_path)
    cases = [
        ("members", [["member_id", "name", "team_id", "role", "email", "manager_id"],
                     ["M2", "Li", "T1", "boss", "li@example.com", "M1"],
                     ["M3", "Wu", "T9", "sales", "not-an-email", "M2"],
                     ["M4", "Xu", "T1", "Sales", None, "M3"],
                     ["M5", "Ma", "T1", "Sales", None, "M1"]],
         [(2, "role", "'boss' is not a valid role (expected one of: sales, follow_up, customer_service, lead, manager, assistant)"),
          (3, "team_id", "unknown team 'T9'"), (3, "email", "'not-an-email' is not an email address"),
          (4, "manager_id", "unknown member 'M3' (not in the warehouse, nor loaded from this file)")]),
        ("collections", [["collection_id", "order_id", "received_at", "currency", "amount", "stage"],
                         ["K1", "A1", "2026-11-10", "USD", 5, "half"], ["K2", "A1", "2026-11-10", "USD", 5, None]],
         [(2, "stage", "'half' is not a valid stage (expected one of: deposit, balance, full, other)")]),
        ("refunds", [["refund_id", "refunded_at", "currency", "amount", "kind"],
                     ["R1", "2026-11-10", "USD", 5, "chargeback"], ["R2", "2026-11-10", "USD", 5, "Refund"]],
         [(2, "kind", "'chargeback' is not a valid kind (expected one of: refund, cancellation)")]),
        ("targets", [["scope", "scope_id", "period", "metric", "value"],
                     ["region", "EU", "2026-11", "revenue", 1], ["member", "M9", "2026-11", "revenue", 1],
                     ["team", "T1", "2026-13", "orders", 1], ["team", "T1", "2026-11", "orders", 5]],
         [(2, "scope", "'region' is not a valid scope (expected one of: member, team)"),
          (3, "scope_id", "unknown member 'M9'"), (4, "period", "cannot read '2026-13' as a period")]),
        ("fx_rates", [["rate_date", "from_currency", "to_currency", "rate"],
                      ["2026-11-10", "USD", "CNY", "-7.1"], ["yesterday", "USD", "CNY", "7.1"], ["2026-11-10", "EUR", "CNY", "7.7"]],
         [(2, "rate", "an FX rate must be positive"), (3, "rate_date", "cannot read 'yesterday' as a date")]),
        ("scores", [["member_id", "period", "dimension", "score"], ["M1", "2026-10", "质量", "A+"], ["M1", "2026-10", "态度", 4]],
         [(2, "score", "cannot read 'A+' as a number")]),
        ("inquiries", [["inquiry_id", "received_at", "first_reply_at", "owner_member_id"],
                       ["Q1", "2026-11-10 10:00", "2026-11-10 09:00", "M1"], ["Q2", "2026-11-10 10:00", None, "M7"],
                       ["Q3", "2026-11-10 10:00", None, "M1"]],
         [(2, "first_reply_at", "first reply is before the inquiry was received"), (3, "owner_member_id", "unknown member 'M7'")]),
    ]
    for kind, rows, expected in cases:
        path = write_table(tmp_path / f"{kind}.csv", rows)
        batch, summary = ingest(sqlite_engine, SpreadsheetSource(name=kind, kind=kind, path=str(path)), path, SETTINGS)
        got = list(zip(batch.rejects["row_number"], batch.rejects["column_name"], batch.rejects["error"]))
        assert [(r, c) for r, c, _ in got] == [(r, c) for r, c, _ in expected], (kind, got)
        for (_, _, error), (row, column, fragment) in zip(got, expected):
            assert error.startswith(f"{kind}.csv, line {row}, column {column}: ") and fragment in error, error
        assert summary.rows_loaded == len(rows) - 1 - len({r for r, _, _ in expected}) and summary.rows_loaded > 0
    members = read_table(sqlite_engine, "members").set_index("member_id")
    assert sorted(members.index) == ["M1", "M5"] and members.loc["M5", "role"] == "sales"


@pytest.mark.parametrize("kind", ["teams", "members", "customers", "orders", "order_lines", "sales_lines", "refunds",
                                  "collections", "fx_rates", "targets", "scores", "inquiries"])
def test_a_file_with_no_good_row_still_records_its_load(sqlite_engine, tmp_path, kind):
    from connectors.fields import FIELDS

    required = [f.name for f in FIELDS[kind] if f.required]
    path = write_csv(tmp_path / f"{kind}.csv", [required + ["note"], [None] * len(required) + ["only a note"]])
    source = SpreadsheetSource(name=kind, kind=kind, path=str(path))
    batch, summary = ingest(sqlite_engine, source, path, SETTINGS)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected, summary.inserted) == (1, 0, 1, 0)
    assert set(batch.rejects["error"].str.split(": ", n=1).str[1]) == {"missing required value"}
    assert len(batch.rejects) == len(required)

    header_only = write_csv(tmp_path / f"{kind}-empty.csv", [required])
    _, summary = ingest(sqlite_engine, source, header_only, SETTINGS)
    assert (summary.rows_read, summary.rows_rejected) == (0, 0)
    assert list_rejects(sqlite_engine, source=kind).empty  # replaced by the empty file's (none)
