"""The `sync` flow: load every configured source (spreadsheets, then online stores) into the warehouse, one task per source."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from connectors.spreadsheets import IngestError, config_sha256, file_sha256, read_source
from config.models import Workspace
from flows import progress, runlog
from flows.common import prepare_workspace, run_time, warehouse
from flows.stores import sync_store_task
from warehouse.loads import known_refs, load_batch, unchanged_load

# Sources load in this order so that the references a row makes (members, customers,
# the orders a refund points at) are already in the warehouse when it is checked.
KIND_ORDER = (
    "teams", "members", "customers", "fx_rates", "orders", "sales_lines", "order_lines",
    "refunds", "collections", "targets", "scores", "inquiries", "product_costs",
)


class SyncFailed(Exception):
    """Some sources could not be loaded; the others were. Carries every source's summary."""

    def __init__(self, summaries: list[dict]):
        self.summaries = summaries
        failed = [f"{s['source']}: {s['error']}" for s in summaries if not s["ok"]]
        super().__init__("could not load " + "; ".join(failed))


@task(name="load source", cache_policy=NO_CACHE, task_run_name="load {source_name}")
def load_source(ws: Workspace, source_name: str, force: bool = False) -> dict:
    """Read one source file, validate it, and upsert it; bad rows become rejects.

    A file identical to the one the source's last load read, under the same settings, is
    not read again (unless ``force``): the summary says ``skipped`` and repeats that load's
    counts; its rejects stay listed (see :func:`warehouse.loads.unchanged_load`)."""
    source = next(s for s in ws.settings.sources if s.name == source_name)
    path = ws.path(source.path)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        if not path.is_file():
            raise IngestError(f"{path}: file not found (source {source.name!r} in yeji.yaml)")
        sha, config = file_sha256(path), config_sha256(source, ws.settings)
        with warehouse(ws) as engine, engine.begin() as conn:
            last = None if force else unchanged_load(conn, source.name, sha, config)
            if last is not None:
                return _skipped(source, last)
            known = known_refs(conn, source.order_source or source.name)
            batch = read_source(source, path, ws.settings, known)
            summary = load_batch(conn, source, str(path), sha, batch, started, config_sha256=config)
        return {"source": source.name, "kind": source.kind, "ok": True, **asdict(summary)}
    except IngestError as exc:
        return {"source": source.name, "kind": source.kind, "ok": False, "error": str(exc)}


def _skipped(source, last) -> dict:
    """The summary of a source whose file is unchanged since load ``last`` (nothing read)."""
    return {
        "source": source.name, "kind": source.kind, "ok": True, "skipped": True, "load_id": int(last.load_id),
        "rows_read": int(last.rows_read), "rows_loaded": int(last.rows_loaded), "rows_rejected": int(last.rows_rejected),
        "inserted": 0, "updated": 0, "unchanged": 0, "lines_removed": 0, "unattributed": 0,
    }


@flow(name="sync", log_prints=True)
def sync(workspace: str | None = None, sources: list[str] | None = None, force: bool = False) -> list[dict]:
    """Load all configured sources (or the named ones), in dependency order.

    Spreadsheets unchanged since their last load are skipped unless ``force``.

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
    with runlog.recorded(ws, "sync", run_time(ws).date().isoformat()) as run:
        for done, source in enumerate(chosen):
            progress.step(f"loading {source.name}", done, steps)
            summaries.append(load_source(ws, source.name, force))
        # stores after the spreadsheets: attribution needs the members, customer owners and territories
        for done, store in enumerate(stores, start=len(chosen)):
            progress.step(f"syncing store {store.name}", done, steps)
            summaries.append(sync_store_task(ws, store.name, done, steps))
        progress.step("sources loaded", steps, steps)
        run.sources(summaries)  # recorded as failed when any source failed
        if not all(s["ok"] for s in summaries):
            raise SyncFailed(summaries)
    return summaries
