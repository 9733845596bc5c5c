"""`yeji`: the admin's command line.

    yeji demo [--dir demo]                      sample workspace + every flow, end to end
    yeji sync [--force]                         load every configured source
    yeji run weekly-review [--week 2026-W46]    reviews for a week (default: last complete week)
    yeji run monthly-commissions [--month 2026-10]
    yeji rejects [--source NAME]                rows that could not be loaded, and why
    yeji unattributed [--source NAME]           orders no attribution rule credited to a member
    yeji explain --member ID --month 2026-10    a member's commission lines, each explained
    yeji close --month 2026-10                  lock a commission month (reruns become adjustments)
    yeji commission simulate --plan FILE --credits FILE.csv [--fx FX.csv] [--fx-pivot CUR]
                                                try a plan on credited transactions
    yeji serve                                  run the schedules against a Prefect server
    yeji deploy                                 register the schedules on a Prefect work pool (several workers)
    yeji runs [--flow F] [--period P]           the run log: state, counts, error of every run
    yeji backfill --from 2026-W30 --to 2026-W46 [--dry-run] [--resend] [--force]
    yeji check                                  validate yeji.yaml
    yeji db upgrade                             migrate the warehouse

The workspace is ``--workspace DIR``, else ``$YEJI_HOME``, else the current folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from yeji.runtime import quiet_prefect


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yeji", description="Yeji (业绩): performance reviews and commission statements")
    parser.add_argument("-w", "--workspace", help="workspace folder (default: $YEJI_HOME or the current folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Prefect's own logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="create a demo workspace with sample data and run every flow on it")
    demo.add_argument("--dir", default="demo", help="where to create the demo workspace (default: ./demo)")
    demo.add_argument("--seed", type=int, default=7, help="seed for the sample data")
    demo.add_argument("--fresh", action="store_true", help="delete an existing demo workspace first")

    sync_p = sub.add_parser("sync", help="load every configured source into the warehouse")
    sync_p.add_argument("--force", action="store_true", help="read every spreadsheet again, even when unchanged")

    run = sub.add_parser("run", help="run a report flow for a period (any past period, safely)")
    run_sub = run.add_subparsers(dest="flow", required=True, metavar="FLOW")
    wr = run_sub.add_parser("weekly-review", help="weekly performance reviews and team summaries")
    wr.add_argument("--week", help="ISO week, e.g. 2026-W46 (default: the last complete week)")
    mc = run_sub.add_parser("monthly-commissions", help="monthly commission statements and finance summary")
    mc.add_argument("--month", help="month, e.g. 2026-10 (default: the last complete month)")
    for p in (wr, mc):
        p.add_argument("--no-send", action="store_true", help="render the PDFs but send nothing")
        p.add_argument("--resend", action="store_true", help="send again what was already sent, on purpose")

    rej = sub.add_parser("rejects", help="list rows that could not be loaded, with where and why")
    rej.add_argument("--source", help="only this source")
    rej.add_argument("--limit", type=int, default=50)

    una = sub.add_parser("unattributed", help="list orders no attribution rule credited to a member")
    una.add_argument("--source", help="only this source or store")
    una.add_argument("--limit", type=int, default=50)

    exp = sub.add_parser("explain", help="print a member's commission lines for a month, each explained")
    exp.add_argument("--member", required=True, help="member id")
    exp.add_argument("--month", required=True, help="month, e.g. 2026-10")
    cls = sub.add_parser("close", help="lock a commission month: its statements never change again")
    cls.add_argument("--month", required=True, help="month, e.g. 2026-10")
    com = sub.add_parser("commission", help="commission plan tools")
    com_sub = com.add_subparsers(dest="commission_action", required=True, metavar="ACTION")
    sim = com_sub.add_parser(
        "simulate", help="run a plan file over a CSV of credited transactions",
        description="Run a plan file over a CSV of credited transactions; nothing is read from or written to the "
                    "warehouse. FX cross rates go through the same pivot as the monthly run: --fx-pivot, else the "
                    "fx_pivot_currency of the workspace's yeji.yaml (yeji -w DIR, $YEJI_HOME or the current folder) "
                    "when there is one, else USD.")
    sim.add_argument("--plan", required=True, help="plan YAML file")
    sim.add_argument("--credits", required=True, help="CSV: member_id, date, amount, currency [, order_id, kind, role, ...]")
    sim.add_argument("--month", help="only this month (default: every month in the CSV)")
    sim.add_argument("--fx", help="CSV of FX rates: rate_date, from_currency, to_currency, rate")
    sim.add_argument("--targets", help="CSV of monthly targets: member_id, period, value")
    sim.add_argument("--scores", help="CSV of evaluation scores: member_id, period, dimension, score")
    sim.add_argument("--fx-pivot", metavar="CUR",
                     help="currency cross rates go through, e.g. EUR (default: the workspace's fx_pivot_currency "
                          "when it has a yeji.yaml, else USD)")

    runs = sub.add_parser("runs", help="the run log: every flow run, its state, counts and error")
    runs.add_argument("--flow", help="only this flow (sync, weekly_review, monthly_commissions)")
    runs.add_argument("--period", help="only this period")
    runs.add_argument("--limit", type=int, default=30)
    sub.add_parser("serve", help="run the scheduled flows (sync, weekly reviews, commissions) against a Prefect server")
    sub.add_parser("deploy", help="register the scheduled flows on the Prefect work pool `schedule.work_pool` (for workers)")
    bf = sub.add_parser("backfill", help="run a report flow for a range of weeks or months (restartable)")
    bf.add_argument("--from", dest="first", required=True, help="first period, e.g. 2026-W30 or 2026-07")
    bf.add_argument("--to", dest="last", required=True, help="last period (inclusive), e.g. 2026-W46 or 2026-10")
    bf.add_argument("--dry-run", action="store_true", help="render everything, send nothing")
    bf.add_argument("--resend", action="store_true", help="send again what was already sent, on purpose")
    bf.add_argument("--force", action="store_true", help="rerun periods that already completed")

    sub.add_parser("check", help="validate yeji.yaml and say what it configures")
    db = sub.add_parser("db", help="warehouse maintenance")
    db.add_argument("action", choices=["upgrade"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet_prefect(verbose=args.verbose)
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)  # messages keep paths and keys on one line
    from config.loader import ConfigError

    try:
        return _dispatch(args, console)
    except ConfigError as exc:
        console.print("[red]Configuration error[/red]")
        console.print(str(exc), markup=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted.[/yellow]")
        return 130


def _workspace_arg(args) -> str | None:
    return str(Path(args.workspace).resolve()) if args.workspace else os.environ.get("YEJI_HOME")


def _dispatch(args, console) -> int:
    from yeji import commands

    ws = _workspace_arg(args)
    if args.command == "demo":
        return commands.demo(console, Path(args.dir), seed=args.seed, fresh=args.fresh)
    if args.command == "sync":
        return commands.sync(console, ws, force=args.force)
    if args.command == "run":
        if args.flow == "weekly-review":
            return commands.weekly_review(console, ws, args.week, send=not args.no_send, resend=args.resend)
        return commands.monthly_commissions(console, ws, args.month, send=not args.no_send, resend=args.resend)
    if args.command == "rejects":
        return commands.rejects(console, ws, args.source, args.limit)
    if args.command == "unattributed":
        return commands.unattributed(console, ws, args.source, args.limit)
    if args.command in ("explain", "close", "commission"):
        from yeji import commission_commands

        if args.command == "explain":
            return commission_commands.explain(console, ws, args.member, args.month)
        if args.command == "close":
            return commission_commands.close(console, ws, args.month)
        return commission_commands.simulate(console, args.plan, args.credits, month=args.month, fx_path=args.fx,
                                            targets_path=args.targets, scores_path=args.scores, workspace=ws,
                                            fx_pivot=args.fx_pivot)
    if args.command in ("runs", "backfill", "serve", "deploy"):
        from yeji import ops_commands

        if args.command == "serve":
            return ops_commands.serve(console, ws)
        if args.command == "deploy":
            return ops_commands.deploy(console, ws)
        if args.command == "runs":
            return ops_commands.runs(console, ws, flow=args.flow, period=args.period, limit=args.limit)
        return ops_commands.backfill(console, ws, args.first, args.last, dry_run=args.dry_run, resend=args.resend,
                                     force=args.force)
    if args.command == "check":
        return commands.check(console, ws)
    if args.command == "db":
        return commands.db_upgrade(console, ws)
    raise AssertionError(args.command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
