"""Operations commands: `yeji runs` (the run log), `yeji backfill` (a range of periods), and
running the schedules: `yeji serve` (one machine) and `yeji deploy` (a work pool, several workers)."""

from __future__ import annotations

from rich.console import Console


def runs(console: Console, workspace: str | None, *, flow: str | None, period: str | None, limit: int) -> int:
    from rich.markup import escape

    from config.loader import load_workspace
    from flows.common import warehouse
    from warehouse import runs as runs_table
    from warehouse.db import migrate

    ws = load_workspace(workspace)
    with warehouse(ws) as engine:
        migrate(engine)
        rows = runs_table.runs(engine, flow=flow.replace("-", "_") if flow else None, period=period, limit=limit)
    if not rows:
        console.print("No runs recorded yet.")
        return 0
    colours = {"completed": "green", "failed": "red", "running": "yellow"}
    console.print("Runs, newest first (times in UTC):")
    for r in rows:
        colour = colours.get(r.state, "white")
        took = f" ({(r.ended_at - r.started_at).total_seconds():.0f} s)" if r.ended_at else ""
        due = f", due {r.scheduled_at:%Y-%m-%d %H:%M}" if r.scheduled_at else ""
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(r.counts.items()))
        console.print(f"#{r.run_id} {r.flow} {r.period or ''} [{colour}]{r.state}[/{colour}] "
                      f"started {r.started_at:%Y-%m-%d %H:%M:%S}{took}{due}" + (f" — {counts}" if counts else ""))
        if r.error:
            console.print(f"    [red]error:[/red] {escape(r.error[:500])}")
    return 1 if any(r.state == "failed" for r in rows[:1]) else 0


def backfill(console: Console, workspace: str | None, first: str, last: str, *, dry_run: bool, resend: bool,
             force: bool) -> int:
    from flows.backfill import FAILED, SKIPPED, backfill as run_backfill

    if dry_run and resend:
        console.print("[red]--dry-run sends nothing; --resend makes no sense with it[/red]")
        return 2
    if resend:
        console.print("[yellow]--resend: reports already sent for these periods are sent again, on purpose.[/yellow]")

    def show(outcome) -> None:
        colour = {FAILED: "red", SKIPPED: "dim"}.get(outcome.status, "green")
        line = f"[{colour}]{outcome.status:8s}[/{colour}] {outcome.period}"
        result = outcome.result
        if isinstance(result, dict):
            delivery = result.get("delivery")
            line += f": rendered {len(result.get('rendered', []))}"
            line += f"; {delivery.summary()}" if delivery is not None else "; nothing sent (dry run)"
        if outcome.detail:
            line += f" — {outcome.detail}"
        console.print(line, highlight=False)

    try:
        outcomes = run_backfill(workspace, first, last, dry_run=dry_run, resend=resend, force=force, on_period=show)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    failed = [o for o in outcomes if o.status == FAILED]
    done = sum(1 for o in outcomes if o.status != FAILED)
    console.print(f"Backfill {first} → {last}: {done} of {len(outcomes)} period(s) done"
                  + (f", [red]{len(failed)} failed[/red] — run the same command again to retry them" if failed else ""))
    return 1 if failed else 0


def serve(console: Console, workspace: str | None) -> int:  # pragma: no cover - runs until stopped
    import os

    from config.loader import load_workspace
    from flows.schedule import deployments, serve as serve_deployments

    ws = load_workspace(workspace)
    cfg = ws.settings.schedule
    if not os.environ.get("PREFECT_API_URL"):
        console.print("[yellow]PREFECT_API_URL is not set: start a server with `prefect server start` and "
                      "export PREFECT_API_URL=http://127.0.0.1:4200/api (see the README).[/yellow]")
    console.print(f"Serving {len(deployments(ws))} deployment(s) in {ws.settings.timezone}: sync {cfg.sync!r}, "
                  f"weekly_review {cfg.weekly_review!r}, monthly_commissions {cfg.monthly_commissions!r}. Ctrl-C stops.")
    serve_deployments(ws)
    return 0


def deploy(console: Console, workspace: str | None) -> int:
    """Register the deployments on the work pool (see flows/deploy.py) and say how to start workers."""
    import os

    from config.loader import load_workspace
    from flows.deploy import deploy as deploy_flows

    ws = load_workspace(workspace)
    if not os.environ.get("PREFECT_API_URL"):
        console.print("[red]PREFECT_API_URL is not set: deployments need a running Prefect server "
                      "(export PREFECT_API_URL=http://<prefect-host>:4200/api; see docs/deploy.md).[/red]")
        return 2
    cfg = ws.settings.schedule
    try:
        deployed = deploy_flows(ws)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    console.print(f"Deployed {len(deployed)} deployment(s) on work pool {cfg.work_pool!r} "
                  f"(workspace {ws.root}, timezone {ws.settings.timezone}, overlap {cfg.overlap}"
                  + (", schedules paused" if cfg.paused else "") + "):", highlight=False)
    for d in deployed:
        console.print(f"  {d.name:45s} {d.schedule or 'started by the report flows'}", highlight=False)
    console.print(f"Start workers (on each machine, same checkout and workspace path): "
                  f"PREFECT_API_URL={os.environ['PREFECT_API_URL']} .venv/bin/prefect worker start --pool {cfg.work_pool}",
                  highlight=False)
    return 0
