"""The payout export: exact decimals in CSV text and XLSX numbers, per currency, with held
amounts and adjustments of closed months."""

from __future__ import annotations

import csv
import re
import zipfile
from decimal import Decimal

import pandas as pd
from openpyxl import load_workbook

from reports.payout import PAYOUT_COLUMNS, payout_rows, write_payout_export

SUMMARY = pd.DataFrame({
    "month": ["2026-10"] * 3, "member_id": ["M1", "M2", "M3"], "team_id": ["T1", "T1", "T2"],
    "plan_id": ["std", "std", "jp"], "base_minor": [1000001, 50, 7], "amount_minor": [12345679, 10, 1234567],
    "lines": [3, 1, 2], "currency": ["CNY", "CNY", "JPY"], "held_minor": [501, None, 0],
})
LINES = pd.DataFrame({
    "member_id": ["M1", "M1", "M2"], "currency": ["CNY"] * 3, "amount_minor": [-33, 100, 7],
    "line_type": ["adjustment", "credit", "adjustment"],
})
MEMBERS = pd.DataFrame({"member_id": ["M1", "M2", "M3"], "name": ["张伟", "Olivia Chen", "佐藤"]})
TEAMS = pd.DataFrame({"team_id": ["T1", "T2"], "name": ["华东组", "Japan"]})


def test_payout_rows_are_exact_per_currency():
    rows = payout_rows(SUMMARY, LINES, MEMBERS, TEAMS)
    assert [(r["member_id"], r["amount"], r["held"], r["adjustments"]) for r in rows] == [
        ("M1", Decimal("123456.79"), Decimal("5.01"), Decimal("-0.33")),
        ("M2", Decimal("0.10"), Decimal("0.00"), Decimal("0.07")),
        ("M3", Decimal("1234567"), Decimal("0"), Decimal("0")),
    ]
    assert rows[0]["member"] == "张伟" and rows[0]["team"] == "华东组"


def test_csv_and_xlsx_carry_the_same_exact_amounts(tmp_path):
    rows = payout_rows(SUMMARY, LINES, MEMBERS, TEAMS)
    csv_path, xlsx_path = write_payout_export(rows, tmp_path, "2026-10")
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == PAYOUT_COLUMNS
    assert [(r["amount"], r["held"], r["adjustments"]) for r in read] == [
        ("123456.79", "5.01", "-0.33"), ("0.10", "0.00", "0.07"), ("1234567", "0", "0")]

    with zipfile.ZipFile(xlsx_path) as z:  # the stored cell text: the decimal digits, not a float's
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    column = chr(ord("A") + PAYOUT_COLUMNS.index("amount"))
    stored = dict(re.findall(rf'<c r="{column}(\d+)"[^>]*><v>([^<]+)</v>', xml))
    assert [Decimal(stored[str(n)]) for n in (2, 3, 4)] == [Decimal("123456.79"), Decimal("0.10"), Decimal("1234567")]
    sheet = load_workbook(xlsx_path).active
    assert [c.value for c in sheet[1]] == list(PAYOUT_COLUMNS)
    assert sheet.cell(2, PAYOUT_COLUMNS.index("amount") + 1).number_format == "#,##0.00"
    assert sheet.cell(4, PAYOUT_COLUMNS.index("amount") + 1).number_format == "#,##0"
