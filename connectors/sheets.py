"""Reading an xlsx workbook or a csv file into raw rows, and finding the mapped columns.

Cells keep the types the file gives them (openpyxl: ``str``, ``int``, ``float``,
``bool``, ``datetime``; csv: ``str``), so nothing is rounded or guessed here.
Rows are numbered as the user sees them: the sheet's row number in a workbook,
the line number (where the record starts) in a csv. Rows whose every cell is
blank are not data rows and are skipped; every other row below the header is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from connectors.batch import IngestError
from connectors.cells import is_blank

XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt"}


@dataclass(frozen=True)
class RawTable:
    """One sheet (or the csv) below its header row."""

    file: str  # the file name, as messages show it
    sheet: str | None  # None for csv
    headers: tuple[str, ...]
    rows: list[tuple]
    row_numbers: list[int]

    def where(self, row_number: int | None = None, column: str | None = None) -> str:
        """``orders.xlsx, sheet 订单, row 14, column 下单日期`` (``line 14`` in a csv)."""
        parts = [self.file]
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if row_number is not None:
            parts.append(f"{'line' if self.sheet is None else 'row'} {row_number}")
        if column is not None:
            parts.append(f"column {column}")
        return ", ".join(parts)


def _header(cell: object) -> str:
    return "" if cell is None else str(cell).replace("\ufeff", "").strip()


def read_tables(path: Path, sheets: list[str] | None, header_row: int) -> list[RawTable]:
    """The sheets to read (default: the first) of an xlsx, or the csv, as raw tables."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_workbook(path, sheets, header_row)
    if suffix in CSV_SUFFIXES:
        return [_read_csv(path, header_row)]
    if suffix == ".xls":
        raise IngestError(f"{path.name}: old-style .xls workbooks are not read; save it as .xlsx")
    raise IngestError(f"{path.name}: not a spreadsheet Yeji reads (expected .xlsx or .csv)")


def _read_workbook(path: Path, sheets: list[str] | None, header_row: int) -> list[RawTable]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise IngestError(f"{path.name}: cannot open as an xlsx workbook ({exc})") from None
    try:
        names = list(sheets) if sheets else workbook.sheetnames[:1]
        missing = [n for n in names if n not in workbook.sheetnames]
        if missing:
            raise IngestError(
                f"{path.name}: no sheet named {', '.join(missing)}; the workbook has sheets: {', '.join(workbook.sheetnames)}"
            )
        tables = []
        for name in names:
            sheet = workbook[name]
            sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
            rows = sheet.iter_rows(min_row=header_row, values_only=True)
            headers = tuple(_header(c) for c in next(rows, ()))
            data, numbers = [], []
            for number, row in enumerate(rows, start=header_row + 1):
                if not all(is_blank(c) for c in row):
                    data.append(row)
                    numbers.append(number)
            tables.append(RawTable(path.name, name, headers, data, numbers))
        return tables
    finally:
        workbook.close()


def _read_csv(path: Path, header_row: int) -> RawTable:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' (Excel) or UTF-8 (WPS)"
        ) from None
    first_line = text.split("\n", header_row)[header_row - 1] if text.count("\n") >= header_row - 1 else ""
    delimiter = max([",", ";", "\t"], key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: tuple[str, ...] | None = None
    data, numbers = [], []
    line_after = 0
    for record in reader:
        starts_at, line_after = line_after + 1, reader.line_num
        if starts_at < header_row:
            continue
        if headers is None:
            headers = tuple(_header(c) for c in record)
            continue
        if record and not all(is_blank(c) for c in record):
            data.append(tuple(record))
            numbers.append(starts_at)
    return RawTable(path.name, None, headers or (), data, numbers)


def column_positions(table: RawTable, wanted: dict[str, str], ignore_case: bool = True) -> dict[str, int]:
    """field -> column index for each ``field: header`` in ``wanted`` that the table has.

    Headers match exactly (after trimming spaces), else, with ``ignore_case``, ignoring
    case. A header that appears twice is ambiguous and is a whole-file error.
    """
    positions: dict[str, int] = {}
    for field, header in wanted.items():
        target = header.strip()
        found = [i for i, h in enumerate(table.headers) if h == target]
        if not found and ignore_case:
            found = [i for i, h in enumerate(table.headers) if h.casefold() == target.casefold()]
        if len(found) > 1:
            raise IngestError(f"{table.where()}: header {target!r} appears {len(found)} times; rename one of them")
        if found:
            positions[field] = found[0]
    return positions


def available_headers(table: RawTable) -> str:
    shown = [h for h in table.headers if h]
    return ", ".join(shown) if shown else "(none: is header_row right?)"
