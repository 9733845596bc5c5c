"""Deployments on a Prefect process work pool: Yeji past one machine.

``yeji deploy`` registers the flows of :func:`flows.schedule.deployment_specs` (same crons in the
team's timezone, same no-overlap concurrency limits, same ``workspace`` parameter) on the work pool
``schedule.work_pool``, plus the unscheduled ``render_part`` deployment the report flows fan out
to (:mod:`flows.fanout`). Any number of ``prefect worker start --pool <pool>`` processes, on any
machine, then pick the runs up.

The code is not shipped anywhere: each deployment's pull step is ``set_working_directory`` to
this checkout (``flow.from_source(<checkout>, entrypoint)``), so every worker runs the code at the
same path with its own ``.venv`` — no Docker image, no remote storage. Deploy again after
changing ``yeji.yaml``'s ``schedule`` or moving the checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from config.models import Workspace
from flows.fanout import PART_ENTRYPOINT, PART_FLOW, part_deployment_name
from flows.schedule import deployment_specs

CHECKOUT = Path(__file__).resolve().parents[1]  # the folder holding flows/, config/, ...


@dataclass(frozen=True)
class Deployed:
    name: str  # "weekly_review/yeji-weekly-review"
    deployment_id: UUID
    schedule: str  # "0 8 * * 1 Asia/Shanghai" or "" (started by the report flows)


def ensure_work_pool(name: str) -> bool:
    """Create the process work pool ``name`` unless it exists; True when created. A pool of
    another type is an error: its workers would not run this checkout's code."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process",
                                                   description="Yeji: sync, weekly reviews, commissions"))
            return True
    if pool.type != "process":
        raise ValueError(f"work pool {name!r} is a {pool.type!r} pool; Yeji needs a 'process' pool "
                         f"(schedule.work_pool in yeji.yaml names another, or create it: "
                         f"prefect work-pool create {name} --type process)")
    return False


def deploy(ws: Workspace) -> list[Deployed]:
    """Register every deployment on the workspace's work pool (idempotent: deploying again
    updates them in place)."""
    from prefect import Flow

    pool = ws.settings.schedule.work_pool
    ensure_work_pool(pool)
    out = []
    for spec in deployment_specs(ws):
        flow = Flow.from_source(str(CHECKOUT), entrypoint=spec.entrypoint)
        deployment_id = register(flow, pool, **spec.options)
        (schedule,) = spec.options["schedules"]
        out.append(Deployed(f"{flow.name}/{spec.options['name']}", deployment_id,
                            f"{schedule.cron} {schedule.timezone}"))
    part = Flow.from_source(str(CHECKOUT), entrypoint=PART_ENTRYPOINT)
    name = part_deployment_name(pool)
    deployment_id = register(part, pool, name=name, tags=["yeji"],
                             description="one part of a period's member reports; started by the report flows")
    out.append(Deployed(f"{PART_FLOW}/{name}", deployment_id, ""))
    return out


def register(flow, pool: str, **options) -> UUID:
    """Create or update the deployment on ``pool``. ``flow.deploy()`` is not used: in Prefect 3.8.8
    it first lists the pool's workers with a request the server rejects (422, ``limit: null``);
    ``RunnerDeployment.apply`` registers the same deployment (pull step included) without it."""
    return flow.to_deployment(**options).apply(work_pool_name=pool)
