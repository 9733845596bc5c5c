"""Builders for the ingest tests: write small workbooks and csv files into tmp_path, run one load.

Test files are always written by the test itself (never committed): ``write_xlsx`` keeps
Python values as Excel cell types (datetime -> date cell, float -> number), ``write_csv``
writes them as text the way a shop export would (``str(value)``).
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import openpyxl

from config.models import Settings, SpreadsheetSource
from connectors.batch import IngestBatch
from connectors.spreadsheets import file_sha256, read_source
from warehouse.loads import LoadSummary, known_refs, load_batch

Rows = Sequence[Sequence[object]]


def write_xlsx(path: Path, sheets: dict[str, Rows], title_rows: int = 0) -> Path:
    """One sheet per entry (first row = headers); ``title_rows`` blank-ish rows above each header."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for _ in range(title_rows):
            sheet.append([f"{name} export"])
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


def write_csv(path: Path, rows: Rows, delimiter: str = ",", bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        for row in rows:
            writer.writerow(["" if v is None else str(v) for v in row])
    return path


def write_table(path: Path, rows: Rows, sheet: str = "Sheet1") -> Path:
    """xlsx or csv by the path's suffix."""
    return write_xlsx(path, {sheet: rows}) if path.suffix == ".xlsx" else write_csv(path, rows)


def ingest(engine, source: SpreadsheetSource, path: Path, settings: Settings) -> tuple[IngestBatch, LoadSummary]:
    """What a flow does for one file: known ids, read, load - one transaction."""
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        known = known_refs(conn, order_source=source.order_source or source.name)
        batch = read_source(source, path, settings, known)
        summary = load_batch(conn, source, str(path), file_sha256(path), batch, started_at)
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected
    return batch, summary
