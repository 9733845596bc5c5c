"""A team's own spreadsheet export -> warehouse-shaped frames and rejected rows.

Public API::

    read_source(source: SpreadsheetSource, path: Path, settings: Settings, known: KnownRefs) -> IngestBatch
    file_sha256(path: Path) -> str
    config_sha256(source, settings) -> str

``read_source`` reads one configured source (xlsx: the sheets in ``sheets``, default
the first; csv: UTF-8 with or without BOM, delimiter ``,`` ``;`` or tab) and is driven
entirely by the source's ``columns`` (Yeji field -> the file's header, any language)
and ``defaults`` (a value for a field the file lacks, also used for blank cells).
A field left out of ``columns`` is still read from a header spelled exactly like
the field (``order_id``). The fields per kind are in docs/architecture.md and
:mod:`connectors.fields`; cells are read exactly as :mod:`connectors.cells` describes.
Write the result with :func:`warehouse.loads.load_batch`; ``known`` comes from
:func:`warehouse.loads.known_refs`.

Whole-file problems raise :class:`IngestError` and nothing from the file loads:
unreadable file, missing sheet, a mapped header the sheet lacks (the message names
file, sheet, the missing headers and the headers it has), a required field with no
column and no default, a field name the kind does not have, a bad default, a
``territories`` member the warehouse lacks (orders/refunds/sales lines).

Row problems become rejects naming file, sheet, row (as the user sees it; the csv
line), column and what is wrong - ``orders.xlsx, sheet 订单, row 14, column 下单日期:
cannot read '2026-13-45' as a date (expected %Y/%m/%d)`` - and the other rows still
load: unreadable date/number/amount, amount with more decimals than its currency,
unknown currency, unknown member or team, missing required value, a value outside
its choices (role, stage, kind, scope, ...), and the same record id twice in one file
with different content (every such row is rejected, naming the other rows; identical
repeats load once and count as loaded), plus a few per kind (an FX rate <= 0, a negative
unit cost, a first reply before its inquiry, a shipment before its order's day, an email
without ``@``, a manager who is neither known nor loaded from the same file). A row with two bad cells gives two rejects; it counts once
in ``rows_rejected``. ``rows read = rows loaded + rows rejected`` is checked on every
read (a row is a non-blank row below the header).

``order_lines`` without a mapped ``line_no`` are numbered within their order in file
order; a lead's ``lead_member_id`` (teams) is not checked (teams load before members).

``sales_lines`` (one row per order line, header repeated):

* line ``gross_minor`` = quantity x unit price, exact, in minor units of the row's
  currency, rounded half away from zero only when the product has more decimals than
  the currency; ``cost_minor`` likewise from ``unit_cost`` (NULL when unknown);
  ``line_no`` is the line's running number within its order in file order;
* an order's rows must agree on date, currency, customer, country, member, platform
  and store, else every row of that order is rejected ("the same order id twice with
  different content"); an order loads whole or not at all, so one bad line rejects
  its order's other lines too (they name the bad rows);
* ``orders``: gross = sum of line gross, discount = sum of line discounts, tax and
  shipping 0, ``payment_terms`` prepaid, ``status`` open, ``shipped_at`` the earliest of
  its lines' ``shipped_at`` (the first shipment; NULL while no line has one);
* with ``cancellation_prefix``, an order id starting with it is not an order but a
  ``refunds`` row: kind ``cancellation``, ``refunded_at`` its date, ``amount_minor`` =
  |sum of line gross| - |sum of line discounts| (positive whichever sign the export
  uses), ``order_id`` empty (the export does not say which order it cancels);
* ``customers`` for rows with a customer id (name from ``customer_name``, country;
  the last non-blank value in file order). They are *derived*: they never overwrite a
  customer another source declared (see ``IngestBatch.derived_tables``).

Attribution of orders and refunds (``source.attribute_by`` order): the row's
``member_id``; the owner of its customer (``known.customer_owners``); the member whose
``territories`` hold its country (matched ignoring case). Unattributed rows load with
``member_id`` NULL and are counted in ``IngestBatch.unattributed``.

Built-in defaults: ``payment_terms`` prepaid, ``status`` open, refund ``kind`` refund,
collection ``stage`` full, ``language`` the workspace's report language, ``active`` true,
discount/tax/shipping 0. Refund amounts are stored positive (``-12.50`` = 12.50 given
back). Refunds and collections get ``order_source = source.order_source or source.name``;
so do ``order_lines`` rows of the ``order_lines`` kind (as their ``source``), so they
join their orders. ``order_lines`` take their currency from a ``currency`` column or
default, else from their order in the warehouse (``known.order_currencies``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from config.models import Settings, SpreadsheetSource
from connectors import cells
from connectors.batch import IngestBatch, IngestError, KnownRefs
from connectors.fields import FIELDS, MEMBER_REFERENCES, RECORD_KEYS, TABLE_OF_KIND, FieldSpec
from connectors.sheets import RawTable, available_headers, column_positions, read_tables
from transforms.periods import local_dates
from transforms.schema import CUSTOMERS, ORDER_LINES, ORDERS, REFUNDS, REJECTS

ORDER_HEADER_FIELDS = ("ordered_at", "currency", "customer_id", "country", "member_id", "platform", "store")
MAX_ROWS_NAMED = 10


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_sha256(source: SpreadsheetSource, settings: Settings) -> str:
    """A hash of everything in the settings that decides how ``source``'s file is read: the
    source itself (mapping, defaults, kind) and the workspace-wide settings (time zone,
    currencies, territories, report language...). A change to any of them reloads the file."""
    wide = settings.model_dump(mode="json", exclude={"sources", "stores", "commission", "delivery"})
    text = json.dumps({"source": source.model_dump(mode="json"), "settings": wide}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- rows and problems


@dataclass(frozen=True)
class _Rows:
    """All data rows of the file, one column per field (raw cells, defaults filled in)."""

    tables: list[RawTable]
    cells: pd.DataFrame  # index 0..n-1 in file order
    table_at: np.ndarray  # which table each row is in
    index_in_table: np.ndarray
    row_number: np.ndarray  # as the user sees it
    headers: list[dict[str, str]]  # per table: field -> the file's header (or "defaults.<field>")

    def header(self, pos: int, field_name: str | None) -> str | None:
        return None if field_name is None else self.headers[self.table_at[pos]].get(field_name)

    def refs(self, positions: list[int], seen_from: int) -> str:
        """``rows 12, 13`` (``lines`` in a csv), with the sheet named when it is not ``seen_from``'s."""
        by_table: dict[int, list[int]] = {}
        for pos in positions:
            by_table.setdefault(int(self.table_at[pos]), []).append(int(self.row_number[pos]))
        home = int(self.table_at[seen_from])
        parts = []
        for t, numbers in sorted(by_table.items(), key=lambda item: (item[0] != home, item[0])):
            table = self.tables[t]
            word = ("line" if table.sheet is None else "row") + ("s" if len(numbers) > 1 else "")
            named = ", ".join(str(n) for n in numbers[:MAX_ROWS_NAMED])
            more = len(numbers) - MAX_ROWS_NAMED
            text = f"{word} {named}" + (f" and {more} more" if more > 0 else "")
            parts.append(text if t == home else f"sheet {table.sheet} {text}")
        return "; ".join(parts)


@dataclass
class _Problems:
    items: list[tuple[int, str | None, str]] = field(default_factory=list)  # (row, field, message)

    def add(self, pos: int, field_name: str | None, message: str) -> None:
        self.items.append((int(pos), field_name, message))

    def add_cells(self, field_name: str, errors: pd.Series) -> None:
        for pos, message in errors.dropna().items():
            self.add(pos, field_name, message)

    def rows(self) -> set[int]:
        return {pos for pos, _, _ in self.items}


@dataclass(frozen=True)
class _Context:
    source: SpreadsheetSource
    settings: Settings
    known: KnownRefs
    timezone: str


# --------------------------------------------------------------------------- the entry point


def read_source(source: SpreadsheetSource, path: Path, settings: Settings, known: KnownRefs) -> IngestBatch:
    """Read one configured spreadsheet into frames for the warehouse plus its rejected rows."""
    specs = FIELDS[source.kind]
    ctx = _Context(source, settings, known, _timezone(source, settings))
    _check_field_names(source, specs)
    _check_territories(ctx)
    defaults = _checked_defaults(source, specs, ctx)
    tables = read_tables(Path(path), source.sheets, source.header_row)
    rows = _rows_by_field(tables, source, specs, defaults)
    problems = _Problems()
    parsed = _parsed_fields(rows, specs, ctx, problems)
    _add_required_problems(parsed, specs, rows, problems)
    _add_reference_problems(parsed, ctx, problems)
    _add_kind_problems(parsed, rows, ctx, problems)
    if source.kind == "members":
        _add_manager_problems(parsed, ctx, problems)
    if source.kind == "order_lines":
        parsed = _numbered_lines(parsed, rows, problems)
    if source.kind == "sales_lines":
        _add_order_problems(parsed, rows, problems)
        clean = parsed.drop(index=list(problems.rows()))
        frames, represented, unattributed = _sales_lines_frames(clean, ctx)
    else:
        keys = _record_keys(source, rows)
        if keys:
            _add_duplicate_problems(parsed, keys, specs, rows, problems)
        clean = parsed.drop(index=list(problems.rows()))
        first = clean.drop_duplicates(subset=list(keys), keep="first") if keys else clean
        frames, unattributed = BUILDERS[source.kind](first, ctx)
        represented = len(clean)
    rejected = len(problems.rows())
    if represented + rejected != len(parsed):
        raise RuntimeError(
            f"{path}: rows not accounted for: read {len(parsed)}, loaded {represented}, rejected {rejected}"
        )
    derived = frozenset({"customers"}) if source.kind == "sales_lines" else frozenset()
    return IngestBatch(
        source=source.name,
        kind=source.kind,
        location=str(path),
        frames=frames,
        rejects=_rejects_frame(problems, rows, parsed, ctx, str(path)),
        rows_read=len(parsed),
        rows_rejected=rejected,
        derived_tables=derived,
        whole_orders=source.kind == "sales_lines",
        unattributed=unattributed,
    )


# --------------------------------------------------------------------------- configuration checks


def _timezone(source: SpreadsheetSource, settings: Settings) -> str:
    name = source.timezone or settings.timezone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise IngestError(f"source {source.name}: timezone: unknown IANA timezone {name!r}") from None
    return name


def _check_field_names(source: SpreadsheetSource, specs: tuple[FieldSpec, ...]) -> None:
    names = [s.name for s in specs]
    for section, mapping in (("columns", source.columns), ("defaults", source.defaults)):
        unknown = [f for f in mapping if f not in names]
        if unknown:
            raise IngestError(
                f"source {source.name}: {section}: {', '.join(unknown)} not a field of kind {source.kind}"
                f" (fields: {', '.join(names)})"
            )


def _check_territories(ctx: _Context) -> None:
    """Credit by territory only goes to members the warehouse has (a typo would credit no one visibly)."""
    if ctx.source.kind not in ("orders", "refunds", "sales_lines") or "territory" not in ctx.source.attribute_by:
        return
    unknown = sorted(set(ctx.settings.territories) - set(ctx.known.member_ids))
    if unknown:
        raise IngestError(
            f"source {ctx.source.name}: yeji.yaml territories name member(s) {', '.join(unknown)} that the warehouse"
            " does not have; load the members sheet first, or correct territories"
        )


def _checked_defaults(source: SpreadsheetSource, specs: tuple[FieldSpec, ...], ctx: _Context) -> dict[str, str]:
    """The source's defaults, each read as a cell would be; a bad one is a whole-file error."""
    by_name = {s.name: s for s in specs}
    for name, value in source.defaults.items():
        spec = by_name[name]
        one = pd.Series([value], dtype=object)
        if spec.type == "amount":
            parsed = cells.parse_decimals(one, source.decimal_comma, what="an amount")
        else:
            parsed = _parse_column(one, spec, ctx, currencies=None)
        error = parsed.errors.iloc[0]
        if error is None and name in MEMBER_REFERENCES.get(source.kind, ()) and parsed.values.iloc[0] not in ctx.known.member_ids:
            error = f"unknown member {value!r}"
        if error:
            raise IngestError(f"source {source.name}: defaults.{name}: {error}")
    return dict(source.defaults)


def _rows_by_field(tables: list[RawTable], source: SpreadsheetSource, specs, defaults: dict[str, str]) -> _Rows:
    """Every data row of every table, one column per field, defaults filling blanks."""
    names = [s.name for s in specs]
    unmapped = {f: f for f in names if f not in source.columns}  # a header spelled exactly like the field
    columns: dict[str, list] = {f: [] for f in names}
    table_at, index_in_table, row_number, headers = [], [], [], []
    for t, table in enumerate(tables):
        positions = column_positions(table, unmapped, ignore_case=False) | column_positions(table, source.columns)
        missing = [f"{h} ({f})" for f, h in source.columns.items() if f not in positions]
        if missing:
            raise IngestError(
                f"{table.where()}: missing column(s) {', '.join(missing)}; the sheet has: {available_headers(table)}"
            )
        required = [s.name for s in specs if s.required and s.name not in positions and s.name not in defaults]
        if required:
            raise IngestError(
                f"{table.where()}: no column or default for required field(s) {', '.join(required)} of a"
                f" {source.kind} source; map them under columns: or give them under defaults:"
            )
        headers.append({f: table.headers[p] for f, p in positions.items()} | {f: f"defaults.{f}" for f in defaults if f not in positions})
        for f in names:
            p = positions.get(f)
            default = defaults.get(f)
            if p is None:
                values = [default] * len(table.rows)
            else:
                values = [row[p] if p < len(row) else None for row in table.rows]
                if default is not None:
                    values = [default if cells.is_blank(v) else v for v in values]
            columns[f].extend(values)
        table_at.extend([t] * len(table.rows))
        index_in_table.extend(range(len(table.rows)))
        row_number.extend(table.row_numbers)
    raw_cells = pd.DataFrame({f: pd.Series(v, dtype=object) for f, v in columns.items()}, index=pd.RangeIndex(len(row_number)))
    return _Rows(tables, raw_cells, np.array(table_at, dtype=int), np.array(index_in_table, dtype=int), np.array(row_number, dtype=int), headers)


# --------------------------------------------------------------------------- reading fields


def _parse_column(raw: pd.Series, spec: FieldSpec, ctx: _Context, currencies: pd.Series | None) -> cells.Cells:
    source = ctx.source
    if spec.type == "id":
        return cells.parse_ids(raw, spec.length)
    if spec.type == "text":
        return cells.parse_texts(raw, spec.length)
    if spec.type == "choice":
        return cells.parse_choices(raw, spec.choices, spec.name.replace("_", " "))
    if spec.type == "currency":
        return cells.parse_currencies(raw, ctx.settings.currencies)
    if spec.type == "bool":
        return cells.parse_bools(raw)
    if spec.type == "int":
        return cells.parse_ints(raw)
    if spec.type == "period":
        return cells.parse_periods(raw)
    if spec.type == "decimal":
        return cells.parse_decimals(raw, source.decimal_comma)
    if spec.type == "timestamp":
        return cells.parse_timestamps(raw, date_format=source.date_format, dayfirst=source.dayfirst, timezone=ctx.timezone)
    if spec.type == "date":
        return cells.parse_dates(raw, date_format=source.date_format, dayfirst=source.dayfirst)
    if spec.type == "amount":
        return cells.parse_amounts(raw, currencies, source.decimal_comma)
    raise ValueError(f"unknown field type {spec.type!r}")


def _parsed_fields(rows: _Rows, specs, ctx: _Context, problems: _Problems) -> pd.DataFrame:
    """Every field read into its exact type; unreadable cells become problems (and None/NaT)."""
    parsed: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.type != "amount":
            result = _parse_column(rows.cells[spec.name], spec, ctx, currencies=None)
            parsed[spec.name] = result.values
            problems.add_cells(spec.name, result.errors)
    if ctx.source.kind == "order_lines":
        parsed["currency"] = _order_line_currencies(parsed, rows, ctx, problems)
    for spec in specs:  # amounts last: they are minor units of the row's currency
        if spec.type == "amount":
            result = _parse_column(rows.cells[spec.name], spec, ctx, currencies=parsed["currency"])
            parsed[spec.name] = result.values
            problems.add_cells(spec.name, result.errors)
    return pd.DataFrame(parsed, index=rows.cells.index)[[s.name for s in specs]]


def _order_line_currencies(parsed: dict[str, pd.Series], rows: _Rows, ctx: _Context, problems: _Problems) -> pd.Series:
    """Order lines' currency: the currency column or default, else their order's in the warehouse."""
    given = parsed["currency"]
    blank = rows.cells["currency"].map(cells.is_blank)
    from_order = parsed["order_id"].map(lambda o: ctx.known.order_currencies.get(o) if o is not None else None)
    currency = given.where(~blank, from_order)
    order_source = ctx.source.order_source or ctx.source.name
    for pos in parsed["order_id"].index[blank & currency.isna() & parsed["order_id"].notna()]:
        problems.add(
            pos, "order_id",
            f"no currency for order {parsed['order_id'][pos]!r}: it is not in the warehouse under source"
            f" {order_source!r}; load its orders first, or map a currency column or give a default",
        )
    return currency.astype(object).where(currency.notna(), None)


def _add_required_problems(parsed: pd.DataFrame, specs, rows: _Rows, problems: _Problems) -> None:
    bad_cells = {(pos, f) for pos, f, _ in problems.items}
    for spec in specs:
        if not spec.required:
            continue
        missing = parsed[spec.name].isna()
        if spec.type == "amount":  # an amount needs its row's currency; a bad currency is its own problem
            missing &= rows.cells[spec.name].map(cells.is_blank)
        for pos in parsed.index[missing]:
            if (pos, spec.name) not in bad_cells:
                problems.add(pos, spec.name, "missing required value")


def _add_reference_problems(parsed: pd.DataFrame, ctx: _Context, problems: _Problems) -> None:
    """Members and teams a row names must exist (members of the same file count for members)."""
    kind, known = ctx.source.kind, ctx.known
    members = set(known.member_ids)
    for name in MEMBER_REFERENCES.get(kind, ()) if kind != "members" else ():
        values = parsed[name]
        for pos, value in values[values.notna() & ~values.isin(members)].items():
            problems.add(pos, name, f"unknown member {value!r} (not in the warehouse; load the members sheet first)")
    if kind == "members":
        teams = parsed["team_id"]
        for pos, value in teams[teams.notna() & ~teams.isin(known.team_ids)].items():
            problems.add(pos, "team_id", f"unknown team {value!r} (not in the warehouse; load the teams sheet first)")
    if kind == "targets":
        for pos, scope, scope_id in zip(parsed.index, parsed["scope"], parsed["scope_id"]):
            if scope == "member" and scope_id is not None and scope_id not in members:
                problems.add(pos, "scope_id", f"unknown member {scope_id!r} (not in the warehouse; load the members sheet first)")
            elif scope == "team" and scope_id is not None and scope_id not in known.team_ids:
                problems.add(pos, "scope_id", f"unknown team {scope_id!r} (not in the warehouse; load the teams sheet first)")


def _add_manager_problems(parsed: pd.DataFrame, ctx: _Context, problems: _Problems) -> None:
    """members: a manager is a known member or one loaded from the same file (not a rejected one)."""
    managers = parsed["manager_id"]
    while True:
        rejected = problems.rows()
        loading = {m for pos, m in parsed["member_id"].items() if m is not None and pos not in rejected}
        members = set(ctx.known.member_ids) | loading
        unknown = [(pos, m) for pos, m in managers.items() if m is not None and pos not in rejected and m not in members]
        if not unknown:
            return
        for pos, manager in unknown:
            problems.add(pos, "manager_id", f"unknown member {manager!r} (not in the warehouse, nor loaded from this file)")


def _add_kind_problems(parsed: pd.DataFrame, rows: _Rows, ctx: _Context, problems: _Problems) -> None:
    """Checks that belong to one kind of record."""
    kind = ctx.source.kind
    if kind == "members":
        for pos, email in parsed["email"].dropna().items():
            local, at, domain = email.partition("@")
            if not (local and at and "." in domain and " " not in email):
                problems.add(pos, "email", f"{email!r} is not an email address")
    elif kind == "fx_rates":
        for pos, rate in parsed["rate"].dropna().items():
            if rate <= 0:
                problems.add(pos, "rate", f"an FX rate must be positive, got {rate}")
    elif kind == "inquiries":
        late = parsed["first_reply_at"].notna() & (parsed["first_reply_at"] < parsed["received_at"])
        for pos in parsed.index[late]:
            problems.add(pos, "first_reply_at", "first reply is before the inquiry was received")
    elif kind == "product_costs":
        for pos, cost in parsed["unit_cost"].dropna().items():
            if cost < 0:
                problems.add(pos, "unit_cost", f"a unit cost cannot be negative, got {cost}")
    if "shipped_at" in parsed.columns:
        _add_shipment_problems(parsed, ctx, problems)


def _add_shipment_problems(parsed: pd.DataFrame, ctx: _Context, problems: _Problems) -> None:
    """A shipment dated before its order's day. Compared as local days: a ship date written
    without a time (local midnight) on the order's own day is fine."""
    both = parsed["shipped_at"].notna() & parsed["ordered_at"].notna()
    if not both.any():
        return
    shipped = local_dates(pd.Series(parsed.loc[both, "shipped_at"].to_numpy()), ctx.timezone).to_numpy()
    ordered = local_dates(pd.Series(parsed.loc[both, "ordered_at"].to_numpy()), ctx.timezone).to_numpy()
    for pos in parsed.index[both][shipped < ordered]:
        problems.add(pos, "shipped_at", "shipped before the order was placed (ship date earlier than the order date)")


def _numbered_lines(parsed: pd.DataFrame, rows: _Rows, problems: _Problems) -> pd.DataFrame:
    """order_lines: ``line_no`` from its column, else the running number within the order in file order."""
    if any("line_no" in h for h in rows.headers):
        for pos in parsed.index[parsed["line_no"].isna() & rows.cells["line_no"].map(cells.is_blank)]:
            problems.add(pos, "line_no", "missing required value (line_no is mapped, so every line needs one)")
        return parsed
    with_id = parsed["order_id"].notna()
    running = parsed[with_id].groupby("order_id", sort=False).cumcount() + 1
    return parsed.assign(line_no=running.astype(object).reindex(parsed.index).where(with_id, None))


# --------------------------------------------------------------------------- record ids


def _record_keys(source: SpreadsheetSource, rows: _Rows) -> tuple[str, ...]:
    if source.kind == "order_lines" and all("line_no" not in h for h in rows.headers):
        return ()  # lines are numbered in file order: no two rows share an id
    return RECORD_KEYS[source.kind]


def _comparable(value: object) -> object:
    return None if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)) else value


def _add_duplicate_problems(parsed: pd.DataFrame, keys: tuple[str, ...], specs, rows: _Rows, problems: _Problems) -> None:
    """The same record id twice with different content: reject every such row, naming the others."""
    clean = parsed.drop(index=list(problems.rows()))
    repeated = clean[clean.duplicated(subset=list(keys), keep=False)]
    if repeated.empty:
        return
    names = [s.name for s in specs]
    groups: dict[tuple, list[tuple[int, tuple]]] = {}
    for pos, record in zip(repeated.index, repeated[names].itertuples(index=False, name=None)):
        content = tuple(_comparable(v) for v in record)
        key = tuple(content[names.index(k)] for k in keys)
        groups.setdefault(key, []).append((pos, content))
    label = " / ".join(keys)
    for key, members in groups.items():
        if len({content for _, content in members}) == 1:
            continue  # identical repeats: loaded once
        shown_key = " / ".join(str(k) for k in key)
        for pos, content in members:
            others = [p for p, c in members if c != content]
            problems.add(
                pos, keys[0],
                f"the same {label} {shown_key!r} appears in {rows.refs(others, pos)} with different content;"
                " every differing row is rejected",
            )


def _add_order_problems(parsed: pd.DataFrame, rows: _Rows, problems: _Problems) -> None:
    """sales_lines: an order's rows must agree on its header, and an order loads whole or not at all."""
    rejected = problems.rows()
    with_id = parsed[parsed["order_id"].notna()]
    clean = with_id.drop(index=[p for p in with_id.index if p in rejected])
    counts = clean.groupby("order_id", sort=False)[list(ORDER_HEADER_FIELDS)].nunique(dropna=False)
    conflicting = counts[(counts > 1).any(axis=1)]
    lines_of = clean.groupby("order_id", sort=False).groups if len(conflicting) else {}
    for order_id, row in conflicting.iterrows():
        lines = clean.loc[lines_of[order_id]]
        for name in [f for f in ORDER_HEADER_FIELDS if row[f] > 1]:
            values = {int(pos): _comparable(v) for pos, v in lines[name].items()}
            for pos, value in values.items():
                others = [p for p, v in values.items() if v != value]
                problems.add(
                    pos, name,
                    f"the same order id {order_id!r} twice with different content: {rows.header(pos, name)} is"
                    f" {cells.shown(rows.cells.at[pos, name])!r} here but {cells.shown(rows.cells.at[others[0], name])!r}"
                    f" in {rows.refs(others, pos)}; the whole order is rejected",
                )
    rejected = problems.rows()
    bad = with_id.loc[[p for p in with_id.index if p in rejected]]
    bad_rows = bad.groupby("order_id", sort=False).groups if len(bad) else {}
    for pos, order_id in with_id["order_id"].items():
        if pos in rejected or order_id not in bad_rows:
            continue
        others = sorted(int(p) for p in bad_rows[order_id])
        problems.add(
            pos, None,
            f"order {order_id!r} is not loaded because {rows.refs(others, pos)} of it"
            f" {'was' if len(others) == 1 else 'were'} rejected; an order loads whole or not at all",
        )


# --------------------------------------------------------------------------- frames per kind


def _attributed_members(frame: pd.DataFrame, ctx: _Context) -> pd.Series:
    """The member credited with each order/refund, by the source's ``attribute_by`` rules."""
    territory = {country.casefold(): member for country, member in ctx.settings.territory_of().items()}
    owners = ctx.known.customer_owners
    credited = pd.Series(None, index=frame.index, dtype=object)
    for rule in ctx.source.attribute_by:
        if rule == "member_column":
            candidate = frame["member_id"]
        elif rule == "customer_owner":
            candidate = frame["customer_id"].map(lambda c: owners.get(c) if c is not None else None)
        else:
            candidate = frame["country"].map(lambda c: territory.get(c.casefold()) if isinstance(c, str) else None)
        credited = credited.where(credited.notna(), candidate)
    return credited.astype(object).where(credited.notna(), None)


def _int64(values) -> pd.Series:
    return pd.Series(values, dtype=object).astype("int64")


def _filled(series: pd.Series, value: object) -> pd.Series:
    return series.astype(object).where(series.notna(), value)


def _minor_or_zero(series: pd.Series) -> pd.Series:
    return _int64(_filled(series, 0).tolist()).set_axis(series.index)


def _line_amounts(lines: pd.DataFrame) -> pd.DataFrame:
    """gross_minor, discount_minor and cost_minor of each line: quantity x unit price (or unit
    cost), exact, in minor units of the line's currency; cost NULL when the unit cost is unknown."""
    triples = zip(lines["quantity"], lines["unit_price"], lines["unit_cost"], lines["currency"])
    gross, cost = [], []
    for quantity, price, unit_cost, currency in triples:
        gross.append(cells.line_minor(quantity, price, currency))
        cost.append(None if unit_cost is None else cells.line_minor(quantity, unit_cost, currency))
    return pd.DataFrame(
        {
            "gross_minor": _int64(gross).set_axis(lines.index),
            "discount_minor": _minor_or_zero(lines["discount"]),
            "cost_minor": pd.Series(cost, index=lines.index, dtype=object),
        },
        index=lines.index,
    )


# The warehouse shapes, declared once in transforms.schema.
ORDER_COLUMNS, LINE_COLUMNS, REFUND_COLUMNS = ORDERS, ORDER_LINES, REFUNDS
CUSTOMER_COLUMNS = CUSTOMERS + ("source",)


def _order_totals(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order: its header (its rows agree on it) and the sums of its lines' gross and discount."""
    header = lines.drop_duplicates("order_id", keep="first").set_index("order_id")[list(ORDER_HEADER_FIELDS)]
    sums = lines.groupby("order_id", sort=False)[["gross_minor", "discount_minor"]].sum()
    first_shipped = lines.groupby("order_id", sort=False)["shipped_at"].min()  # the first shipment; NaT: none yet
    return header.join(sums).join(first_shipped).reset_index()


def _sales_lines_frames(clean: pd.DataFrame, ctx: _Context) -> tuple[dict[str, pd.DataFrame], int, int]:
    """Orders, order lines, cancellations (as refunds) and customers from complete, valid orders."""
    source = ctx.source
    lines = clean.assign(line_no=clean.groupby("order_id", sort=False).cumcount() + 1)
    lines = lines.drop(columns=["discount"]).join(_line_amounts(lines)).assign(source=source.name)
    prefix = source.cancellation_prefix
    cancelled = lines["order_id"].map(lambda o: o.startswith(prefix)) if prefix else pd.Series(False, index=lines.index)
    cancelled = cancelled.astype(bool)

    sold, cancels = lines[~cancelled], lines[cancelled]
    orders = _order_totals(sold)
    orders = orders.assign(
        source=source.name,
        member_id=_attributed_members(orders, ctx),
        tax_minor=0,
        shipping_minor=0,
        payment_terms="prepaid",
        status="open",
    )
    refunds = _order_totals(cancels)
    refunds = refunds.assign(
        refund_id=refunds["order_id"],
        order_id=None,
        source=source.name,
        order_source=source.order_source or source.name,
        kind="cancellation",
        refunded_at=refunds["ordered_at"],
        amount_minor=refunds["gross_minor"].abs() - refunds["discount_minor"].abs(),
        member_id=_attributed_members(refunds, ctx),
        reason=None,
    )
    customers = (
        clean.loc[clean["customer_id"].notna(), ["customer_id", "customer_name", "country"]]
        .groupby("customer_id", sort=False)
        .last()  # the last non-blank value of each field, in file order
        .reset_index()
        .rename(columns={"customer_name": "name"})
        .assign(customer_class=None, owner_member_id=None, source=source.name)
    )
    frames = {
        "customers": _objects(customers[list(CUSTOMER_COLUMNS)]),
        "orders": orders[list(ORDER_COLUMNS)].astype({"gross_minor": "int64", "discount_minor": "int64"}),
        "order_lines": sold[list(LINE_COLUMNS)].reset_index(drop=True),
        "refunds": refunds[list(REFUND_COLUMNS)].astype({"amount_minor": "int64"}),
    }
    represented = len(frames["order_lines"]) + len(cancels)
    unattributed = int(orders["member_id"].isna().sum() + refunds["member_id"].isna().sum())
    return frames, represented, unattributed


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as objects with None for blanks (never NaN)."""
    return frame.astype(object).where(frame.notna(), None)


def _teams(rows: pd.DataFrame, ctx: _Context):
    return {"teams": rows[["team_id", "name", "base_currency", "lead_member_id"]].assign(source=ctx.source.name)}, 0


def _members(rows: pd.DataFrame, ctx: _Context):
    frame = rows.assign(
        language=_filled(rows["language"], ctx.settings.reports.default_language),
        active=_filled(rows["active"], True),
        source=ctx.source.name,
    )
    return {"members": frame[["member_id", "name", "team_id", "role", "manager_id", "email", "language", "active", "source"]]}, 0


def _customers(rows: pd.DataFrame, ctx: _Context):
    return {"customers": rows[list(CUSTOMER_COLUMNS[:-1])].assign(source=ctx.source.name)}, 0


def _orders(rows: pd.DataFrame, ctx: _Context):
    frame = rows.assign(
        source=ctx.source.name,
        member_id=_attributed_members(rows, ctx),
        gross_minor=_minor_or_zero(rows["gross"]),
        discount_minor=_minor_or_zero(rows["discount"]),
        tax_minor=_minor_or_zero(rows["tax"]),
        shipping_minor=_minor_or_zero(rows["shipping"]),
        payment_terms=_filled(rows["payment_terms"], "prepaid"),
        status=_filled(rows["status"], "open"),
    )
    return {"orders": frame[list(ORDER_COLUMNS)]}, int(frame["member_id"].isna().sum())


def _order_lines(rows: pd.DataFrame, ctx: _Context):
    source = ctx.source
    frame = rows.drop(columns=["discount"]).join(_line_amounts(rows)).assign(source=source.order_source or source.name)
    return {"order_lines": frame[list(LINE_COLUMNS)]}, 0


def _refunds(rows: pd.DataFrame, ctx: _Context):
    source = ctx.source
    frame = rows.assign(
        source=source.name,
        order_source=source.order_source or source.name,
        kind=_filled(rows["kind"], "refund"),
        amount_minor=_int64([abs(a) for a in rows["amount"]]).set_axis(rows.index),  # money given back, positive
        member_id=_attributed_members(rows, ctx),
    )
    return {"refunds": frame[list(REFUND_COLUMNS)]}, int(frame["member_id"].isna().sum())


def _collections(rows: pd.DataFrame, ctx: _Context):
    source = ctx.source
    frame = rows.assign(
        source=source.name,
        order_source=source.order_source or source.name,
        stage=_filled(rows["stage"], "full"),
        amount_minor=_minor_or_zero(rows["amount"]),
    )
    columns = ["source", "collection_id", "order_source", "order_id", "stage", "received_at", "currency", "amount_minor"]
    return {"collections": frame[columns]}, 0


def _keyed(columns: tuple[str, ...], table: str) -> Callable:
    def build(rows: pd.DataFrame, ctx: _Context):
        return {table: rows[list(columns)].assign(source=ctx.source.name)}, 0

    return build


BUILDERS: dict[str, Callable[[pd.DataFrame, _Context], tuple[dict[str, pd.DataFrame], int]]] = {
    "teams": _teams,
    "members": _members,
    "customers": _customers,
    "orders": _orders,
    "order_lines": _order_lines,
    "refunds": _refunds,
    "collections": _collections,
    "fx_rates": _keyed(("rate_date", "from_currency", "to_currency", "rate"), "fx_rates"),
    "product_costs": _keyed(("sku", "effective_from", "currency", "unit_cost"), "product_costs"),
    "targets": _keyed(("scope", "scope_id", "period", "metric", "value", "currency"), "targets"),
    "scores": _keyed(("member_id", "period", "dimension", "score"), TABLE_OF_KIND["scores"]),
    "inquiries": _keyed(
        ("inquiry_id", "received_at", "first_reply_at", "owner_member_id", "customer_id", "country", "channel", "converted_order_id"),
        "inquiries",
    ),
}


# --------------------------------------------------------------------------- rejects


def _raw_json(rows: _Rows, pos: int) -> str:
    table = rows.tables[rows.table_at[pos]]
    row_cells = table.rows[rows.index_in_table[pos]]
    record = {}
    for i, cell in enumerate(row_cells):
        header = table.headers[i] if i < len(table.headers) and table.headers[i] else f"column {i + 1}"
        if header in record and cells.is_blank(cell):
            continue
        record[header] = cells.shown(cell)
    return json.dumps(record, ensure_ascii=False)


def _record_key(rows: _Rows, parsed: pd.DataFrame, pos: int, keys: tuple[str, ...]) -> str | None:
    parts = []
    for key in keys:
        value = parsed.at[pos, key]
        parts.append(cells.shown(rows.cells.at[pos, key]) if _comparable(value) is None else str(value))
    text = " / ".join(parts)
    return text[:200] if text.strip(" /") else None


def _rejects_frame(problems: _Problems, rows: _Rows, parsed: pd.DataFrame, ctx: _Context, location: str) -> pd.DataFrame:
    source = ctx.source
    keys = RECORD_KEYS[source.kind]
    order = {name: i for i, name in enumerate(parsed.columns)}
    records = []
    for pos, name, message in sorted(problems.items, key=lambda p: (p[0], order.get(p[1], len(order)))):
        table = rows.tables[rows.table_at[pos]]
        header = rows.header(pos, name)
        records.append(
            {
                "source": source.name,
                "kind": source.kind,
                "location": location,
                "sheet": table.sheet,
                "row_number": int(rows.row_number[pos]),
                "column_name": header,
                "record_key": _record_key(rows, parsed, pos, keys),
                "error": f"{table.where(int(rows.row_number[pos]), header)}: {message}",
                "raw": _raw_json(rows, pos),
            }
        )
    return pd.DataFrame(records, columns=list(REJECTS))
