"""The payout export finance pays from: one row per member, as CSV and XLSX, beside the
commission statement PDFs.

Amounts come from the commission summary's integer minor units, each converted once to an
exact Decimal in its currency (never a float, never a sum of floats): CSV cells are the
decimal text (``1234.50``), XLSX cells are numbers written from that Decimal's exact digits
with the currency's number of decimals as the format.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pandas as pd

from transforms.money import exponent, to_major
from transforms.schema import COMMISSION_SUMMARY, require_columns

PAYOUT_COLUMNS = ("month", "member_id", "member", "team_id", "team", "plan_id", "currency", "amount", "held",
                  "adjustments", "lines")
MONEY_COLUMNS = ("amount", "held", "adjustments")


def payout_rows(summary: pd.DataFrame, lines: pd.DataFrame, members: pd.DataFrame, teams: pd.DataFrame) -> list[dict]:
    """One dict per member in the summary; money as exact Decimals in the member's currency.
    ``adjustments`` is the total of the month's adjustment lines (corrections of closed months)."""
    require_columns(summary, COMMISSION_SUMMARY, "commission summary")
    names = dict(zip(members["member_id"], members["name"])) if len(members) else {}
    team_names = dict(zip(teams["team_id"], teams["name"])) if len(teams) else {}
    adjustments: dict[tuple[str, str], int] = {}
    if len(lines) and "line_type" in lines.columns:
        adjusted = lines[lines["line_type"] == "adjustment"]
        for member_id, currency, minor in zip(adjusted["member_id"], adjusted["currency"], adjusted["amount_minor"]):
            adjustments[(member_id, currency)] = adjustments.get((member_id, currency), 0) + int(minor)
    rows = []
    for rec in summary.sort_values(["team_id", "member_id"], na_position="last").to_dict("records"):
        currency = rec["currency"]
        held = rec.get("held_minor")
        rows.append({
            "month": rec["month"], "member_id": rec["member_id"], "member": names.get(rec["member_id"], ""),
            "team_id": rec["team_id"] or "", "team": team_names.get(rec["team_id"], ""), "plan_id": rec["plan_id"] or "",
            "currency": currency, "amount": to_major(int(rec["amount_minor"]), currency),
            "held": to_major(int(held) if held is not None and not pd.isna(held) else 0, currency),
            "adjustments": to_major(adjustments.get((rec["member_id"], currency), 0), currency),
            "lines": int(rec["lines"]),
        })
    return rows


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_payout_export(rows: list[dict], out_dir: Path, month: str) -> tuple[Path, Path]:
    """``payout_<month>.csv`` and ``payout_<month>.xlsx`` in ``out_dir``; returns both paths."""
    from openpyxl import Workbook

    csv_path, xlsx_path = out_dir / f"payout_{month}.csv", out_dir / f"payout_{month}.xlsx"

    def write_csv(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8-sig") as handle:  # BOM: Excel opens Chinese names right
            writer = csv.DictWriter(handle, fieldnames=PAYOUT_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: (f"{row[k]:f}" if k in MONEY_COLUMNS else row[k]) for k in PAYOUT_COLUMNS})

    def write_xlsx(tmp: str) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = f"payout {month}"
        sheet.append(list(PAYOUT_COLUMNS))
        for row in rows:
            sheet.append([row[k] for k in PAYOUT_COLUMNS])  # Decimals are written with their exact digits
            digits = exponent(row["currency"])
            for cell in sheet[sheet.max_row][PAYOUT_COLUMNS.index("amount"):PAYOUT_COLUMNS.index("adjustments") + 1]:
                cell.number_format = "#,##0" + ("." + "0" * digits if digits else "")
        book.save(tmp)

    _atomic_write(csv_path, write_csv)
    _atomic_write(xlsx_path, write_xlsx)
    return csv_path, xlsx_path

