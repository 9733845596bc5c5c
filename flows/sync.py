"""The `sync` flow: load every configured source (spreadsheets, then online stores) into the warehouse, one task per source."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from connectors.spreadsheets import IngestError, file_sha256, read_source
from config.models import Workspace
from flows import progress
from flows.common import prepare_workspace, warehouse
from flows.stores import sync_store_task
from warehouse.loads import known_refs, load_batch

# Sources load in this order so that the references a row makes (members, customers,
# the orders a refund points at) are already in the warehouse when it is checked.
KIND_ORDER = (
    "teams", "members", "customers", "fx_rates", "orders", "sales_lines", "order_lines",
    "refunds", "collections", "targets", "scores", "inquiries",
)


class SyncFailed(Exception):
    """Some sources could not be loaded; the others were. Carries every source's summary."""

    def __init__(self, summaries: list[dict]):
        self.summaries = summaries
        failed = [f"{s['source']}: {s['error']}" for s in summaries if not s["ok"]]
        super().__init__("could not load " + "; ".join(failed))


@task(name="load source", cache_policy=NO_CACHE, task_run_name="load {source_name}")
def load_source(ws: Workspace, source_name: str) -> dict:
    """Read one source file, validate it, and upsert it; bad rows become rejects."""
    source = next(s for s in ws.settings.sources if s.name == source_name)
    path = ws.path(source.path)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        if not path.is_file():
            raise IngestError(f"{path}: file not found (source {source.name!r} in yeji.yaml)")
        with warehouse(ws) as engine, engine.begin() as conn:
            known = known_refs(conn, source.order_source or source.name)
            batch = read_source(source, path, ws.settings, known)
            summary = load_batch(conn, source, str(path), file_sha256(path), batch, started)
        return {"source": source.name, "kind": source.kind, "ok": True, **asdict(summary)}
    except IngestError as exc:
        return {"source": source.name, "kind": source.kind, "ok": False, "error": str(exc)}


@flow(name="sync", log_prints=True)
def sync(workspace: str | None = None, sources: list[str] | None = None) -> list[dict]:
    """Load all configured sources (or the named ones), in dependency order.

    A source whose file is missing or unreadable is reported and skipped; the others
    still load, and the run then fails with :class:`SyncFailed` naming each problem.
    Returns one summary per source.
    """
    ws = prepare_workspace(workspace)
    chosen = [s for s in ws.settings.sources if sources is None or s.name in sources]
    stores = [s for s in ws.settings.stores if sources is None or s.name in sources]
    unknown = sorted(set(sources or ()) - {s.name for s in chosen} - {s.name for s in stores})
    if unknown:
        configured = [s.name for s in ws.settings.sources] + [s.name for s in ws.settings.stores]
        raise ValueError(f"unknown source(s) {unknown}; configured: {configured}")
    chosen.sort(key=lambda s: KIND_ORDER.index(s.kind))
    summaries = []
    steps = len(chosen) + len(stores)
    for done, source in enumerate(chosen):
        progress.step(f"loading {source.name}", done, steps)
        summaries.append(load_source(ws, source.name))
    # stores after the spreadsheets: attribution needs the members, customer owners and territories
    for done, store in enumerate(stores, start=len(chosen)):
        progress.step(f"syncing store {store.name}", done, steps)
        summaries.append(sync_store_task(ws, store.name, done, steps))
    progress.step("sources loaded", steps, steps)
    if not all(s["ok"] for s in summaries):
        raise SyncFailed(summaries)
    return summaries
