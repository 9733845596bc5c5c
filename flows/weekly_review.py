"""The `weekly_review` flow: period → compute → render → deliver."""

from __future__ import annotations


from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from config.models import Workspace
from flows import fanout, progress, runlog
from flows.common import load_weekly_data, prepare_workspace, resolve_period, warehouse
from reports import render_team_summaries, render_weekly_reviews
from reports.archive import archive_reports
from reports.delivery import deliver
from transforms.periods import Period
from transforms.schema import SalesData
from transforms.weekly import weekly_review_frames


@task(name="compute weekly metrics", cache_policy=NO_CACHE)
def compute_weekly(data: SalesData, period: Period, ws: Workspace) -> dict:
    """Every frame the weekly reports show (see :func:`transforms.weekly.weekly_review_frames`)."""
    return weekly_review_frames(data, period, ws.settings.reports, ws.settings.commission)


@task(name="render weekly reports", cache_policy=NO_CACHE)
def render_weekly(frames: dict, data: SalesData, period: Period, ws: Workspace) -> list:
    """One review PDF per member and one summary PDF per team."""
    out_dir = ws.path(ws.settings.reports.output_dir) / period.label
    reviews = fanout.render_for_members(render_weekly_reviews, "member_metrics", dict(  # across the pool's workers
        member_metrics=frames["member_metrics"], trend=frames["trend"], top_customers=frames["top_customers"],
        quiet_customers=frames["quiet_customers"], commission_lines_mtd=frames["commission_mtd"],
        members=data.members, teams=data.teams, period=period, settings=ws.settings, out_dir=out_dir,
    ), ws)
    summaries = render_team_summaries(
        frames["team_metrics"], frames["member_metrics"], frames["mix_platform"], frames["mix_country"],
        frames["quiet_customers"], data.members, data.teams, period, ws.settings, out_dir, trend=frames["trend"],
    )
    return reviews + summaries


@task(name="deliver reports", cache_policy=NO_CACHE)
def deliver_reports(rendered: list, ws: Workspace, resend: bool = False, late=None):
    """Archive every PDF (when configured), then email each rendered report to its recipient
    (or write .eml files) and post team summaries to team chats; never twice. ``late``
    (a :class:`reports.email.LateNote`) heads every message of a stale run."""
    cfg = ws.settings.delivery
    archived = archive_reports(rendered, archive_location(ws)) if cfg.archive else {}
    with warehouse(ws) as engine:
        return deliver(engine, rendered, cfg, ws.path(cfg.outbox_dir), resend=resend, archived=archived, late=late)


def archive_location(ws: Workspace) -> str:
    """``delivery.archive``: an fsspec URL as given, a folder relative to the workspace."""
    location = ws.settings.delivery.archive
    return location if "://" in location else str(ws.path(location))


@flow(name="weekly_review")
def weekly_review(week: str | None = None, workspace: str | None = None, send: bool = True, resend: bool = False) -> dict:
    """Weekly performance reviews for every member and summaries for every team lead.

    ``week`` is an ISO week like ``2026-W46``; by default, the last complete week at the
    run's scheduled time in the team's timezone. Rerunning a week re-renders it and sends
    nothing already sent (``resend=True`` sends again on purpose).
    """
    ws = prepare_workspace(workspace)
    period = resolve_period(week, "week", ws)
    with runlog.recorded(ws, "weekly_review", period.label, send=send) as run:
        progress.step("reading the warehouse", 0, 4)
        data = load_weekly_data(ws, period)
        progress.step("computing metrics", 1, 4)
        frames = compute_weekly(data, period, ws)
        progress.step("rendering PDFs", 2, 4)
        rendered = render_weekly(frames, data, period, ws)
        progress.step("delivering", 3, 4)
        delivery = deliver_reports(rendered, ws, resend, run.late_note(ws.settings.timezone)) if run.may_send(send) else None
        progress.step("done", 4, 4)
        result = {"period": period.label, "rendered": rendered, "delivery": delivery}
        run.reports(result, rendered, delivery)  # a failed delivery fails the run (RunFailed)
    return result
