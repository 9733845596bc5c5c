"""Recording a flow run: the ``runs`` table row, the Prefect artifacts, and an honest end state.

A flow wraps its body in :func:`recorded`::

    with runlog.recorded(ws, "weekly_review", period.label, send=send) as run:
        ...
        run.reports(result, rendered, delivery)

The row is written as ``running`` first. Any exception marks it ``failed`` with the error and
propagates, so Prefect marks the flow run Failed. A run whose work partly failed (a delivery
failed, a source failed) is recorded ``failed`` and raises :class:`RunFailed` carrying the
result, so it is never shown as successful while the CLI can still print what was done.
Each run publishes a markdown summary and a table of what was sent to whom.

Runs of the same flow never overlap, however they were started (two `yeji run` commands, a
schedule and a command, two machines): the run holds the flow's lock in the warehouse
(``run_locks``, renewed by a heartbeat thread) from before its row is written until it ends.
A run that finds the lock held is cancelled (:class:`RunOverlap`, recorded ``cancelled``) or
waits for it, per ``schedule.overlap`` (``cancel_new`` | ``enqueue``).
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from config.models import Workspace
from flows.common import warehouse
from flows.schedule import SEND_WITH_NOTE, SKIP, Lateness, lateness
from reports.email import LateNote
from warehouse import runs as runs_table

log = logging.getLogger("yeji.flows.runlog")


class RunFailed(RuntimeError):
    """The run did its work only in part; ``result`` holds what it did (for the CLI)."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class RunOverlap(RuntimeError):
    """Another run of the same flow holds its lock and ``schedule.overlap`` is ``cancel_new``:
    this run did nothing (recorded ``cancelled``)."""


def idempotency_key(flow: str, period: str | None, *, send: bool = True) -> str:
    return f"{flow}:{period or '-'}" + ("" if send else ":dry-run")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class Run:
    flow: str
    period: str | None
    key: str
    run_id: int
    counts: dict = field(default_factory=dict)
    error: str | None = None
    result: Any = None
    sent_table: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lateness: Lateness | None = None
    scheduled_at: datetime | None = None  # aware: when Prefect scheduled it (None: started by hand)
    started_at: datetime | None = None  # aware

    def late_note(self, tz: str) -> LateNote | None:
        """For a stale run that still sends: when it was due and when it sends, in the team's
        timezone (every message then says so at the top)."""
        if self.lateness is None or self.lateness.decision != SEND_WITH_NOTE or self.scheduled_at is None:
            return None
        zone = ZoneInfo(tz)
        return LateNote(due=self.scheduled_at.astimezone(zone), sent=(self.started_at or datetime.now(zone)).astimezone(zone))

    def may_send(self, send: bool) -> bool:
        """Whether to deliver: not when asked not to, nor when the run is stale and the
        config says to skip (the run then fails with the alert; see flows.schedule)."""
        if not send:
            return False
        if self.lateness is not None and self.lateness.decision == SKIP:
            self.error = f"stale run skipped: {self.lateness.note}"
            return False
        return True

    def reports(self, result: Any, rendered: list, delivery) -> None:
        """A report flow's outcome: how many rendered, and what delivery did with each."""
        self.result = result
        self.counts["rendered"] = len(rendered)
        if self.lateness is not None and self.lateness.note:
            self.notes.append(self.lateness.note)
            self.counts["late_hours"] = round(self.lateness.late_by.total_seconds() / 3600, 1)
        if delivery is None:
            self.counts["sent"] = 0
            if not self.error:
                self.notes.append("dry run: rendered only, nothing sent")
            return
        self.counts.update(sent=delivery.sent, already_sent=delivery.skipped_already_sent,
                           no_recipient=delivery.skipped_no_recipient, failed=delivery.failed)
        if delivery.corrected:
            self.counts["corrected"] = delivery.corrected
            self.notes.append(f"{delivery.corrected} report(s) changed since they were sent: sent again as corrections")
        if delivery.changed_since_sent:
            self.counts["changed_not_resent"] = delivery.changed_since_sent
            self.notes.append(f"{delivery.changed_since_sent} report(s) changed since they were sent and were not "
                              "resent (delivery.on_changed_content: flag); rerun with --resend to send them")
        if delivery.linked_not_attached:
            self.counts["linked_not_attached"] = delivery.linked_not_attached
            self.notes.append(f"{delivery.linked_not_attached} message(s) too large to attach: "
                              "they carried the archive location instead (see the table)")
        self.sent_table = [
            {"report": o.report_kind, "period": o.period, "recipient": o.recipient or "",
             "member": o.member_id or "", "team": o.team_id or "", "status": o.status, "detail": o.detail}
            for o in delivery.outcomes
        ]
        if delivery.failed:
            failed = [f"{o.report_kind} → {o.recipient or o.member_id or o.team_id}: {o.detail}"
                      for o in delivery.with_status("failed")]
            self.error = f"{delivery.failed} delivery(ies) failed: " + "; ".join(failed)

    def sources(self, summaries: list[dict]) -> None:
        """The sync flow's outcome: one summary per source."""
        self.result = summaries
        ok = [s for s in summaries if s.get("ok")]
        self.counts.update(sources=len(summaries), ok=len(ok), failed=len(summaries) - len(ok),
                           rows_loaded=sum(s.get("rows_loaded", 0) for s in ok),
                           rows_rejected=sum(s.get("rows_rejected", 0) for s in ok))
        if len(ok) < len(summaries):
            self.error = "; ".join(f"{s['source']}: {s.get('error')}" for s in summaries if not s.get("ok"))


def _prefect_run() -> tuple[str | None, datetime | None]:
    from prefect.runtime import flow_run

    try:
        return (str(flow_run.id) if flow_run.id else None), flow_run.scheduled_start_time
    except Exception:  # noqa: BLE001 - outside a flow run there is neither
        return None, None


@contextmanager
def recorded(ws: Workspace, flow: str, period: str | None, *, send: bool = True) -> Iterator[Run]:
    """Record the run in ``runs`` and publish its artifacts, holding the flow's lock throughout;
    see the module docstring."""
    key = idempotency_key(flow, period, send=send)
    flow_run_id, scheduled = _prefect_run()
    with warehouse(ws) as engine, runs_table.flow_lock(engine, flow, overlap=ws.settings.schedule.overlap) as lock:
        started = datetime.now(timezone.utc)
        run_id = runs_table.start_run(engine, flow=flow, period=period, idempotency_key=key,
                                      started_at=started.replace(tzinfo=None), scheduled_at=_utc(scheduled),
                                      flow_run_id=flow_run_id)
        if lock.holder is not None:  # cancelled: another run holds the lock
            message = f"{flow} {period or ''}: another run of {flow} is in progress ({lock.holder.describe()}); " \
                      "this one was cancelled and sent nothing"
            runs_table.finish_run(engine, run_id, state=runs_table.CANCELLED, ended_at=_utc_now(),
                                  error=message.replace("  ", " "))
            raise RunOverlap(message.replace("  ", " "))
        lock.run_id = run_id  # shown to a run that finds the lock held
        runs_table.renew_lock(engine, flow, lock.owner, now=_utc_now(), ttl=runs_table.LOCK_TTL, run_id=run_id)
        cfg = ws.settings.schedule
        run = Run(flow, period, key, run_id, scheduled_at=scheduled, started_at=started,
                  lateness=lateness(scheduled, started, staleness_hours=cfg.staleness_hours, when_stale=cfg.when_stale))
        try:
            yield run
        except BaseException as exc:
            error = run.error or f"{type(exc).__name__}: {exc}"
            if isinstance(exc, KeyboardInterrupt):
                error = "interrupted"
            _finish(ws, run, runs_table.FAILED, error)
            raise
        if run.error:
            _finish(ws, run, runs_table.FAILED, run.error)
            raise RunFailed(f"{flow} {period or ''}: {run.error}".replace("  ", " "), run.result)
        _finish(ws, run, runs_table.COMPLETED, None)


def _finish(ws: Workspace, run: Run, state: str, error: str | None) -> None:
    with warehouse(ws) as engine:
        runs_table.finish_run(engine, run.run_id, state=state, ended_at=_utc_now(), counts=run.counts, error=error)
    publish_artifacts(run, state, error)
    if state == runs_table.FAILED:
        notify_admins(ws, run, error)


def notify_admins(ws: Workspace, run: Run, error: str | None) -> list[str]:
    """Email / chat the admins what failed and how to rerun it (see reports.alerts)."""
    from reports.alerts import alert_admins

    cfg = ws.settings
    if not cfg.alerts.admin_emails and not cfg.alerts.chat_urls_env:
        return []
    subject = f"[Yeji] {run.flow} {run.period or ''} failed".replace("  ", " ")
    try:
        return alert_admins(cfg.alerts, cfg.delivery, ws.path(cfg.delivery.outbox_dir), subject,
                            summary_markdown(run, runs_table.FAILED, error))
    except Exception as exc:  # noqa: BLE001 - an alert never hides the run's own failure
        log.warning("could not alert the admins: %s", exc)
        return [str(exc)]


def summary_markdown(run: Run, state: str, error: str | None) -> str:
    lines = [f"# {run.flow} {run.period or ''}".rstrip(), "", f"**State:** {state}  ", f"**Run log id:** {run.run_id}", ""]
    if run.counts:
        lines += ["| count | value |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in sorted(run.counts.items())] + [""]
    lines += [f"- {note}" for note in run.notes]
    if error:
        rerun = {"weekly_review": f"yeji run weekly-review --week {run.period}",
                 "monthly_commissions": f"yeji run monthly-commissions --month {run.period}",
                 "sync": "yeji sync"}.get(run.flow, "")
        lines += ["", "## What failed", "", error.replace("\n", "  \n")]
        if rerun:
            lines += ["", f"Rerun with `{rerun}`: what was already sent is not sent again."]
    return "\n".join(lines)


def _artifact_key(*parts: str | None) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(p for p in parts if p).lower()).strip("-")


def publish_artifacts(run: Run, state: str, error: str | None) -> None:
    """A markdown summary and (for report flows) the table of what was sent to whom. A Prefect
    API that cannot take them is logged, not fatal: the run log row is the record."""
    try:
        from prefect.artifacts import create_markdown_artifact, create_table_artifact

        create_markdown_artifact(markdown=summary_markdown(run, state, error),
                                 key=_artifact_key(run.flow, run.period, "summary"),
                                 description=f"{run.flow} {run.period or ''}: {state}")
        if run.sent_table:
            create_table_artifact(table=run.sent_table, key=_artifact_key(run.flow, run.period, "deliveries"),
                                  description="what was sent to whom")
    except Exception as exc:  # noqa: BLE001
        log.warning("could not publish the run's Prefect artifacts: %s", exc)
