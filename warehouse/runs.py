"""The run log (the ``runs`` table): every flow run, when it was due, how it ended, what it did.

A run is inserted as ``running`` when it starts and finished as ``completed`` or ``failed``
with its counts (JSON) and error. The idempotency key (``flow:period``, ``:dry-run`` for
runs that send nothing) lets a backfill skip periods that already completed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select

from warehouse.models import TABLES

RUNS = TABLES["runs"]

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    flow: str
    period: str | None
    idempotency_key: str
    flow_run_id: str | None
    scheduled_at: datetime | None
    started_at: datetime
    ended_at: datetime | None
    state: str
    counts: dict
    error: str | None


def _row(row) -> RunRecord:
    return RunRecord(row.run_id, row.flow, row.period, row.idempotency_key, row.flow_run_id, row.scheduled_at,
                     row.started_at, row.ended_at, row.state, json.loads(row.counts) if row.counts else {}, row.error)


def start_run(engine: Engine, *, flow: str, period: str | None, idempotency_key: str, started_at: datetime,
              scheduled_at: datetime | None = None, flow_run_id: str | None = None) -> int:
    """Insert a ``running`` row (its own transaction) and return its id."""
    with engine.begin() as conn:
        result = conn.execute(RUNS.insert().values(
            flow=flow, period=period, idempotency_key=idempotency_key, flow_run_id=flow_run_id,
            scheduled_at=scheduled_at, started_at=started_at, state=RUNNING))
        return int(result.inserted_primary_key[0])


def finish_run(engine: Engine, run_id: int, *, state: str, ended_at: datetime, counts: dict | None = None,
               error: str | None = None) -> None:
    if state not in (COMPLETED, FAILED):
        raise ValueError(f"a run ends completed or failed, not {state!r}")
    with engine.begin() as conn:
        conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(
            state=state, ended_at=ended_at, counts=json.dumps(counts or {}, sort_keys=True, default=str),
            error=error[:20000] if error else None))


def runs(engine: Engine, *, flow: str | None = None, period: str | None = None, limit: int = 50) -> list[RunRecord]:
    """Runs, newest first."""
    stmt = select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(limit)
    if flow is not None:
        stmt = stmt.where(RUNS.c.flow == flow)
    if period is not None:
        stmt = stmt.where(RUNS.c.period == period)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(stmt)]


def completed_keys(engine: Engine, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have a completed run."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    stmt = select(RUNS.c.idempotency_key).where(RUNS.c.idempotency_key.in_(wanted), RUNS.c.state == COMPLETED)
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(stmt)}


def running(engine: Engine, flow: str, *, exclude: int | None = None) -> list[RunRecord]:
    """Runs of ``flow`` still marked running (for the no-overlap check)."""
    stmt = select(RUNS).where(RUNS.c.flow == flow, RUNS.c.state == RUNNING)
    if exclude is not None:
        stmt = stmt.where(RUNS.c.run_id != exclude)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(stmt)]
