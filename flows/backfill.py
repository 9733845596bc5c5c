"""Backfills: run a report flow for every period in a range, interruptibly and restartably.

Each period is one ordinary flow run (recorded in ``runs``). A period whose run already
completed with the same idempotency key is skipped, so a backfill that was interrupted
(Ctrl-C, a crash, the machine turned off) is simply started again; and since every send is
recorded in the deliveries outbox first, a period that is run again sends nothing twice.
``dry_run`` renders everything and sends nothing (its runs have their own keys, so a dry
run never makes a later real run skip a period).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from config.loader import load_workspace
from flows.common import warehouse
from flows.runlog import RunFailed, idempotency_key
from transforms.periods import Period, parse_period
from warehouse import runs as runs_table
from warehouse.db import migrate

FLOW_FOR_KIND = {"week": "weekly_review", "month": "monthly_commissions"}

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class PeriodOutcome:
    period: str
    status: str  # done | skipped (already completed) | failed
    detail: str = ""
    result: object = None


def period_range(first: str, last: str) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive (both weeks or both months)."""
    start, end = parse_period(first), parse_period(last)
    if start.kind != end.kind:
        raise ValueError(f"{first!r} is a {start.kind} but {last!r} is a {end.kind}")
    if end < start:
        raise ValueError(f"{first!r} comes after {last!r}")
    out = [start]
    while out[-1] != end:
        out.append(out[-1].next())
    return out


def _run_flow(kind: str, label: str, workspace: str | None, send: bool, resend: bool):
    if kind == "week":
        from flows.weekly_review import weekly_review

        return weekly_review(week=label, workspace=workspace, send=send, resend=resend)
    from flows.monthly_commissions import monthly_commissions

    return monthly_commissions(month=label, workspace=workspace, send=send, resend=resend)


def backfill(
    workspace: str | None,
    first: str,
    last: str,
    *,
    dry_run: bool = False,
    resend: bool = False,
    force: bool = False,
    on_period: Callable[[PeriodOutcome], None] | None = None,
) -> list[PeriodOutcome]:
    """Run each period of the range in order; see the module docstring. ``force`` reruns
    completed periods too (still sending nothing already sent unless ``resend``). A failed
    period is reported and the backfill goes on; KeyboardInterrupt stops it (the interrupted
    period is recorded as failed and is run again next time)."""
    periods = period_range(first, last)
    kind = periods[0].kind
    flow = FLOW_FOR_KIND[kind]
    ws = load_workspace(workspace)
    keys = {p.label: idempotency_key(flow, p.label, send=not dry_run) for p in periods}
    with warehouse(ws) as engine:
        migrate(engine)
        done = set() if force else runs_table.completed_keys(engine, keys.values())
    outcomes = []
    for period in periods:
        if keys[period.label] in done:
            outcome = PeriodOutcome(period.label, SKIPPED, "already completed (use --force to run it again)")
        else:
            try:
                result = _run_flow(kind, period.label, workspace, not dry_run, resend)
                outcome = PeriodOutcome(period.label, DONE, "", result)
            except RunFailed as exc:
                outcome = PeriodOutcome(period.label, FAILED, str(exc), exc.result)
            except Exception as exc:  # noqa: BLE001 - one period's failure does not stop the others
                outcome = PeriodOutcome(period.label, FAILED, f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
        if on_period is not None:
            on_period(outcome)
    return outcomes
