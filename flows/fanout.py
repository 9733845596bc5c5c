"""Fan-out: one period's member reports rendered across a work pool's workers.

A weekly review or a commission statement is one PDF per member, ~0.5-2.5 s each, so a period
with hundreds of members is minutes of WeasyPrint. With ``schedule.render_parts`` > 1 and the
report flow running from a work-pool deployment (``yeji deploy``), the members are split into
that many parts: the flow run renders part 0 itself and starts one ``render_part`` flow run per
other part on the same pool (``run_deployment``), so every idle worker takes one. Anything else
(``yeji run``, ``yeji serve``, the ephemeral server, ``render_parts: 1``) renders in process.

Only rendering fans out. Computing stays in the parent (one consistent snapshot of the warehouse,
and commission lines are written once), and so does delivery: the parent collects every part's
:class:`reports.Rendered` items and delivers them in one ``deliver`` call, so the deliveries
outbox keeps its single writer and nothing is sent twice, however the parts were scheduled.

The parts exchange files in the workspace's report folder, which every worker already reaches at
the same path (docs/deploy.md): the parent writes the render inputs to
``<out_dir>/.parts/<job>/inputs.pkl`` and each part writes ``part-<k>.pkl`` beside it. They are
pickles of the workspace's own frames, read only by this same checkout; the folder is removed
once the parent has read them.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prefect import flow

from config.models import Workspace
from flows.common import render_jobs

log = logging.getLogger("yeji.flows.fanout")

PART_FLOW = "render_part"
PART_ENTRYPOINT = "flows/fanout.py:render_part"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
PART_TIMEOUT_S = 3600  # a part not finished by then (no worker running?) fails the report run


@dataclass(frozen=True)
class RenderJob:
    """What a part renders: a :mod:`reports` render function called with ``kwargs``, restricted
    to the members of the part. ``driver`` is the frame whose rows make the reports (one per
    member): ``member_metrics`` for weekly reviews, ``commission_summary`` for statements."""

    render: Callable  # reports.render_weekly_reviews | reports.render_commission_statements
    driver: str
    kwargs: dict

    def members(self) -> list[str]:
        return sorted(self.kwargs[self.driver]["member_id"].astype(str).unique())

    def part(self, part: int, parts: int, *, jobs: int = 1) -> list:
        """Render the members ``members()[part::parts]``: a deterministic split, the same in every
        process, so each member is rendered by exactly one part."""
        chosen = set(self.members()[part::parts])
        driver = self.kwargs[self.driver]
        kwargs = {**self.kwargs, self.driver: driver[driver["member_id"].astype(str).isin(chosen)]}
        return self.render(**kwargs, jobs=jobs)


@dataclass(frozen=True)
class PartResult:
    """A part's rendered items, and where it ran (host, process, and the worker that started it)."""

    part: int
    rendered: list
    host: str
    pid: int
    parent_pid: int
    seconds: float


@flow(name=PART_FLOW)
def render_part(inputs: str, part: int, parts: int) -> str:
    """Render part ``part`` of ``parts`` of the reports described by ``inputs`` (a pickled
    :class:`RenderJob` written by a report flow) and write the result beside it. Started by
    ``weekly_review`` / ``monthly_commissions``, not by hand."""
    started = time.perf_counter()
    job: RenderJob = pickle.loads(Path(inputs).read_bytes())
    rendered = job.part(part, parts, jobs=1)
    result = PartResult(part, rendered, socket.gethostname(), os.getpid(), os.getppid(),
                        time.perf_counter() - started)
    out = Path(inputs).with_name(f"part-{part}.pkl")
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(result))
    tmp.replace(out)  # whole or absent: the parent never reads half a file
    return str(out)


def render_for_members(render: Callable, driver: str, kwargs: dict, ws: Workspace) -> list:
    """``render(**kwargs)`` for every member, fanned out over the work pool when configured and
    possible (see the module docstring), otherwise in this process."""
    job = RenderJob(render, driver, kwargs)
    parts = min(ws.settings.schedule.render_parts, max(len(job.members()), 1))
    deployment = part_deployment() if parts > 1 else None
    if deployment is None:
        return render(**kwargs, jobs=render_jobs())
    return render_on_pool(job, parts, deployment, Path(kwargs["out_dir"]))


def part_deployment() -> str | None:
    """The ``render_part`` deployment's name, when this flow run itself came from a work-pool
    deployment and the pool has a ``render_part`` deployment; None otherwise."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.runtime import deployment

    deployment_id = deployment.id
    if not deployment_id:
        return None
    with get_client(sync_client=True) as client:
        pool = client.read_deployment(deployment_id).work_pool_name
        if not pool:
            return None  # served by `yeji serve`: no pool to fan out to
        name = f"{PART_FLOW}/{part_deployment_name(pool)}"
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            log.warning("render_parts > 1 but the pool %r has no %s deployment (run `yeji deploy`): "
                        "rendering in this flow run", pool, name)
            return None
    return name


def part_deployment_name(pool: str) -> str:
    return f"yeji-render-part-{pool}"


def render_on_pool(job: RenderJob, parts: int, deployment: str, out_dir: Path) -> list:
    """Part 0 here, parts 1… as ``render_part`` runs on the pool; every part's items, in member order."""
    from prefect.deployments import run_deployment

    folder = out_dir / ".parts" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        inputs = folder / "inputs.pkl"
        inputs.write_bytes(pickle.dumps(job))
        runs = [run_deployment(deployment, parameters={"inputs": str(inputs), "part": k, "parts": parts},
                               timeout=0, flow_run_name=f"{out_dir.name} part {k} of {parts}")
                for k in range(1, parts)]
        run_logger().info("rendering %d member(s) in %d parts: part 0 here, %d on the pool (%s)",
                          len(job.members()), parts, len(runs), deployment)
        started = time.perf_counter()
        mine = PartResult(0, job.part(0, parts, jobs=render_jobs()), socket.gethostname(), os.getpid(), os.getppid(),
                          time.perf_counter() - started)
        wait_for(runs, timeout=PART_TIMEOUT_S)
        results = [pickle.loads((folder / f"part-{k}.pkl").read_bytes()) for k in range(1, parts)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    logger = run_logger()
    for r in [mine, *results]:
        logger.info("part %d: %d report(s) in %.1f s on %s (pid %d, worker pid %d)", r.part, len(r.rendered),
                    r.seconds, r.host, r.pid, r.parent_pid)
    rendered = [item for r in [mine, *results] for item in r.rendered]
    order = {m: i for i, m in enumerate(job.members())}
    return sorted(rendered, key=lambda item: order.get(str(item.member_id), len(order)))


def run_logger() -> logging.Logger:
    """The flow run's logger (its lines show in the Prefect UI), or this module's outside a run."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


def wait_for(runs: list, *, timeout: float, poll_s: float = 2.0) -> None:
    """Until every part run has finished; a part that did not complete fails the parent, naming it."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    pending = {run.id: run.name for run in runs}
    with get_client(sync_client=True) as client:
        while pending:
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                if state is not None and state.type.value in FINAL:
                    name = pending.pop(run_id)
                    if state.type.value != "COMPLETED":
                        raise RuntimeError(f"render part run {name!r} ({run_id}) ended {state.name}: "
                                           f"{state.message or 'see its logs in the Prefect UI'}")
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"render part run(s) {sorted(pending.values())} not finished after {timeout:.0f} s: "
                                   "are the pool's workers running (`prefect worker start --pool …`)?")
            if pending:
                time.sleep(poll_s)
