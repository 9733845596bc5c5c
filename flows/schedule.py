"""Schedules: the Prefect deployments of the flows, with cron schedules in the team's timezone.

``yeji serve`` calls :func:`serve` to run them on one machine against a Prefect server
(``PREFECT_API_URL``); ``yeji deploy`` registers the same deployments on a process work pool
for several workers (:mod:`flows.deploy`). Each deployment has a concurrency limit of 1, so runs of the same
flow never overlap: a new one is cancelled or queued (``schedule.overlap``). Admins can
start any deployment with parameters (a week, a month, ``send``, ``resend``) from the UI.

A run that starts long after its scheduled time (the machine was off) is *stale*:
``schedule.when_stale`` decides between sending with a note and skipping with an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from config.models import Workspace

SEND, SEND_WITH_NOTE, SKIP = "send", "send_with_note", "skip"


@dataclass(frozen=True)
class Lateness:
    decision: str  # send | send_with_note | skip
    late_by: timedelta
    note: str = ""


def lateness(scheduled_at: datetime | None, started_at: datetime, *, staleness_hours: float, when_stale: str) -> Lateness:
    """The staleness rule. ``scheduled_at`` and ``started_at`` are aware datetimes (or both
    naive UTC); a run without a schedule (started by hand) is never stale."""
    if scheduled_at is None:
        return Lateness(SEND, timedelta(0))
    late_by = started_at - scheduled_at
    limit = timedelta(hours=staleness_hours)
    if late_by <= limit:
        return Lateness(SEND, late_by)
    hours = late_by.total_seconds() / 3600
    if when_stale == "skip_and_alert":
        return Lateness(SKIP, late_by, f"started {hours:.1f} h after its scheduled time {scheduled_at:%Y-%m-%d %H:%M %Z}"
                        f" (limit {staleness_hours:g} h): nothing sent; run it by hand if it is still wanted")
    return Lateness(SEND_WITH_NOTE, late_by, f"sent {hours:.1f} h late: scheduled for {scheduled_at:%Y-%m-%d %H:%M %Z}"
                    f" (limit {staleness_hours:g} h)")


@dataclass(frozen=True)
class DeploymentSpec:
    """One scheduled flow as Prefect deploys it: the flow, where its code is (for a work
    pool's workers, relative to the checkout) and the deployment's settings."""

    flow: object  # a prefect Flow
    entrypoint: str  # "flows/weekly_review.py:weekly_review"
    options: dict  # name, schedules, paused, parameters, concurrency_limit, tags, description


def deployment_specs(ws: Workspace) -> list[DeploymentSpec]:
    """One deployment per flow, scheduled by the workspace's ``schedule`` in its ``timezone``,
    with a concurrency limit of 1 (a colliding run is cancelled or queued, ``schedule.overlap``).
    ``yeji serve`` and ``yeji deploy`` (a work pool) build their deployments from these."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule

    from flows.monthly_commissions import monthly_commissions
    from flows.sync import sync
    from flows.weekly_review import weekly_review

    cfg, tz = ws.settings.schedule, ws.settings.timezone
    strategy = ConcurrencyLimitStrategy.CANCEL_NEW if cfg.overlap == "cancel_new" else ConcurrencyLimitStrategy.ENQUEUE
    flows = ((sync, "flows/sync.py:sync", cfg.sync),
             (weekly_review, "flows/weekly_review.py:weekly_review", cfg.weekly_review),
             (monthly_commissions, "flows/monthly_commissions.py:monthly_commissions", cfg.monthly_commissions))
    return [DeploymentSpec(flow, entrypoint, dict(
        name=deployment_name(flow.name),
        schedules=[CronSchedule(cron=cron, timezone=tz)],
        paused=cfg.paused,
        parameters={"workspace": str(ws.root)},
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=strategy),
        tags=["yeji"],
        description=f"{flow.name}: cron {cron!r} in {tz}",
    )) for flow, entrypoint, cron in flows]


def deployment_name(flow_name: str) -> str:
    """``weekly_review`` → ``yeji-weekly-review`` (the UI shows ``weekly_review/yeji-weekly-review``)."""
    return f"yeji-{flow_name.replace('_', '-')}"


def deployments(ws: Workspace) -> list:
    """The deployments ``yeji serve`` runs in its own process (no work pool)."""
    return [spec.flow.to_deployment(**spec.options) for spec in deployment_specs(ws)]


def serve(ws: Workspace) -> None:  # pragma: no cover - runs until stopped
    from prefect import serve as prefect_serve

    prefect_serve(*deployments(ws))
