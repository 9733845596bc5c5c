"""Syncing one online store: windows, cursor and batches (the `sync` flow runs one task per store).

Per stream (``orders``; Amazon also ``finances``) the sync reads the half-open window
``[cursor, now - lag)`` - the cursor is where the last complete window ended (the
store's ``start`` the first time) and the lag leaves changes the platform may still be
settling for the next sync. Pages are read in order; every ``commit_every`` records
(and at the end of the window) one transaction writes the rows *and* the sync state:
mid-window, the token of the next page; at the end, the new cursor. A sync that
stops anywhere (crash, lost connection, bad page) resumes at the next uncommitted page,
and records are keyed, so nothing is lost or doubled. A saved page token the platform no
longer accepts restarts the window from its first page (loads are idempotent).

Bad records become rejects and the sync carries on; a bad credential or a page that
cannot be read after the bounded retries stops that store only, with a clear message.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Iterator

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from config.models import Settings, StoreSource, Workspace
from connectors.stores import (
    AuthFailed, Page, Parsed, ResumeRejected, RetryPolicy, StoreError, Stream, Window, build_frames, open_streams, rejects_frame,
)
from flows.common import warehouse
from warehouse.db import UpsertResult
from warehouse.loads import known_refs
from warehouse.store_loads import SyncState, load_store_batch, read_state, write_state

MAX_WINDOW_RESTARTS = 3
READ_AHEAD = True  # read the next page while this one loads (off: one thread, e.g. for cProfile)
WRITE_BEHIND = True  # write a batch while the next one is parsed (off: likewise)
Progress = Callable[[str, int], None]  # (what, records read so far)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _unknown_members(store: StoreSource, settings: Settings, members: frozenset[str]) -> list[str]:
    named = set(store.discount_codes.values()) | set(store.tags.values()) | set(store.marketplaces.values())
    named |= {store.member} if store.member else set()
    if "territory" in store.attribute_by:
        named |= set(settings.territories)
    return sorted(m for m in named if m not in members)


class _Totals:
    def __init__(self) -> None:
        self.read = self.rejected = self.pages = self.unattributed = 0
        self.upserts = UpsertResult()
        self.by_table: dict[str, UpsertResult] = {}
        self.streams: dict[str, dict] = {}


def sync_store(
    settings: Settings,
    store: StoreSource,
    engine: Engine,
    *,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    on_progress: Progress | None = None,
) -> dict:
    """Sync every stream of ``store`` into the warehouse; a summary dict (``ok`` False with ``error`` on failure)."""
    now = now or _utc_now()
    totals = _Totals()
    error = None
    streams: list[Stream] = []
    try:
        known = known_refs(engine)
        unknown = _unknown_members(store, settings, known.member_ids)
        if unknown:
            raise StoreError(
                f"store {store.name}: attribution names member(s) {', '.join(unknown)} that the warehouse does not have;"
                " load the members sheet first, or correct the store's rules / territories"
            )
        streams = open_streams(store, settings, policy)
        for stream in streams:
            _sync_stream(engine, settings, store, stream, now, known, totals, on_progress)
    except AuthFailed as exc:
        error = f"{exc} - check the store's credentials ({_where_credentials(store)})"
    except StoreError as exc:
        error = str(exc)
    finally:
        for stream in streams:
            http = getattr(stream, "http", None)
            if http is not None:
                http.close()
    summary = {
        "source": store.name,
        "kind": f"{store.platform} store",
        "ok": error is None,
        "rows_read": totals.read,
        "rows_loaded": totals.read - totals.rejected,
        "rows_rejected": totals.rejected,
        "inserted": totals.upserts.inserted,
        "updated": totals.upserts.updated,
        "unchanged": totals.upserts.unchanged,
        "pages": totals.pages,
        "unattributed": totals.unattributed,
        "by_table": {k: asdict(v) for k, v in totals.by_table.items()},
        "streams": totals.streams,
    }
    if error is not None:
        summary["error"] = error
    return summary


def _where_credentials(store: StoreSource) -> str:
    """Where the store's credentials come from, by name (never their values)."""
    from config.models import STORE_CREDENTIALS

    needed = STORE_CREDENTIALS[store.platform]
    envs = [store.credential_env(c) for c in needed if c not in store.secret_blocks]
    blocks = [store.secret_blocks[c] for c in needed if c in store.secret_blocks]
    return "; ".join(part for part in (
        f"environment variables {', '.join(envs)}" if envs else "",
        f"Prefect Secret blocks {', '.join(blocks)}" if blocks else "",
    ) if part)


def _sync_stream(engine: Engine, settings: Settings, store: StoreSource, stream: Stream, now: datetime, known,
                 totals: _Totals, on_progress: Progress | None) -> None:
    state = read_state(engine, store.name, stream.name)
    cursor = state.cursor if state is not None else None
    if state is not None and state.page_token is not None and state.window_start and state.window_end:
        window, token = Window(state.window_start, state.window_end), state.page_token
    else:
        window, token = _next_window(store, stream, cursor or datetime.combine(store.start, time()), now), None
        if window is None:
            totals.streams[stream.name] = {"window": None, "records": 0}
            return
    while window is not None:
        _read_window_resuming(engine, settings, store, stream, window, token, cursor, known, totals, on_progress)
        cursor, token = window.end, None
        window = _next_window(store, stream, cursor, now)


def _next_window(store: StoreSource, stream: Stream, start: datetime, now: datetime) -> Window | None:
    """``[start, now - lag)``, at most the stream's ``max_window`` long; None when nothing is due."""
    end = (now - timedelta(minutes=store.lag_minutes)).replace(microsecond=0)
    if stream.max_window is not None:
        end = min(end, start + stream.max_window)
    return Window(start, end) if end > start else None


def _read_window_resuming(engine: Engine, settings: Settings, store: StoreSource, stream: Stream, window: Window,
                          token: str | None, cursor: datetime | None, known, totals: _Totals,
                          on_progress: Progress | None) -> None:
    """Read ``window`` from ``token``; a token the platform refuses restarts the window from its first page."""
    restarts = 0
    while True:
        try:
            _read_window(engine, settings, store, stream, window, token, cursor, known, totals, on_progress)
            return
        except ResumeRejected as exc:
            restarts += 1
            if restarts > MAX_WINDOW_RESTARTS:
                raise StoreError(f"{exc} (window {window.describe()} restarted {MAX_WINDOW_RESTARTS} times)") from None
            token = None
            with engine.begin() as conn:
                write_state(conn, SyncState(store.name, stream.name, cursor, window.start, window.end, None,
                                            totals.pages, totals.read))


def _read_window(engine: Engine, settings: Settings, store: StoreSource, stream: Stream, window: Window, token: str | None,
                 cursor: datetime | None, known, totals: _Totals, on_progress: Progress | None) -> None:
    """Read ``window`` page by page; every ``commit_every`` records one transaction writes the batch and its cursor.

    The transactions run in a writer thread, one at a time and in order, while the next batch
    is parsed (SQLite and PostgreSQL work without holding the interpreter). A batch is handed
    over only once the one before it committed, so a failure stops the window at the last
    committed batch, as if it all ran in one thread.
    """
    batch, started, location = Parsed(), _utc_now(), ""
    stream_totals = totals.streams.setdefault(stream.name, {"window": window.describe(), "records": 0, "rejected": 0})
    handed = totals.read  # records of the batches handed to the writer (the state's count)
    pending: _Pending | None = None
    pages = stream.pages(window, token)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store batch") as writer:
        try:
            for page in read_ahead(pages) if READ_AHEAD else pages:
                totals.pages += 1
                batch.extend(stream.parse_page(page, window))
                location = page.location
                if batch.records < store.commit_every and page.next_token is not None:
                    continue
                done = page.next_token is None
                state = SyncState(
                    store=store.name, stream=stream.name, cursor=window.end if done else cursor,
                    window_start=None if done else window.start, window_end=None if done else window.end,
                    page_token=page.next_token, pages_read=totals.pages, records_read=handed + batch.records,
                )
                frames, unattributed = build_frames(batch, store, settings, known)
                rejects = rejects_frame(batch)
                if pending is not None:
                    pending.collect(totals, stream_totals, on_progress)  # the batch before committed (or raises)
                job = (_load_batch, engine, store.name, stream.name, location, frames, rejects, batch, state, started)
                pending = _Pending(writer.submit(*job) if WRITE_BEHIND else _done(job), store.name, stream.name, batch, unattributed)
                handed += batch.records
                batch, started = Parsed(), _utc_now()
        finally:
            if pending is not None:  # a batch handed over commits (or fails) before the window returns
                pending.collect(totals, stream_totals, on_progress)


def _load_batch(engine: Engine, store: str, stream: str, location: str, frames, rejects, batch: Parsed, state: SyncState,
                started: datetime):
    with engine.begin() as conn:
        return load_store_batch(conn, store, stream, location, frames, rejects, batch.keys, state, started,
                                batch.records, batch.rejected)


def _done(job: tuple) -> Future:
    """``job`` run here and now, as a finished future (writing behind is off)."""
    future: Future = Future()
    try:
        future.set_result(job[0](*job[1:]))
    except BaseException as exc:  # noqa: BLE001 - raised where the result is collected
        future.set_exception(exc)
    return future


class _Pending:
    """A batch handed to the writer; :meth:`collect` waits for its commit and counts it."""

    def __init__(self, future: Future, store: str, stream: str, batch: Parsed, unattributed: int):
        self.future, self.what, self.batch, self.unattributed = future, f"{store} {stream}", batch, unattributed

    def collect(self, totals: _Totals, stream_totals: dict, on_progress: Progress | None) -> None:
        load = self.future.result()
        totals.read += self.batch.records
        totals.rejected += self.batch.rejected
        totals.unattributed += self.unattributed
        totals.upserts = totals.upserts + load.total
        for table, result in load.by_table.items():
            totals.by_table[table] = totals.by_table.get(table, UpsertResult()) + result
        stream_totals["records"] += self.batch.records
        stream_totals["rejected"] += self.batch.rejected
        if on_progress is not None:
            on_progress(self.what, totals.read)


def read_ahead(pages: Iterator[Page]) -> Iterator[Page]:
    """``pages``, the next one read (in a thread) while the caller parses and loads this one.

    The platform's server works and the response travels while Yeji parses and writes, so
    the two overlap. Pages still arrive in order and one at a time, with any error where it
    happened (after the pages before it); a caller that stops early stops the reading before
    it returns (the page being read is finished, nothing after it is asked for).
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: tuple) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not hand(("page", page)):
                    return
            hand(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            hand(("error", exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="store pages", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        reader.join()


@task(name="sync store", cache_policy=NO_CACHE, task_run_name="sync store {store_name}")
def sync_store_task(ws: Workspace, store_name: str, position: int = 0, count: int = 1) -> dict:
    """One coarse task per store: every stream, committed batch by batch with its cursor."""
    from flows import progress

    store = next(s for s in ws.settings.stores if s.name == store_name)

    def report(what: str, records: int) -> None:
        progress.step(f"{what}: {records:,} records", position, count)

    with warehouse(ws) as engine:
        return sync_store(ws.settings, store, engine, on_progress=report)
