"""Yeji past one machine, for real: a Prefect server, a process work pool, two workers.

Starts ``prefect server start`` on a free loopback port (its own PREFECT_HOME; Prefect's database
and the warehouse are SQLite, or both PostgreSQL when ``YEJI_TEST_DATABASE_URL`` is set), deploys a demo
workspace with ``yeji deploy``, starts two ``prefect worker start`` processes, runs the sync and a
weekly review through the pool with the reviews fanned out over the workers, and checks on a real
SMTP server (aiosmtpd on 127.0.0.1) and in the deliveries outbox that every report was delivered
exactly once, and that triggering the same week again sends nothing. Every process started here
is stopped afterwards, whatever happened. Takes a few minutes: 3 on 2 cores at load average 3–5, 7 at 11
(``-m "not e2e"`` leaves it out).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import PG_URL, free_port
from tests.mailbox import serving
from warehouse import outbox
from warehouse.db import make_engine

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
END, WEEK = date(2026, 11, 15), "2026-W46"
POOL = "yeji-e2e"
PARTS = 3  # part 0 in the weekly_review run itself, parts 1 and 2 as render_part runs on the pool


class Processes:
    """Processes started by this test, each in its own session, stopped in reverse order."""

    def __init__(self, logs: Path):
        self.logs, self.started = logs, []

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((name, proc, log))
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, log in reversed(self.started):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            log.close()


def fresh_postgres_database(name: str) -> str | None:
    """A new, empty PostgreSQL database ``name`` on the server of ``YEJI_TEST_DATABASE_URL`` (its own,
    so other tests sharing that server's test database cannot race this one); None without it."""
    if not PG_URL:
        return None
    from sqlalchemy import text

    engine = make_engine(PG_URL)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}"


def wait_until_healthy(url: str, server: subprocess.Popen, procs: Processes, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{procs.log('server')[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"prefect server not healthy after {timeout:.0f} s:\n{procs.log('server')[-3000:]}")


@pytest.fixture(scope="module")
def smtp():
    with serving() as (mailbox, port):
        yield mailbox, port


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smtp):
    """A demo workspace deployed on a real Prefect server with two process workers."""
    from yeji.demo import create_demo_workspace
    from yeji.demo_stores import serve_demo_stores

    tmp = tmp_path_factory.mktemp("e2e")
    root, logs = tmp / "workspace", tmp / "logs"
    root.mkdir(), logs.mkdir()
    create_demo_workspace(root, seed=11, end=END, weeks=6)
    inbox, smtp_port = smtp
    config = yaml.safe_load((root / "yeji.yaml").read_text(encoding="utf-8"))
    config["delivery"]["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "password_env": None}
    warehouse_url = f"sqlite:///{root / 'warehouse.db'}"
    if PG_URL:  # past one machine the warehouse is on PostgreSQL too
        warehouse_url = config["warehouse_url"] = fresh_postgres_database("yeji_e2e_warehouse")
    config["schedule"] = {**config.get("schedule", {}), "work_pool": POOL, "render_parts": PARTS,
                          "sync": "30 5 1 1 *",  # New Year only: no scheduled run fires during the test
                          "weekly_review": "0 7 * * 1", "overlap": "enqueue"}
    (root / "yeji.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_CLI_PROMPT": "false",
           "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    if PG_URL:  # the Prefect server's own database
        database = fresh_postgres_database("prefect_e2e")
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = "postgresql+asyncpg://" + database.split("://", 1)[1]
    procs = Processes(logs)
    try:
        with serve_demo_stores(root):  # the workers inherit the sandbox stores' credentials
            env.update({k: v for k, v in os.environ.items() if k.startswith("YEJI_")})
            server = procs.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                            "--port", str(port), "--no-ui", "--analytics-off"], env)
            wait_until_healthy(api, server, procs)
            deployed = subprocess.run([str(BIN / "yeji"), "--workspace", str(root), "deploy"], env=env,
                                      capture_output=True, text=True, timeout=300)
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            workers = {name: procs.start(name, [str(BIN / "prefect"), "worker", "start", "--pool", POOL,
                                                "--name", name, "--limit", "2"], env)
                       for name in ("worker-a", "worker-b")}
            yield dict(root=root, api=api, env=env, inbox=inbox, procs=procs, workers=workers,
                       deploy_output=deployed.stdout, warehouse_url=warehouse_url)
    finally:
        procs.stop_all()


def run(cluster, deployment: str, parameters: dict, timeout: float = 600):
    """Start a run of ``deployment`` through the API and wait for it to end; the finished FlowRun."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: cluster["api"]}), get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name(deployment)
        flow_run = client.create_flow_run_from_deployment(dep.id, parameters=parameters)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            flow_run = client.read_flow_run(flow_run.id)
            if flow_run.state and flow_run.state.is_final():
                return flow_run
            for name, proc in cluster["workers"].items():
                assert proc.poll() is None, f"{name} exited:\n{cluster['procs'].log(name)[-3000:]}"
            time.sleep(2)
    pytest.fail(f"{deployment} run not finished after {timeout:.0f} s; worker logs:\n"
                + "\n".join(cluster["procs"].log(n)[-2000:] for n in cluster["workers"]))


def api_call(cluster, fn):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: cluster["api"]}), get_client(sync_client=True) as client:
        return fn(client)


def logs_of(cluster, flow_run_id) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    def read(client):
        from prefect.client.schemas.sorting import LogSort

        return client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=0,
                                sort=LogSort.TIMESTAMP_ASC)

    return "\n".join(log.message for log in api_call(cluster, read))


def test_deploy_registers_every_flow_on_the_pool_in_the_team_timezone(cluster):
    from prefect.client.schemas.sorting import DeploymentSort

    # explicit limit and sort: Prefect 3.8.8's client sends null for them, which this FastAPI rejects (422)
    deps = api_call(cluster, lambda client: client.read_deployments(limit=50, sort=DeploymentSort.NAME_ASC))
    by_name = {d.name: d for d in deps}
    assert set(by_name) == {"yeji-sync", "yeji-weekly-review", "yeji-monthly-commissions", f"yeji-render-part-{POOL}"}
    assert {d.work_pool_name for d in deps} == {POOL}
    weekly = by_name["yeji-weekly-review"]
    (schedule,) = weekly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * 1", "Asia/Shanghai")
    assert weekly.global_concurrency_limit.limit == 1
    assert weekly.concurrency_options.collision_strategy.value == "ENQUEUE"
    assert weekly.parameters == {"workspace": str(cluster["root"])}
    # typed parameters the UI offers when starting a run by hand
    assert {"week", "workspace", "send", "resend"} <= set(weekly.parameter_openapi_schema["properties"])
    assert weekly.pull_steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(
        Path(__file__).resolve().parents[1])
    assert "prefect worker start --pool yeji-e2e" in cluster["deploy_output"]


def test_a_weekly_review_on_two_workers_delivers_every_report_exactly_once(cluster):
    inbox = cluster["inbox"]
    synced = run(cluster, "sync/yeji-sync", {})
    assert synced.state.is_completed(), f"sync: {synced.state.name} {synced.state.message}"

    inbox.messages.clear()
    weekly = run(cluster, "weekly_review/yeji-weekly-review", {"week": WEEK})
    assert weekly.state.is_completed(), f"weekly_review: {weekly.state.name} {weekly.state.message}"

    # the reviews were rendered in PARTS parts: two render_part runs on the pool, both completed
    def part_runs(client):
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
        from prefect.client.schemas.sorting import FlowRunSort

        dep = client.read_deployment_by_name(f"render_part/yeji-render-part-{POOL}")
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                                     limit=50, sort=FlowRunSort.START_TIME_ASC)

    parts = api_call(cluster, part_runs)
    assert len(parts) == PARTS - 1 and all(r.state.is_completed() for r in parts), [(r.name, r.state) for r in parts]

    # ...and spread over both workers: every part logs the pid of the worker that started it
    log = logs_of(cluster, weekly.id)
    worker_pids = {proc.pid: name for name, proc in cluster["workers"].items()}
    rendered_by = {int(part): int(pid) for part, pid in re.findall(r"part (\d+): .* worker pid (\d+)", log)}
    assert sorted(rendered_by) == list(range(PARTS)), log  # part 0 (this run) and each part run
    assert {worker_pids.get(pid) for pid in rendered_by.values()} == set(cluster["workers"]), (worker_pids, log)

    # every report delivered exactly once: one outbox row per (report, period, recipient), one mail per row
    root = cluster["root"]
    engine = make_engine(cluster["warehouse_url"])
    try:
        sent = outbox.deliveries(engine, period=WEEK)
    finally:
        engine.dispose()
    keys = Counter(d.key for d in sent)
    assert sent and max(keys.values()) == 1
    kinds = Counter(d.report_kind for d in sent)
    assert kinds["weekly_review"] > PARTS and kinds["team_summary"] >= 1, kinds
    received = Counter(r.lower() for m in inbox.messages for r in m.rcpt_tos)
    assert len(inbox.messages) == len(sent), (len(inbox.messages), len(sent))
    assert received == Counter(d.recipient for d in sent)  # a lead gets two: their review and the team summary
    reviews = {d.member_id for d in sent if d.report_kind == "weekly_review"}
    assert all((root / "reports" / WEEK / f"{WEEK}_weekly_review_{m}.pdf").is_file() for m in reviews)
    assert not any((root / "reports" / WEEK / ".parts").iterdir())  # the parts' exchange files are gone

    # the same week again, through the pool: completed, nothing sent a second time
    again = run(cluster, "weekly_review/yeji-weekly-review", {"week": WEEK})
    assert again.state.is_completed(), f"second weekly_review: {again.state.name} {again.state.message}"
    assert len(inbox.messages) == len(sent)
