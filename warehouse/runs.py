"""The run log (the ``runs`` table) and the run locks (``run_locks``).

A run is inserted as ``running`` when it starts and finished as ``completed``, ``failed``, or
``cancelled`` (another run of the same flow held the lock) with its counts (JSON) and error.
The idempotency key (``flow:period``, ``:dry-run`` for runs that send nothing) lets a backfill
skip periods that already completed.

A flow's lock is one ``run_locks`` row: whoever inserts it holds it (the primary key makes
that atomic on SQLite and PostgreSQL alike) until it deletes it, or until ``expires_at`` passes
without the holder's heartbeat renewing it (the holder crashed); then the next run takes it
over with a compare-and-set on the expired row, so two waiting runs cannot both win.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from warehouse.models import TABLES

RUNS = TABLES["runs"]
LOCKS = TABLES["run_locks"]

RUNNING, COMPLETED, FAILED, CANCELLED = "running", "completed", "failed", "cancelled"

LOCK_TTL = timedelta(seconds=120)  # a holder silent this long (crashed, machine off) loses the lock
HEARTBEAT_SECONDS = 20.0
QUEUE_POLL_SECONDS = 1.0

log = logging.getLogger("yeji.warehouse.runs")


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
    if state not in (COMPLETED, FAILED, CANCELLED):
        raise ValueError(f"a run ends completed, failed or cancelled, not {state!r}")
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


# --------------------------------------------------------------------------- run locks


@dataclass(frozen=True)
class LockHolder:
    flow: str
    owner: str  # "host:pid:nonce"
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        host, _, rest = self.owner.partition(":")
        pid = rest.partition(":")[0]
        run = f", run log id {self.run_id}" if self.run_id else ""
        return f"process {pid} on {host}{run}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC"


def lock_owner() -> str:
    """This process's name as a lock owner: host, pid and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _holder(engine: Engine, flow: str) -> LockHolder | None:
    with engine.connect() as conn:
        row = conn.execute(select(LOCKS).where(LOCKS.c.flow == flow)).first()
    return LockHolder(row.flow, row.owner, row.run_id, row.acquired_at, row.expires_at) if row else None


def _dead_here(holder: LockHolder) -> bool:
    """The holder ran on this machine and its process is gone (killed): no need to wait for expiry."""
    host, _, rest = holder.owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, another user's
        return False
    return False


def try_lock(engine: Engine, flow: str, owner: str, *, now: datetime, ttl: timedelta,
             run_id: int | None = None) -> LockHolder | None:
    """Take ``flow``'s lock for ``owner``; returns None when taken, else who holds it."""
    values = dict(owner=owner, run_id=run_id, acquired_at=now, expires_at=now + ttl)
    try:
        with engine.begin() as conn:
            conn.execute(LOCKS.insert().values(flow=flow, **values))
        return None
    except IntegrityError:
        pass
    holder = _holder(engine, flow)
    if holder is None:  # released in between: try once more
        return try_lock(engine, flow, owner, now=now, ttl=ttl, run_id=run_id)
    if holder.expires_at < now or _dead_here(holder):
        with engine.begin() as conn:  # compare-and-set: only one of several waiters takes it over
            taken = conn.execute(update(LOCKS).where(LOCKS.c.flow == flow, LOCKS.c.owner == holder.owner)
                                 .values(**values)).rowcount
        if taken:
            return None
        return _holder(engine, flow) or holder
    return holder


def renew_lock(engine: Engine, flow: str, owner: str, *, now: datetime, ttl: timedelta, run_id: int | None = None) -> bool:
    """The holder's heartbeat; False when the lock is no longer ours (it expired and was taken)."""
    values = {"expires_at": now + ttl}
    if run_id is not None:
        values["run_id"] = run_id
    with engine.begin() as conn:
        return bool(conn.execute(update(LOCKS).where(LOCKS.c.flow == flow, LOCKS.c.owner == owner)
                                 .values(**values)).rowcount)


def release_lock(engine: Engine, flow: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(LOCKS).where(LOCKS.c.flow == flow, LOCKS.c.owner == owner))


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Lock:
    """A held (``holder`` None) or refused (``holder`` = who has it) flow lock."""

    flow: str
    owner: str
    holder: LockHolder | None = None
    run_id: int | None = None
    lost: bool = False  # the heartbeat found the lock taken over (we were silent past its expiry)


@contextmanager
def flow_lock(engine: Engine, flow: str, *, overlap: str, ttl: timedelta = LOCK_TTL,
              heartbeat_seconds: float = HEARTBEAT_SECONDS) -> Iterator[Lock]:
    """Hold ``flow``'s lock for the block (``cancel_new``: yields a refused :class:`Lock` when it
    is held; ``enqueue``: waits for it). A heartbeat thread renews it; it is released at the end."""
    lock = Lock(flow, lock_owner())
    announced = False
    while True:
        lock.holder = try_lock(engine, flow, lock.owner, now=_utc_now(), ttl=ttl)
        if lock.holder is None or overlap != "enqueue":
            break
        if not announced:
            log.warning("%s: waiting for the running %s to finish (%s)", flow, flow, lock.holder.describe())
            announced = True
        time.sleep(QUEUE_POLL_SECONDS)
    if lock.holder is not None:
        yield lock
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_seconds):
            try:
                if not renew_lock(engine, flow, lock.owner, now=_utc_now(), ttl=ttl, run_id=lock.run_id):
                    lock.lost = True
                    log.warning("%s: this run's lock expired and was taken by another run", flow)
                    return
            except SQLAlchemyError as exc:  # the next beat tries again; the TTL allows a few misses
                log.warning("%s: lock heartbeat failed: %s", flow, type(exc).__name__)

    thread = threading.Thread(target=beat, name=f"yeji-lock-{flow}", daemon=True)
    thread.start()
    try:
        yield lock
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            release_lock(engine, flow, lock.owner)
        except SQLAlchemyError as exc:  # it expires by itself
            log.warning("%s: could not release the run lock (it expires in %s): %s", flow, ttl, type(exc).__name__)
