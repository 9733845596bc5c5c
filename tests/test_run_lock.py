"""The run lock in the warehouse (``run_locks``): one holder per flow, taken over only when the
holder is gone; on SQLite and PostgreSQL, and across real processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest

from tests.conftest import REPO
from warehouse import runs as runs_table
from warehouse.runs import flow_lock

T0 = datetime(2026, 11, 23, 0, 30)
TTL = timedelta(minutes=2)


def test_one_holder_per_flow_until_released(engine):
    assert runs_table.try_lock(engine, "weekly_review", "host:1:a", now=T0, ttl=TTL, run_id=7) is None
    holder = runs_table.try_lock(engine, "weekly_review", "host:2:b", now=T0 + timedelta(seconds=5), ttl=TTL)
    assert holder is not None and holder.owner == "host:1:a" and holder.run_id == 7
    assert "process 1 on host, run log id 7" in holder.describe()
    assert runs_table.try_lock(engine, "sync", "host:2:b", now=T0, ttl=TTL) is None  # other flows are free
    runs_table.release_lock(engine, "weekly_review", "host:2:b")  # not the holder's: changes nothing
    assert runs_table.try_lock(engine, "weekly_review", "host:3:c", now=T0, ttl=TTL) is not None
    runs_table.release_lock(engine, "weekly_review", "host:1:a")
    assert runs_table.try_lock(engine, "weekly_review", "host:3:c", now=T0, ttl=TTL) is None


def test_an_expired_lock_is_taken_over_by_one_waiter_only_and_the_old_holder_knows(engine):
    runs_table.try_lock(engine, "weekly_review", "gone:1:a", now=T0, ttl=TTL)
    assert runs_table.renew_lock(engine, "weekly_review", "gone:1:a", now=T0 + timedelta(minutes=1), ttl=TTL)
    later = T0 + timedelta(minutes=2, seconds=30)  # renewed until 00:33; still held at 00:32:30
    assert runs_table.try_lock(engine, "weekly_review", "host:2:b", now=later, ttl=TTL) is not None
    expired = T0 + timedelta(minutes=3, seconds=1)
    assert runs_table.try_lock(engine, "weekly_review", "host:2:b", now=expired, ttl=TTL) is None
    assert runs_table.try_lock(engine, "weekly_review", "host:3:c", now=expired, ttl=TTL).owner == "host:2:b"
    assert not runs_table.renew_lock(engine, "weekly_review", "gone:1:a", now=expired, ttl=TTL)  # lost it


def test_a_killed_holder_on_this_machine_does_not_block_until_expiry(sqlite_engine):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:ab12"
    runs_table.try_lock(sqlite_engine, "sync", owner, now=T0, ttl=TTL)
    assert runs_table.try_lock(sqlite_engine, "sync", runs_table.lock_owner(), now=T0, ttl=TTL) is None


def test_flow_lock_cancels_or_queues_and_its_heartbeat_keeps_it(sqlite_engine):
    with flow_lock(sqlite_engine, "weekly_review", overlap="cancel_new", ttl=timedelta(seconds=3),
                   heartbeat_seconds=0.5) as held:
        assert held.holder is None
        time.sleep(4)  # past the TTL: only the heartbeat keeps it ours
        with flow_lock(sqlite_engine, "weekly_review", overlap="cancel_new") as refused:
            assert refused.holder is not None and refused.holder.owner == held.owner
        assert not held.lost
    order = []

    def second():
        with flow_lock(sqlite_engine, "weekly_review", overlap="enqueue") as queued:
            order.append(("second got it", queued.holder))

    with flow_lock(sqlite_engine, "weekly_review", overlap="enqueue"):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(1.5)
        order.append(("first done", None))
    waiter.join(timeout=10)
    assert order == [("first done", None), ("second got it", None)]


RACE = """
import os, sys, time
from pathlib import Path
from warehouse.db import make_engine
from warehouse.runs import flow_lock
engine, overlap, marks, others = make_engine(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
with flow_lock(engine, "weekly_review", overlap=overlap) as lock:
    if lock.holder is not None:
        (marks / f"cancelled-{os.getpid()}").touch()
        print("cancelled", flush=True)
    else:
        print("start", time.time(), flush=True)
        deadline = time.time() + 60
        if overlap == "cancel_new":  # hold it until every other process has tried (however slow they start)
            while len(list(marks.iterdir())) < others and time.time() < deadline:
                time.sleep(0.1)
        time.sleep(1)
        print("end", time.time(), flush=True)
"""


@pytest.mark.parametrize("overlap", ["cancel_new", "enqueue"])
def test_two_processes_never_hold_it_at_once(warehouse_url, overlap, tmp_path):
    n = 3
    procs = [subprocess.Popen([sys.executable, "-c", RACE, warehouse_url, overlap, str(tmp_path), str(n - 1)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outputs]
    spans = sorted(tuple(float(line.split()[1]) for line in out.splitlines() if line.split()[0] in ("start", "end"))
                   for out, _ in outputs if "start" in out)
    cancelled = sum("cancelled" in out for out, _ in outputs)
    if overlap == "cancel_new":
        assert (len(spans), cancelled) == (1, n - 1)
    else:
        assert (len(spans), cancelled) == (n, 0)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:]))  # one after another
