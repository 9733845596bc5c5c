"""Schedules: the period a scheduled time resolves to, across timezones and DST changes; the
staleness rule; the deployments' cron schedules in the team's timezone with no overlap."""

from __future__ import annotations

import asyncio
import inspect
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.models import Schedule, Settings, Workspace
from flows.common import resolve_period
from flows.schedule import SEND, SEND_WITH_NOTE, SKIP, deployment_specs, deployments, lateness

UTC = timezone.utc


def _ws(tz: str, **schedule) -> Workspace:
    return Workspace(root=Path("/tmp/yeji-ws"), settings=Settings(timezone=tz, schedule=Schedule(**schedule)))


def _period_probe(kind: str, tz: str) -> str:
    return resolve_period(None, kind, _ws(tz)).label


def resolved_by_a_scheduled_run(kind: str, tz: str, moment: datetime) -> str:
    """Create a real flow run scheduled at ``moment`` on the Prefect test server and run it:
    the period its ``resolve_period`` picks from Prefect's scheduled start time."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    probe = flow(name="period_probe")(_period_probe)
    parameters = {"kind": kind, "tz": tz}
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(probe, parameters=parameters, state=Scheduled(scheduled_time=moment))
    return run_flow(probe, flow_run=flow_run, parameters=parameters)


@pytest.mark.parametrize("tz, utc_moment, kind, expected", [
    # Monday 07:00 in Shanghai is still Sunday in UTC: the week that just ended, not the one before
    ("Asia/Shanghai", datetime(2026, 11, 15, 23, 0, tzinfo=UTC), "week", "2026-W46"),
    # Sunday 23:59 in Shanghai: W46 has not ended yet
    ("Asia/Shanghai", datetime(2026, 11, 15, 15, 59, tzinfo=UTC), "week", "2026-W45"),
    # Berlin, the Monday after DST ends (2026-10-25, CEST→CET): 00:30 CET is 23:30 UTC on Sunday
    ("Europe/Berlin", datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "week", "2026-W43"),
    # ...and 23:30 CET on that Sunday is still inside W43
    ("Europe/Berlin", datetime(2026, 10, 25, 22, 30, tzinfo=UTC), "week", "2026-W42"),
    # Berlin, the Monday after DST starts (2026-03-29, CET→CEST): 00:30 CEST is 22:30 UTC on Sunday
    ("Europe/Berlin", datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "week", "2026-W13"),
    ("Europe/Berlin", datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "week", "2026-W12"),  # 23:30 CEST Sunday
    # months: 1 November 00:30 in Berlin (CET) is 31 October in UTC
    ("Europe/Berlin", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "month", "2026-10"),
    ("Asia/Shanghai", datetime(2026, 10, 31, 16, 0, tzinfo=UTC), "month", "2026-10"),  # 00:00 Shanghai 1 Nov
    ("Asia/Shanghai", datetime(2026, 10, 31, 15, 59, tzinfo=UTC), "month", "2026-09"),
])
def test_a_scheduled_time_resolves_to_the_period_that_ended_in_the_team_timezone(prefect_harness, tz, utc_moment,
                                                                                  kind, expected):
    assert resolved_by_a_scheduled_run(kind, tz, utc_moment) == expected


def test_the_weekly_cron_fires_monday_morning_local_time_across_the_dst_change():
    """The schedule the Prefect server computes for the weekly cron in Europe/Berlin: 08:00 local
    on both sides of the change, and each run resolves to the week that just ended."""
    from prefect.server.schemas.schedules import CronSchedule

    from transforms.periods import last_complete_week

    berlin = ZoneInfo("Europe/Berlin")
    runs = CronSchedule(cron="0 8 * * 1", timezone="Europe/Berlin").get_dates(n=3, start=datetime(2026, 10, 12, tzinfo=UTC))
    if inspect.isawaitable(runs):  # sync or async, depending on Prefect's context
        runs = asyncio.run(runs)
    assert [r.astimezone(UTC).hour for r in runs] == [6, 6, 7]  # CEST (UTC+2), then CET (UTC+1)
    assert all(r.astimezone(berlin).hour == 8 and r.astimezone(berlin).weekday() == 0 for r in runs)
    assert [last_complete_week(r.astimezone(berlin)).label for r in runs] == ["2026-W41", "2026-W42", "2026-W43"]


@pytest.mark.parametrize("late_hours, when_stale, decision", [
    (0.1, "skip_and_alert", SEND),
    (24, "skip_and_alert", SEND),  # exactly at the limit: still on time
    (24.5, "skip_and_alert", SKIP),
    (30, "send_with_note", SEND_WITH_NOTE),
    (1, "send_with_note", SEND),
])
def test_the_staleness_rule(late_hours, when_stale, decision):
    scheduled = datetime(2026, 11, 16, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    result = lateness(scheduled, scheduled + timedelta(hours=late_hours), staleness_hours=24, when_stale=when_stale)
    assert result.decision == decision
    assert (result.note != "") == (decision != SEND)
    if decision == SKIP:
        assert "nothing sent" in result.note and "24 h" in result.note
    assert lateness(None, scheduled, staleness_hours=24, when_stale=when_stale).decision == SEND  # a manual run


def test_deployments_use_the_configured_crons_in_the_team_timezone_and_never_overlap():
    ws = _ws("Europe/Berlin", weekly_review="0 7 * * 1", overlap="enqueue")
    deps = {d.name: d for d in deployments(ws)}
    assert set(deps) == {"yeji-sync", "yeji-weekly-review", "yeji-monthly-commissions"}
    weekly = deps["yeji-weekly-review"]
    (schedule,) = weekly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * 1", "Europe/Berlin")
    assert weekly.parameters == {"workspace": "/tmp/yeji-ws"}
    assert weekly.concurrency_limit == 1 and weekly.concurrency_options.collision_strategy.value == "ENQUEUE"
    default = {d.name: d for d in deployments(_ws("Asia/Shanghai"))}["yeji-monthly-commissions"]
    assert default.schedules[0].schedule.cron == "0 9 3 * *"
    assert default.schedules[0].schedule.timezone == "Asia/Shanghai"
    assert default.concurrency_options.collision_strategy.value == "CANCEL_NEW"


def test_each_deployment_entrypoint_loads_its_flow_from_the_checkout():
    """What a worker does with a pool deployment: load the flow from ``<checkout>/<entrypoint>``."""
    from prefect.flows import load_flow_from_entrypoint

    from flows.deploy import CHECKOUT
    from flows.fanout import PART_ENTRYPOINT, PART_FLOW

    specs = deployment_specs(_ws("Asia/Shanghai"))
    loaded = {load_flow_from_entrypoint(str(CHECKOUT / spec.entrypoint)).name: spec.flow.name for spec in specs}
    assert loaded == {"sync": "sync", "weekly_review": "weekly_review", "monthly_commissions": "monthly_commissions"}
    assert load_flow_from_entrypoint(str(CHECKOUT / PART_ENTRYPOINT)).name == PART_FLOW


def members_rendered(member_metrics, period, jobs, out_dir=None):
    """A stand-in render function (module level, so a RenderJob pickles): the members it was given."""
    return [(m, period, jobs) for m in member_metrics["member_id"]]


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_render_parts_split_the_members_so_each_is_rendered_exactly_once(parts):
    import pickle

    import pandas as pd

    from flows.fanout import RenderJob

    ids = [f"M{i:03d}" for i in (5, 1, 12, 3, 8, 2, 9)]
    frame = pd.DataFrame({"member_id": ids + ids[:3], "period": ["2026-W46"] * 7 + ["2026-W45"] * 3})
    job = pickle.loads(pickle.dumps(RenderJob(members_rendered, "member_metrics",
                                              {"member_metrics": frame, "period": "2026-W46"})))
    done = [job.part(k, parts) for k in range(parts)]
    members = [m for part in done for m, _, _ in part]
    # every row of a member (both periods) goes to the same part, and no member to two parts
    assert sorted(members) == sorted(frame["member_id"])
    assert all({m for m, _, _ in a}.isdisjoint({m for m, _, _ in b}) for i, a in enumerate(done) for b in done[i + 1:])
    assert max(len({m for m, _, _ in p}) for p in done) - min(len({m for m, _, _ in p}) for p in done) <= 1


def test_render_parts_above_one_render_in_process_without_a_work_pool(tmp_path, prefect_harness):
    """``yeji run`` / the test server: no pool deployment, so everything renders in this process."""
    import pandas as pd
    from prefect import flow

    from flows.fanout import render_for_members

    ws = Workspace(root=tmp_path, settings=Settings(schedule=Schedule(render_parts=4)))
    frame = pd.DataFrame({"member_id": ["M1", "M2", "M3"], "period": ["2026-W46"] * 3})

    @flow(name="fanout_probe")
    def probe():
        return render_for_members(members_rendered, "member_metrics",
                                  {"member_metrics": frame, "period": "2026-W46", "out_dir": tmp_path}, ws)

    assert [m for m, _, _ in probe()] == ["M1", "M2", "M3"]
