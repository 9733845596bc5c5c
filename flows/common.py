"""Pieces every flow shares: the workspace, its warehouse, and the data the transforms need."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy import Engine

from config.loader import load_workspace, warehouse_url
from config.models import Workspace
from transforms.periods import Period, last_complete_month, last_complete_week, parse_period
from transforms.schema import SalesData
from warehouse.db import make_engine, migrate, read_table

SALES_TABLES = {
    "teams": "teams", "members": "members", "customers": "customers", "orders": "orders",
    "order_lines": "order_lines", "refunds": "refunds", "collections": "collections",
    "fx_rates": "fx_rates", "targets": "targets", "scores": "evaluation_scores", "inquiries": "inquiries",
    "fees": "fees",  # platform fees: deducted from gross profit
}


def prepare_workspace(workspace: str | None) -> Workspace:
    """The validated workspace, with its warehouse migrated to the newest schema."""
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
    """Processes for PDF rendering: one per core (WeasyPrint is single-threaded), at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


@task(name="load warehouse", cache_policy=NO_CACHE)
def load_sales_data(ws: Workspace) -> SalesData:
    """Every table the metrics and commissions need, read exactly (no float money)."""
    with warehouse(ws) as engine, engine.connect() as conn:
        frames = {name: read_table(conn, table) for name, table in SALES_TABLES.items()}
    return SalesData(
        **frames,
        timezone=ws.settings.timezone,
        default_currency=ws.settings.base_currency,
        new_customer_window_days=ws.settings.new_customer_window_days,
    ).check()
