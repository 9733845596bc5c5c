"""What each `yeji` command does, and the summary it prints."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


@contextmanager
def _progress_bar(console: Console, title: str):
    """A progress bar fed by :mod:`flows.progress` while a flow runs in this process."""
    from flows.progress import listening

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task_id = bar.add_task(title, total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task_id, description=f"{title}: {what}", completed=done, total=total)

        with listening(update):
            yield


def _flow_error(console: Console, exc: Exception) -> int:
    console.print(f"[red]Failed:[/red] {exc}")
    return 1


def _cancelled(console: Console, exc: Exception) -> int:
    """Another run of the same flow was in progress: this one did nothing (and says so)."""
    console.print(f"[yellow]Cancelled:[/yellow] {exc}")
    return 1


# --------------------------------------------------------------------------- sync


def _print_sync(console: Console, summaries: list[dict]) -> None:
    # no vertical rules and one space between columns: the widest names and counts fit 80 columns
    # (a pipe under make), so names are never folded
    table = Table(title="Sync", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=0)
    for col in ("source", "kind", "read", "loaded", "rejected", "new", "updated", "same"):
        left = col in ("source", "kind")
        table.add_column(col, justify="left" if left else "right", overflow="fold" if left else "ellipsis", no_wrap=not left)
    for s in summaries:
        if not s["ok"]:
            table.add_row(s["source"], s["kind"], "[red]failed[/red]", "", "", "", "", "")
            continue
        rejected = s["rows_rejected"]
        table.add_row(
            s["source"], s["kind"], f"{s['rows_read']:,}", f"{s['rows_loaded']:,}",
            f"[yellow]{rejected:,}[/yellow]" if rejected else "0",
            f"{s['inserted']:,}", f"{s['updated']:,}", f"{s['unchanged']:,}",
        )
    console.print(table)
    for s in summaries:  # spreadsheets not read again: same file, same settings as their last load
        if s.get("skipped"):
            console.print(f"  {s['source']}: unchanged, skipped (as load {s['load_id']}; --force reads it again)")
    for s in summaries:  # online stores: what the records read became, per warehouse table (fees included)
        if s["ok"] and str(s.get("kind", "")).endswith(" store") and "by_table" in s:
            changed = [f"{name} {r['inserted']:,} new" + (f", {r['updated']:,} updated" if r["updated"] else "")
                       for name, r in s["by_table"].items() if r["inserted"] or r["updated"]]
            console.print(f"  {s['source']}: {'; '.join(changed) if changed else 'nothing new'}"
                          + (f" ({s['rows_rejected']:,} rejected)" if s["rows_rejected"] else ""))
    for s in summaries:
        if not s["ok"]:
            console.print(f"[red]✗ {s['source']}:[/red] {s['error']}")
    total_rejected = sum(s.get("rows_rejected", 0) for s in summaries if s["ok"])
    if total_rejected:
        console.print(f"[yellow]{total_rejected:,} row(s) rejected[/yellow] — see them with [bold]yeji rejects[/bold]")
    unattributed = sum(s.get("unattributed", 0) for s in summaries)
    if unattributed:
        console.print(f"{unattributed:,} order(s)/refund(s) credited to no member — see them with [bold]yeji unattributed[/bold]")


def sync(console: Console, workspace: str | None, force: bool = False) -> int:
    from flows.sync import SyncFailed, sync as sync_flow

    started = time.perf_counter()
    with _progress_bar(console, "Sync"):
        try:
            summaries = sync_flow(workspace=workspace, force=force)
        except SyncFailed as exc:
            _print_sync(console, exc.summaries)
            return 1
    _print_sync(console, summaries)
    console.print(f"Synced {len(summaries)} source(s) in {time.perf_counter() - started:.1f} s")
    return 0


# --------------------------------------------------------------------------- report flows


def _print_delivery(console: Console, delivery) -> None:
    """The delivery summary, then only what needs the admin: failures and missing recipients."""
    if delivery is None:
        console.print("Nothing sent (--no-send).")
        return
    console.print(delivery.summary())
    for outcome in delivery.outcomes:
        if outcome.status in ("failed", "skipped_no_recipient"):
            who = outcome.recipient or outcome.member_id or outcome.team_id or "?"
            colour = "red" if outcome.status == "failed" else "yellow"
            console.print(f"  [{colour}]{outcome.status.replace('_', ' ')}[/{colour}] {outcome.report_kind} {who}: {outcome.detail}")
    resent = [o for o in delivery.with_status("sent") if "resent on purpose" in o.detail]
    if resent:
        console.print(f"  [yellow]{len(resent)} report(s) sent again on purpose (--resend)[/yellow]: their recipients "
                      "get a second copy.")
    for outcome in delivery.outcomes:
        if outcome.corrected or outcome.changed_since_sent:
            who = outcome.recipient or outcome.member_id or outcome.team_id or "?"
            state = "sent as correction" if outcome.corrected else "changed, not resent"
            console.print(f"  [yellow]{state}[/yellow] {outcome.report_kind} {who}: {outcome.detail}")
    if delivery.skipped_already_sent:
        console.print("  Already-sent reports were not sent again; add --resend to send them on purpose.")


def _print_rendered(console: Console, rendered: list, label: str) -> None:
    by_kind: dict[str, int] = {}
    for r in rendered:
        by_kind[r.report_kind] = by_kind.get(r.report_kind, 0) + 1
    kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(by_kind.items()))
    folder = Path(rendered[0].pdf_path).parent if rendered else None
    console.print(f"{label}: rendered {kinds or 'nothing'}" + (f" → {folder}" if folder else ""))


def weekly_review(console: Console, workspace, week, *, send: bool, resend: bool) -> int:
    from flows.runlog import RunFailed, RunOverlap
    from flows.weekly_review import weekly_review as flow

    started = time.perf_counter()
    with _progress_bar(console, "Weekly review"):
        try:
            result = flow(week=week, workspace=workspace, send=send, resend=resend)
        except RunFailed as exc:  # partly done (e.g. a delivery failed): show what was done
            result = exc.result
        except RunOverlap as exc:  # another run of the flow holds its lock (schedule.overlap: cancel_new)
            return _cancelled(console, exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the run is marked failed in Prefect
            return _flow_error(console, exc)
    _print_rendered(console, result["rendered"], f"Weekly review {result['period']}")
    _print_delivery(console, result["delivery"])
    console.print(f"Done in {time.perf_counter() - started:.1f} s")
    return 1 if result["delivery"] is not None and result["delivery"].failed else 0


def monthly_commissions(console: Console, workspace, month, *, send: bool, resend: bool) -> int:
    from flows.monthly_commissions import monthly_commissions as flow
    from flows.runlog import RunFailed, RunOverlap

    started = time.perf_counter()
    with _progress_bar(console, "Commissions"):
        try:
            result = flow(month=month, workspace=workspace, send=send, resend=resend)
        except RunFailed as exc:  # partly done (e.g. a delivery failed): show what was done
            result = exc.result
        except RunOverlap as exc:
            return _cancelled(console, exc)
        except Exception as exc:  # noqa: BLE001
            return _flow_error(console, exc)
    _print_rendered(console, result["rendered"], f"Commissions {result['period']}")
    _print_delivery(console, result["delivery"])
    console.print(f"Done in {time.perf_counter() - started:.1f} s")
    return 1 if result["delivery"] is not None and result["delivery"].failed else 0


# --------------------------------------------------------------------------- admin


def rejects(console: Console, workspace, source: str | None, limit: int) -> int:
    from config.loader import load_workspace, warehouse_url
    from warehouse.db import make_engine, migrate
    from warehouse.loads import list_rejects

    ws = load_workspace(workspace)
    engine = make_engine(warehouse_url(ws))
    migrate(engine)
    frame = list_rejects(engine, source=source, limit=limit)
    engine.dispose()
    if frame.empty:
        console.print("No rejected rows." + (f" (source {source})" if source else ""))
        return 0
    table = Table(show_edge=False, title=f"Rejected rows (first {min(limit, len(frame))})", title_justify="left")
    table.add_column("source", no_wrap=True)
    table.add_column("where and what", overflow="fold")  # each message names file, sheet, row and column
    for row in frame.itertuples(index=False):
        table.add_row(row.source, row.error)
    console.print(table)
    return 0


def unattributed(console: Console, workspace, source: str | None, limit: int) -> int:
    """Orders credited to no member: loaded and counted for the team, listed here for the admin."""
    from config.loader import load_workspace, warehouse_url
    from transforms.money import to_major
    from warehouse.db import make_engine, migrate
    from warehouse.store_loads import count_unattributed, list_unattributed

    ws = load_workspace(workspace)
    engine = make_engine(warehouse_url(ws))
    migrate(engine)
    frame = list_unattributed(engine, source=source, limit=limit)
    counts = count_unattributed(engine)
    engine.dispose()
    if frame.empty:
        console.print("Every order is credited to a member." + (f" (source {source})" if source else ""))
        return 0
    total = sum(n for s, n in counts.items() if source is None or s == source)
    table = Table(show_edge=False, title=f"Unattributed orders ({min(limit, len(frame))} of {total:,}, newest first)",
                  title_justify="left")
    for col in ("source", "order", "store", "ordered (UTC)", "country", "customer", "gross"):
        table.add_column(col, justify="right" if col == "gross" else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        gross = f"{to_major(int(row.gross_minor) - int(row.discount_minor), row.currency):,} {row.currency}"
        table.add_row(row.source, str(row.order_id), row.store, f"{row.ordered_at:%Y-%m-%d %H:%M}", row.country or "",
                      row.customer_id or "", gross)
    console.print(table)
    console.print("Credit them with a store's attribute_by rules (discount_codes, tags, marketplaces, member) or "
                  "territories in yeji.yaml, then run [bold]yeji sync[/bold].")
    return 0


def check(console: Console, workspace) -> int:
    from config.loader import load_workspace, warehouse_url

    ws = load_workspace(workspace)
    s = ws.settings
    console.print(f"[green]✓[/green] {ws.root / 'yeji.yaml'} is valid")
    console.print(f"  warehouse: {warehouse_url(ws)}")
    console.print(f"  timezone {s.timezone}, base currency {s.base_currency}")
    console.print(f"  {len(s.sources)} source(s): " + ", ".join(f"{x.name} ({x.kind})" for x in s.sources))
    if s.stores:
        console.print(f"  {len(s.stores)} store(s): " + ", ".join(f"{x.name} ({x.platform} {x.api_name})" for x in s.stores))
    console.print(f"  {len(s.commission.plans)} commission plan(s): " + ", ".join(p.plan_id for p in s.commission.plans))
    console.print("  delivery: " + (f"SMTP {s.delivery.smtp.host}:{s.delivery.smtp.port}" if s.delivery.smtp else f"outbox folder {ws.path(s.delivery.outbox_dir)}"))
    missing = [x for x in s.sources if not ws.path(x.path).is_file()]
    for x in missing:
        console.print(f"[yellow]  ! source {x.name}: file {ws.path(x.path)} not found[/yellow]")
    return 1 if missing else 0


def db_upgrade(console: Console, workspace) -> int:
    from config.loader import load_workspace, warehouse_url
    from warehouse.db import make_engine, migrate

    ws = load_workspace(workspace)
    engine = make_engine(warehouse_url(ws))
    migrate(engine)
    engine.dispose()
    console.print(f"[green]✓[/green] warehouse at the newest schema: {warehouse_url(ws)}")
    return 0


# --------------------------------------------------------------------------- demo


def demo(console: Console, root: Path, *, seed: int, fresh: bool) -> int:
    from yeji.demo import create_demo_workspace

    root = root.resolve()
    started = time.perf_counter()
    if fresh and root.exists():
        shutil.rmtree(root)
    if (root / "yeji.yaml").exists():
        console.print(f"Using the existing demo workspace {root} (add --fresh to start over)")
    else:
        with console.status("Generating sample data…"):
            summary = create_demo_workspace(root, seed=seed)
        console.print(f"Created demo workspace {root} — {summary.describe() if hasattr(summary, 'describe') else summary}")
    workspace = str(root)

    def sync_from_sandbox_stores() -> int:
        from yeji.demo_stores import serve_demo_stores

        with serve_demo_stores(root) as sandbox:
            console.print(f"Sandbox stores (Shopify, Amazon US/DE, WooCommerce UK) serving on {sandbox.root}")
            return sync(console, workspace)

    for step in (
        sync_from_sandbox_stores,
        lambda: weekly_review(console, workspace, None, send=True, resend=False),
        lambda: monthly_commissions(console, workspace, None, send=True, resend=False),
    ):
        code = step()
        if code:
            return code
    _print_demo_paths(console, root, time.perf_counter() - started)
    return 0


def _print_demo_paths(console: Console, root: Path, seconds: float) -> None:
    from config.loader import load_workspace

    ws = load_workspace(root)
    reports = ws.path(ws.settings.reports.output_dir)
    outbox = ws.path(ws.settings.delivery.outbox_dir)
    pdfs = sorted(reports.rglob("*.pdf"))
    emails = sorted(outbox.glob("*.eml"))
    console.print()
    console.print(f"[bold green]Demo finished in {seconds:.0f} s.[/bold green]")
    console.print(f"  PDF reports ({len(pdfs)}): {reports}")
    for folder in sorted({p.parent for p in pdfs}):
        console.print(f"    {folder}")
    console.print(f"  Emails ({len(emails)} .eml files, open them in any mail client): {outbox}")
    console.print(f"  Warehouse: {root / 'warehouse.db'}")
    week = sorted(p.name for p in reports.iterdir() if "-W" in p.name)[-1:] if reports.is_dir() else []
    if week:
        console.print(f"  Rerun a period: .venv/bin/yeji -w {root} run weekly-review --week {week[0]}")
