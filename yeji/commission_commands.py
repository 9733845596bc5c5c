"""`yeji explain`, `yeji close`, `yeji commission simulate`: commission lines for finance."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from transforms.money import exponent

# ----------------------------------------------------------------------------- shared


def _money(minor, currency: str) -> str:
    from transforms.commissions import format_minor

    return format_minor([int(minor)], currency)[0]


def print_lines(console: Console, lines: pd.DataFrame, title: str) -> None:
    """Each line with its explanation, then the total, checked against the lines."""
    table = Table(title=title, title_justify="left", show_edge=False, show_lines=False)
    for col, justify in (("#", "right"), ("what", "left"), ("amount", "right"), ("held", "right"), ("explanation", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for i, row in enumerate(lines.itertuples(index=False), start=1):
        held = int(getattr(row, "held_minor", 0) or 0)
        table.add_row(str(i), str(getattr(row, "line_type", None) or row.rule), _money(row.amount_minor, row.currency),
                      _money(held, row.currency) if held else "", str(row.explanation))
    console.print(table)
    for currency, part in lines.groupby("currency"):
        total = int(part["amount_minor"].sum())
        held = int(part["held_minor"].fillna(0).sum()) if "held_minor" in part else 0
        running = int(part["cumulative_amount_minor"].iloc[-1]) if "cumulative_amount_minor" in part and len(part) else total
        check = "[green]= sum of lines[/green]" if running == total else f"[red]running total {running} != {total}[/red]"
        console.print(f"Total {_money(total, currency)} {currency} over {len(part)} line(s) {check}"
                      + (f"; held {_money(held, currency)} {currency}" if held else ""))


def _engine(workspace: str | None):
    from config.loader import load_workspace, warehouse_url
    from warehouse.db import make_engine, migrate

    ws = load_workspace(workspace)
    engine = make_engine(warehouse_url(ws))
    migrate(engine)
    return ws, engine


# ----------------------------------------------------------------------------- explain


def explain(console: Console, workspace: str | None, member: str, month: str) -> int:
    """The member's lines of the month as stored (what the statement shows); when the month
    was never computed, computed now from the warehouse (and not stored)."""
    from flows.common import load_sales_data
    from transforms import commissions
    from transforms.periods import parse_period
    from warehouse.commissions import is_closed, month_lines

    period = parse_period(month)
    if period.kind != "month":
        console.print(f"[red]--month {month}: a month like 2026-10, not a {period.kind}[/red]")
        return 2
    ws, engine = _engine(workspace)
    try:
        with engine.connect() as conn:
            stored = month_lines(conn, period.label)
            closed = is_closed(conn, period.label)
            prior = month_lines(conn, before=period.label)
        if len(stored):
            lines, note = stored, "stored" + (" (month closed)" if closed else "")
        else:
            data = load_sales_data.fn(ws)
            lines = commissions.month_result(data, ws.settings.commission, period, prior_lines=prior)["lines"]
            note = "computed now (not stored: run `yeji run monthly-commissions` to store)"
    finally:
        engine.dispose()
    mine = lines[lines["member_id"].astype(str) == member]
    if mine.empty:
        known = sorted(set(lines["member_id"].astype(str)))
        console.print(f"No commission lines for member {member} in {period.label}."
                      + (f" Members with lines: {', '.join(known[:20])}" if known else ""))
        return 1
    print_lines(console, mine, f"Commission {period.label} · {member} · {note}")
    return 0


# ----------------------------------------------------------------------------- close


def close(console: Console, workspace: str | None, month: str) -> int:
    from transforms.periods import parse_period
    from warehouse.commissions import MonthClosed, close_month

    period = parse_period(month)
    if period.kind != "month":
        console.print(f"[red]--month {month}: a month like 2026-10, not a {period.kind}[/red]")
        return 2
    ws, engine = _engine(workspace)
    try:
        with engine.begin() as conn:
            record = close_month(conn, period.label)
    except (MonthClosed, RuntimeError) as exc:
        console.print(f"[red]Not closed:[/red] {exc}")
        return 1
    finally:
        engine.dispose()
    totals = ", ".join(f"{_money(v, c)} {c}" for c, v in sorted(record["totals"].items()))
    console.print(f"[green]✓[/green] Commission month {period.label} closed: {record['lines']} line(s), {totals}.")
    console.print("  Its statements never change now; a rerun writes differences as adjustment lines into the next open month.")
    return 0


# ----------------------------------------------------------------------------- simulate


class CsvError(ValueError):
    pass


@dataclass(frozen=True)
class SimulationInput:
    credits: pd.DataFrame
    members: pd.DataFrame
    teams: pd.DataFrame
    months: list


CREDIT_FIELDS = ("member_id", "date", "amount", "currency")
OPTIONAL_FIELDS = ("record_id", "order_id", "kind", "role", "team_id", "customer_class", "key_account", "shipped_date",
                   "collected_date", "cost", "source")


def _decimal(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        raise CsvError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite():
        raise CsvError(f"{where}: {text!r} is not a number")
    return value


def read_credits_csv(path: Path, base_currency: str | None, timezone: str = "UTC") -> SimulationInput:
    """A CSV of credited transactions -> CREDITS (+ extras), members and one team.

    Columns: member_id, date (2026-10-05 or ISO date-time), amount (major units; negative for
    refunds), currency; optional record_id, order_id, kind (order | refund | cancellation |
    collection), role (default sales), team_id, customer_class (new | returning | key_account),
    shipped_date, collected_date, cost (major units; gross profit = amount - cost), source.
    Errors name the file, row and column. The team's base currency is the credits' currency
    when they all have one, else ``base_currency``.
    """
    from transforms.commission_credits import with_extras
    from transforms.periods import month as month_of

    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise CsvError(f"{path}: no such file") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [f for f in CREDIT_FIELDS if f not in header]
        if missing:
            raise CsvError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(header)})")
        unknown = [h for h in header if h not in CREDIT_FIELDS + OPTIONAL_FIELDS]
        if unknown:
            raise CsvError(f"{path}: unknown column(s) {', '.join(unknown)}")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            where = f"{path}: row {n}"
            for f in CREDIT_FIELDS:
                if not row.get(f):
                    raise CsvError(f"{where}, column {f}: empty")
            currency = row["currency"].upper()
            if len(currency) != 3 or not currency.isalpha():
                raise CsvError(f"{where}, column currency: {row['currency']!r} is not an ISO 4217 code")
            amount = _decimal(row["amount"], f"{where}, column amount")
            scaled = amount.scaleb(exponent(currency))
            if scaled != scaled.to_integral_value():
                raise CsvError(f"{where}, column amount: {row['amount']} has more decimals than {currency} allows")
            try:
                when = pd.Timestamp(row["date"])
            except (ValueError, TypeError):
                raise CsvError(f"{where}, column date: {row['date']!r} is not a date (2026-10-05)") from None
            kind = row.get("kind") or ("order" if amount >= 0 else "refund")
            if kind not in ("order", "refund", "cancellation", "collection"):
                raise CsvError(f"{where}, column kind: {kind!r} is not order, refund, cancellation or collection")
            record = row.get("record_id") or (row.get("order_id") if kind == "order" and row.get("order_id") else f"L{n - 1}")
            cost = row.get("cost")
            gp = None
            if cost:
                gp = int((amount - _decimal(cost, f"{where}, column cost")).scaleb(exponent(currency)))
            days = {}
            for col in ("shipped_date", "collected_date"):
                if row.get(col):
                    try:
                        days[col] = pd.Timestamp(row[col]).normalize()
                    except (ValueError, TypeError):
                        raise CsvError(f"{where}, column {col}: {row[col]!r} is not a date") from None
            klass = row.get("customer_class") or None
            if klass is not None and klass not in ("new", "returning", "key_account"):
                raise CsvError(f"{where}, column customer_class: {klass!r} is not new, returning or key_account")
            rows.append(dict(
                member_id=row["member_id"], role=row.get("role") or "sales", team_id=row.get("team_id") or "SIM",
                kind=kind, source=row.get("source") or "csv", record_id=record,
                order_id=row.get("order_id") or (record if kind == "order" else None),
                credited_at=when.tz_localize(None) if when.tzinfo else when, credited_date=when.normalize().tz_localize(None) if when.tzinfo else when.normalize(),
                minor=int(scaled), currency=currency, customer_class=klass, gross_profit_minor=gp,
                shipped_day=days.get("shipped_date"), collected_day=days.get("collected_date"),
                month=month_of(when.date()).label,
            ))
    if not rows:
        raise CsvError(f"{path}: no credited transactions")
    frame = pd.DataFrame(rows)
    # credits all in one currency are in the team's base currency (a plan in another currency
    # converts them into its own, as the monthly run does); mixed ones need ``base_currency``
    single = frame["currency"].iloc[0] if frame["currency"].nunique() == 1 else None
    base = single or base_currency or frame["currency"].iloc[0]
    credits = pd.DataFrame({
        "month": frame["month"], "member_id": frame["member_id"], "team_id": frame["team_id"], "kind": frame["kind"],
        "source": frame["source"], "record_id": frame["record_id"], "order_source": frame["source"], "order_id": frame["order_id"],
        "credited_at": pd.to_datetime(frame["credited_at"]).astype("datetime64[ns]"),
        "credited_date": pd.to_datetime(frame["credited_date"]).astype("datetime64[ns]"),
        "base_minor": frame["minor"].astype("int64"), "currency": frame["currency"],
        "fx_rate": [Decimal(1)] * len(frame), "original_currency": frame["currency"],
        "original_amount_minor": frame["minor"].astype("int64"),
        "customer_class": frame["customer_class"],
        "gross_profit_minor": pd.array(frame["gross_profit_minor"], dtype="Int64"),
        "shipped_day": pd.to_datetime(frame["shipped_day"]).astype("datetime64[ns]"),
        "collected_day": pd.to_datetime(frame["collected_day"]).astype("datetime64[ns]"),
    })
    credits = with_extras(credits)
    # a refund's order amount, from the order's own row (to claw back the right fraction)
    orders = credits[credits["kind"] == "order"].drop_duplicates(["order_source", "order_id"]).set_index(["order_source", "order_id"])
    keys = pd.MultiIndex.from_frame(credits[["order_source", "order_id"]].astype(object))
    credits["order_original_minor"] = pd.array(orders["original_amount_minor"].reindex(keys).to_numpy(), dtype="Int64")
    credits["order_base_minor"] = credits["order_original_minor"]
    credits["order_currency"] = orders["currency"].reindex(keys).to_numpy(dtype=object)
    # a refund without a class takes its order's, and its order's day for new-customer windows
    order_class = orders["customer_class"].reindex(keys).to_numpy(dtype=object)
    credits["customer_class"] = np.where(pd.isna(credits["customer_class"]), order_class, credits["customer_class"])
    order_day = orders["credited_date"].reindex(keys).to_numpy()
    credits["signed_day"] = np.where(credits["kind"] == "order", credits["signed_day"], order_day).astype("datetime64[ns]")
    people = frame.drop_duplicates("member_id", keep="first")
    members = pd.DataFrame({"member_id": people["member_id"], "name": people["member_id"], "team_id": people["team_id"],
                            "role": people["role"], "active": True})
    teams = pd.DataFrame({"team_id": sorted(set(frame["team_id"])), "name": "simulation", "base_currency": base, "lead_member_id": None})
    from config.plans import ROLES

    bad = [r for r in members["role"] if r not in ROLES]
    if bad:
        raise CsvError(f"{path}: column role: unknown role {bad[0]!r} (roles are {', '.join(ROLES)})")
    months = sorted(set(credits["month"]))
    return SimulationInput(credits, members, teams, months)


def _read_small_csv(path: Path | None, columns: tuple, decimals: tuple = ()) -> pd.DataFrame | None:
    if path is None:
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise CsvError(f"{path}: no such file") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CsvError(f"{path}: missing column(s) {', '.join(missing)}")
    for col in decimals:
        frame[col] = [_decimal(v, f"{path}: row {i + 2}, column {col}") for i, v in enumerate(frame[col])]
    return frame


PIVOT_CODE = re.compile(r"[A-Z]{3}")  # as Settings.fx_pivot_currency: a 3-letter upper-case code


def simulation_pivot(workspace: str | None, fx_pivot: str | None) -> tuple[str, str]:
    """The FX pivot the monthly run would convert through, and where it comes from:
    ``fx_pivot`` (``--fx-pivot``) when given, else the workspace's ``fx_pivot_currency`` when
    the workspace (``workspace``, else ``$YEJI_HOME``, else the current folder) has a
    ``yeji.yaml``, else the default. No workspace is not an error; a broken ``yeji.yaml`` is
    (ConfigError naming it), since the monthly run would not start either."""
    from config.loader import CONFIG_FILE, ConfigError, load_workspace
    from transforms.money import DEFAULT_PIVOT

    if fx_pivot is not None:
        if not PIVOT_CODE.fullmatch(fx_pivot):
            raise ConfigError(f"--fx-pivot {fx_pivot!r}: expected a 3-letter upper-case currency code, e.g. EUR")
        return fx_pivot, "--fx-pivot"
    root = Path(workspace or os.environ.get("YEJI_HOME") or ".").resolve()
    config = root / CONFIG_FILE
    if not config.is_file():
        return DEFAULT_PIVOT, f"default; no {CONFIG_FILE} in {root}"
    try:
        ws = load_workspace(root)
    except ConfigError as exc:
        raise ConfigError(f"{exc}\n(the simulation takes fx_pivot_currency from it; pass --fx-pivot CUR to simulate without it)") from None
    return ws.settings.fx_pivot_currency, f"fx_pivot_currency of {config}"


def simulate(console: Console, plan_path: str, credits_path: str, *, month: str | None = None, fx_path: str | None = None,
             targets_path: str | None = None, scores_path: str | None = None, workspace: str | None = None,
             fx_pivot: str | None = None) -> int:
    """Run the plan file over a CSV of credited transactions and print per-member results and
    lines for each month in it (or ``month``). Nothing is read from or written to a warehouse.
    Cross rates go through the pivot the monthly run would use (:func:`simulation_pivot`)."""
    from config.loader import ConfigError, load_plan_file
    from config.plans import Commission
    from transforms import commissions
    from transforms.commission_engine import PlanError, PlanInputs
    from transforms.periods import parse_period
    from pydantic import ValidationError

    try:
        pivot, pivot_origin = simulation_pivot(workspace, fx_pivot)
        plans = load_plan_file(Path(plan_path))
        try:
            commission = Commission.model_validate({"plans": [p.model_dump(by_alias=True) for p in plans],
                                                    "default_plan": plans[0].plan_id if len({p.plan_id for p in plans}) == 1 else None})
        except ValidationError as exc:
            raise ConfigError(f"{plan_path}: " + "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        currency = next((p.currency for p in plans if p.currency), None)
        sim = read_credits_csv(Path(credits_path), currency)
        fx = _read_small_csv(Path(fx_path) if fx_path else None, ("rate_date", "from_currency", "to_currency", "rate"), ("rate",))
        if fx is not None:
            fx["rate_date"] = pd.to_datetime(fx["rate_date"]).astype("datetime64[ns]")
        targets = _read_small_csv(Path(targets_path) if targets_path else None, ("member_id", "period", "value"), ("value",))
        if targets is not None:
            targets = pd.DataFrame({"scope": "member", "scope_id": targets["member_id"], "period": targets["period"],
                                    "metric": "revenue", "value": targets["value"], "currency": None})
        scores = _read_small_csv(Path(scores_path) if scores_path else None, ("member_id", "period", "dimension", "score"), ("score",))
    except (ConfigError, CsvError) as exc:
        console.print(f"[red]Cannot simulate:[/red]\n{exc}")
        return 2
    if fx is not None:
        console.print(f"FX cross rates via {pivot} ({pivot_origin})", markup=False)
    months = [month] if month else sim.months
    prior = None
    for label in months:
        period = parse_period(label)
        inputs = PlanInputs(targets=targets, scores=scores, fx_rates=fx, prior_lines=prior, fx_pivot_currency=pivot)
        try:
            lines = commissions.commission_lines(sim.credits, sim.members, sim.teams, commission, period, inputs)
        except (PlanError, ValueError) as exc:
            console.print(f"[red]Cannot simulate {label}:[/red]\n{exc}")
            return 2
        summary = commissions.commission_summary(lines, sim.members, commission.for_month(label), period, sim.teams)
        table = Table(title=f"Simulation {label} · {plan_path}", title_justify="left", show_edge=False)
        for col in ("member", "plan", "lines", "base", "commission", "held"):
            table.add_column(col, justify="left" if col in ("member", "plan") else "right")
        for row in summary.itertuples(index=False):
            held = int(lines.loc[lines["member_id"] == row.member_id, "held_minor"].sum()) if len(lines) else 0
            cur = row.currency or sim.teams["base_currency"].iloc[0]
            table.add_row(str(row.member_id), str(row.plan_id), str(row.lines), _money(row.base_minor, cur),
                          _money(row.amount_minor, cur), _money(held, cur) if held else "")
        console.print(table)
        for mid, part in lines.groupby("member_id", sort=True):
            print_lines(console, part, f"{label} · {mid}")
        prior = lines if prior is None else pd.concat([prior, lines], ignore_index=True)
    return 0
