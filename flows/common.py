"""Pieces every flow shares: the workspace, its warehouse, and the data the transforms need."""

from __future__ import annotations

import atexit
import gc
import os
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from config.loader import load_workspace, warehouse_url
from config.models import Settings, Workspace
from transforms.periods import Period, last_complete_month, last_complete_week, parse_period
from transforms.schema import SalesData
from transforms.window import window_bounds, window_extra
from warehouse.db import make_engine, migrate, read_table
from warehouse.reads import read_weekly_window

SALES_TABLES = {
    "teams": "teams", "members": "members", "customers": "customers", "orders": "orders",
    "order_lines": "order_lines", "refunds": "refunds", "collections": "collections",
    "fx_rates": "fx_rates", "targets": "targets", "scores": "evaluation_scores", "inquiries": "inquiries",
    "fees": "fees",  # platform fees: deducted from gross profit
    "product_costs": "product_costs",  # SKU cost sheet: costs of lines the platform gives none for
}


_heap_settled = False


def settle_heap() -> None:
    """Once per process, before its first run: collect, then freeze what the process holds
    (imported modules, Prefect, pandas, SQLAlchemy: about 190,000 objects) out of the garbage
    collector's way. Every full collection during a run would otherwise walk them all again:
    0.4-0.6 s of a 4 s weekly run. Objects created later, by the runs, stay collectable; what
    the first run had already created when it called this is kept for the process's life.
    Unfrozen at exit, so that the interpreter's last collection still sees everything
    (extension modules such as DuckDB's report frozen objects as leaks otherwise)."""
    global _heap_settled
    if not _heap_settled:
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)
        _heap_settled = True


def prepare_workspace(workspace: str | None) -> Workspace:
    """The validated workspace, with its warehouse migrated to the newest schema (and the
    process's heap settled, :func:`settle_heap`)."""
    settle_heap()
    ws = load_workspace(workspace)
    with warehouse(ws) as engine:
        migrate(engine)
    return ws


@contextmanager
def warehouse(ws: Workspace) -> Iterator[Engine]:
    """An engine for the workspace's warehouse, disposed afterwards."""
    engine = make_engine(warehouse_url(ws))
    try:
        yield engine
    finally:
        engine.dispose()


def run_time(ws: Workspace) -> datetime:
    """When this run counts as happening, in the team's timezone: the scheduled start
    of the flow run when Prefect scheduled it, otherwise now. Never an import-time default."""
    tz = ZoneInfo(ws.settings.timezone)
    scheduled = flow_run.scheduled_start_time
    moment = scheduled if scheduled is not None else datetime.now(tz)
    return moment.astimezone(tz)


def resolve_period(label: str | None, kind: str, ws: Workspace) -> Period:
    """An explicit period label, or the last complete week/month at the run's time."""
    if label:
        period = parse_period(label)
        if period.kind != kind:
            raise ValueError(f"{label!r} is a {period.kind}; this flow needs a {kind}")
        return period
    now = run_time(ws)
    return last_complete_week(now) if kind == "week" else last_complete_month(now)


def render_jobs() -> int:
    """Processes for PDF rendering, the flow's own included: one per core this process may run
    on (WeasyPrint is single-threaded), at most 4. See :class:`reports.render.PdfWorkers`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 4))


@task(name="load warehouse", cache_policy=NO_CACHE)
def load_sales_data(ws: Workspace) -> SalesData:
    """Every table the metrics and commissions need, read exactly (no float money)."""
    with warehouse(ws) as engine, engine.connect() as conn:
        frames = {name: read_table(conn, table) for name, table in SALES_TABLES.items()}
    return sales_data(ws.settings, frames)


@task(name="load the week from the warehouse", cache_policy=NO_CACHE)
def load_weekly_data(ws: Workspace, period: Period) -> SalesData:
    """What the weekly figures of ``period`` need, read with WHERE clauses: the same figures
    as on every table, at a cost that follows the week, not the history. Not for monthly
    commissions (they read every table)."""
    with warehouse(ws) as engine, engine.connect() as conn:
        return read_weekly_data(conn, period, ws.settings)


def read_weekly_data(conn: Connection, period: Period, settings: Settings) -> SalesData:
    """The weekly run's :class:`SalesData`: :func:`warehouse.reads.read_weekly_window` of the
    days :func:`transforms.window.window_bounds` gives for ``settings.reports``."""
    reports = settings.reports
    bounds = window_bounds(period, reports.trend_weeks, reports.quiet_after_days,
                           new_customer_days=longest_new_customer_window(settings))
    frames = read_weekly_window(conn, bounds)
    earlier, previous = frames.pop("earlier_orders"), frames.pop("previous_orders")
    return sales_data(settings, frames, extra=window_extra(earlier, previous, bounds))


def longest_new_customer_window(settings: Settings) -> int:
    """Days within which an earlier order makes a customer returning: the workspace's, or a
    commission plan's own when longer."""
    plans = [p.new_customer_window_days for p in settings.commission.plans if p.new_customer_window_days]
    return max([settings.new_customer_window_days, *plans])


def sales_data(settings: Settings, frames: dict, extra: dict | None = None) -> SalesData:
    """Frames read from the warehouse as a checked :class:`SalesData` with the workspace's settings."""
    return SalesData(
        **frames,
        timezone=settings.timezone,
        default_currency=settings.base_currency,
        new_customer_window_days=settings.new_customer_window_days,
        fx_pivot_currency=settings.fx_pivot_currency,
        extra=extra or {},
    ).check()
