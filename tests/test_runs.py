"""Running it like production: the run log, honest failed states, artifacts, reruns and backfills.

Real parts only: a real warehouse (SQLite, and PostgreSQL where configured), Prefect's test
server, the demo workspace, and an SMTP server on 127.0.0.1 that refuses one recipient
mid-batch until told otherwise.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml

from flows.backfill import DONE, FAILED, SKIPPED, period_range
from flows.runlog import idempotency_key
from tests.mailbox import serving
from warehouse import runs as runs_table
from warehouse.db import make_engine
from yeji.demo import create_demo_workspace

END = date(2026, 11, 15)  # a Sunday: the demo's data ends with ISO week 2026-W46
ADMIN = "ops@demo.yeji.local"


# --------------------------------------------------------------------------- the runs table


def test_runs_table_records_start_end_state_counts_and_error(engine):
    first = runs_table.start_run(engine, flow="weekly_review", period="2026-W45", idempotency_key="weekly_review:2026-W45",
                                 started_at=datetime(2026, 11, 16, 1, 0), scheduled_at=datetime(2026, 11, 16, 0, 30))
    second = runs_table.start_run(engine, flow="weekly_review", period="2026-W46", idempotency_key="weekly_review:2026-W46",
                                  started_at=datetime(2026, 11, 23, 1, 0))
    assert [r.state for r in runs_table.running(engine, "weekly_review")] == ["running", "running"]
    runs_table.finish_run(engine, first, state="completed", ended_at=datetime(2026, 11, 16, 1, 2), counts={"sent": 7})
    runs_table.finish_run(engine, second, state="failed", ended_at=datetime(2026, 11, 23, 1, 1),
                          counts={"sent": 3, "failed": 1}, error="1 delivery(ies) failed: a@x: 550")
    newest, oldest = runs_table.runs(engine, flow="weekly_review")
    assert (newest.period, newest.state, newest.counts, newest.error) == ("2026-W46", "failed", {"sent": 3, "failed": 1},
                                                                          "1 delivery(ies) failed: a@x: 550")
    assert (oldest.state, oldest.scheduled_at, oldest.ended_at) == ("completed", datetime(2026, 11, 16, 0, 30),
                                                                   datetime(2026, 11, 16, 1, 2))
    assert runs_table.completed_keys(engine, ["weekly_review:2026-W45", "weekly_review:2026-W46"]) == {"weekly_review:2026-W45"}
    assert runs_table.running(engine, "weekly_review") == []
    with pytest.raises(ValueError, match="completed, failed or cancelled"):
        runs_table.finish_run(engine, first, state="running", ended_at=datetime(2026, 11, 16))


def test_period_range_spans_years_and_rejects_mixed_or_reversed_ranges():
    weeks = [p.label for p in period_range("2026-W30", "2026-W46")]
    assert len(weeks) == 17 and weeks[0] == "2026-W30" and weeks[-1] == "2026-W46"
    assert [p.label for p in period_range("2026-W52", "2027-W02")] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert [p.label for p in period_range("2026-11", "2027-02")] == ["2026-11", "2026-12", "2027-01", "2027-02"]
    with pytest.raises(ValueError, match="is a week but"):
        period_range("2026-W30", "2026-10")
    with pytest.raises(ValueError, match="comes after"):
        period_range("2026-W46", "2026-W30")
    assert idempotency_key("weekly_review", "2026-W46", send=False) == "weekly_review:2026-W46:dry-run"


# --------------------------------------------------------------------------- flows end to end


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, prefect_harness):
    root = tmp_path_factory.mktemp("ws-runs")
    create_demo_workspace(root, seed=5, end=END, weeks=8)
    with serving() as (inbox, port):
        config = yaml.safe_load((root / "yeji.yaml").read_text(encoding="utf-8"))
        config["delivery"]["smtp"] = {"host": "127.0.0.1", "port": port, "security": "none", "password_env": None}
        config["alerts"] = {"admin_emails": [ADMIN], "chat_urls_env": None}
        (root / "yeji.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        from flows.sync import sync

        sync(workspace=str(root))
        yield root, inbox


def _artifacts(flow_run_id) -> dict:
    """The artifacts a flow run published, by key (read back from the Prefect server)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:  # the filter endpoint directly: this client sends nulls it refuses
        response = client._client.post("/artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 50, "offset": 0, "sort": "CREATED_DESC"})
        response.raise_for_status()
    return {a["key"]: a for a in response.json()}


def _engine(root):
    return make_engine(f"sqlite:///{root / 'warehouse.db'}")


def test_a_partly_failed_delivery_fails_the_flow_run_and_a_rerun_sends_only_what_is_missing(workspace):
    from flows.weekly_review import weekly_review

    root, inbox = workspace
    rendered = weekly_review(week="2026-W46", workspace=str(root), send=False)["rendered"]
    refused = sorted({r.recipient_email.lower() for r in rendered if r.recipient_email})[1]
    inbox.refuse = {refused}
    inbox.messages.clear()

    state = weekly_review(week="2026-W46", workspace=str(root), return_state=True)
    assert state.is_failed(), state  # never "Completed" while a report was not delivered
    error = state.result(raise_on_failure=False)
    assert refused in str(error) and error.result["delivery"].failed == 1
    first_batch = len([m for m in inbox.messages if m.rcpt_tos != [ADMIN]])
    assert first_batch == error.result["delivery"].sent > 0

    engine = _engine(root)
    failed = runs_table.runs(engine, flow="weekly_review", period="2026-W46")[0]
    assert failed.state == "failed" and refused in failed.error and failed.ended_at is not None
    assert failed.counts["failed"] == 1 and failed.counts["sent"] == first_batch
    assert failed.flow_run_id == str(state.state_details.flow_run_id)
    artifacts = _artifacts(state.state_details.flow_run_id)
    summary = artifacts["weekly-review-2026-w46-summary"]
    assert summary["type"] == "markdown" and "failed" in summary["data"]
    assert "yeji run weekly-review --week 2026-W46" in summary["data"]
    table = artifacts["weekly-review-2026-w46-deliveries"]
    assert table["type"] == "table" and refused in str(table["data"])
    (alert,) = inbox.to(ADMIN)  # the admin is told
    assert "weekly_review 2026-W46 failed" in str(alert["Subject"]) and refused in alert.get_content()

    inbox.refuse = set()  # the mailbox is back: the rerun resumes the batch
    resumed = weekly_review(week="2026-W46", workspace=str(root))
    assert resumed["delivery"].sent == 1 and resumed["delivery"].failed == 0
    again = weekly_review(week="2026-W46", workspace=str(root))
    assert again["delivery"].sent == 0  # the same period rerun sends nothing new
    counts = inbox.count_by_recipient()
    assert all(n == 1 for n in counts.values()), counts  # nothing doubled
    assert any(refused in to for _, to in counts)  # nothing lost
    latest = runs_table.runs(engine, flow="weekly_review", period="2026-W46", limit=2)
    assert [r.state for r in latest] == ["completed", "completed"] and latest[0].counts["already_sent"] > 0
    assert runs_table.running(engine, "weekly_review") == []
    engine.dispose()


def test_a_failed_source_fails_the_sync_run_and_is_recorded(workspace):
    from flows.sync import SyncFailed, sync

    root, _ = workspace
    config = yaml.safe_load((root / "yeji.yaml").read_text(encoding="utf-8"))
    source = config["sources"][-1]
    path = root / source["path"]
    hidden = path.with_name(path.name + ".away")
    path.rename(hidden)
    try:
        state = sync(workspace=str(root), return_state=True)
    finally:
        hidden.rename(path)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), SyncFailed)
    engine = _engine(root)
    run = runs_table.runs(engine, flow="sync", limit=1)[0]
    assert run.state == "failed" and source["name"] in run.error and run.counts["failed"] == 1
    engine.dispose()


def test_backfill_dry_run_sends_nothing_then_a_restarted_backfill_skips_completed_periods(workspace):
    from flows.backfill import backfill

    root, inbox = workspace
    before = len(inbox.messages)
    dry = backfill(str(root), "2026-W41", "2026-W42", dry_run=True)
    assert [o.status for o in dry] == [DONE, DONE] and len(inbox.messages) == before
    assert all(o.result["delivery"] is None and o.result["rendered"] for o in dry)

    # "interrupted" after the first period: the next start does only what is left
    seen = []

    def stop_after_first(outcome):
        seen.append(outcome)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill(str(root), "2026-W41", "2026-W42", on_period=stop_after_first)
    assert [(o.period, o.status) for o in seen] == [("2026-W41", DONE)]
    assert len(inbox.messages) > before

    restarted = backfill(str(root), "2026-W41", "2026-W42")
    assert [(o.period, o.status) for o in restarted] == [("2026-W41", SKIPPED), ("2026-W42", DONE)]
    assert restarted[1].result["delivery"].sent > 0
    forced = backfill(str(root), "2026-W41", "2026-W42", force=True)
    assert [o.status for o in forced] == [DONE, DONE]
    assert all(o.result["delivery"].sent == 0 for o in forced)  # forced reruns still send nothing twice
    counts = inbox.count_by_recipient()
    assert all(n == 1 for n in counts.values()), counts
    assert FAILED not in {o.status for o in restarted + forced}


def test_yeji_runs_lists_the_run_log(workspace, capsys):
    from yeji.cli import main

    root, _ = workspace
    assert main(["-w", str(root), "runs", "--flow", "weekly-review", "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert "2026-W46" in out and "failed" in out and "completed" in out and "550" in out


def test_a_stale_scheduled_run_is_skipped_with_an_alert_when_configured(workspace):
    root, inbox = workspace
    before = len(inbox.messages)
    state = _late_weekly_run(root, "2026-W43", when_stale="skip_and_alert")
    assert state.is_failed()
    (alert,) = inbox.messages[before:]  # no report: only the admins' alert
    assert alert.rcpt_tos == [ADMIN] and "stale run skipped" in alert.message.get_content()
    engine = _engine(root)
    run = runs_table.runs(engine, flow="weekly_review", period="2026-W43", limit=1)[0]
    assert run.state == "failed" and run.error.startswith("stale run skipped") and "nothing sent" in run.error
    assert run.scheduled_at is not None and run.counts["late_hours"] >= 30
    engine.dispose()


def test_monthly_commissions_write_the_payout_export_beside_the_statements_and_archive_every_pdf(workspace):
    from flows.monthly_commissions import monthly_commissions

    root, _ = workspace
    result = monthly_commissions(month="2026-10", workspace=str(root))
    folder = root / "reports" / "2026-10"
    assert (folder / "payout_2026-10.csv").is_file() and (folder / "payout_2026-10.xlsx").is_file()
    archive = root / "archive"
    assert (archive / "2026-10" / "payout" / "payout_2026-10.xlsx").is_file()
    for item in result["rendered"]:
        subject = item.member_id or item.team_id or "all"
        assert (archive / "2026-10" / item.report_kind / f"{subject}.pdf").read_bytes() == item.pdf_path.read_bytes()


def test_yeji_backfill_skips_completed_periods_and_refuses_contradictory_flags(workspace, capsys):
    from yeji.cli import main

    root, _ = workspace
    args = ["-w", str(root), "backfill", "--from", "2026-W41", "--to", "2026-W42", "--dry-run"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0  # a second start: everything already done
    out = capsys.readouterr().out
    assert out.count("skipped") == 2 and "2 of 2 period(s) done" in out
    assert main(["-w", str(root), "backfill", "--from", "2026-W41", "--to", "2026-W42", "--dry-run", "--resend"]) == 2
    assert main(["-w", str(root), "backfill", "--from", "2026-W46", "--to", "2026-10"]) == 2
    assert "is a week but" in capsys.readouterr().out


@pytest.mark.parametrize("overlap", ["cancel_new", "enqueue"])
def test_two_yeji_runs_of_the_same_flow_at_once_never_both_send(workspace, tmp_path, overlap):
    """Two `yeji run weekly-review` processes at once: the second is cancelled, or waits for the
    first to end (``schedule.overlap``); either way each report is sent once."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    root, inbox = workspace
    week = {"cancel_new": "2026-W44", "enqueue": "2026-W45"}[overlap]
    config_path = root / "yeji.yaml"
    original = config_path.read_text(encoding="utf-8")
    config = yaml.safe_load(original)
    config["schedule"] = {"overlap": overlap}
    config["delivery"]["smtp"]["timeout_seconds"] = 600  # the held first run must not time out
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    before = len(inbox.messages)

    from prefect.settings import get_current_settings

    api = get_current_settings().api.url  # the session's Prefect test server, as in production (README)

    def start(n: int) -> subprocess.Popen:
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / f"prefect-{n}"), "PREFECT_API_URL": api, "COLUMNS": "200"}
        return subprocess.Popen([sys.executable, "-m", "yeji.cli", "-w", str(root), "run", "weekly-review", "--week", week],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    inbox.gate.clear()  # the first run's first message waits at the server: it is mid-delivery, holding the lock
    first = start(1)
    try:
        try:
            deadline = time.monotonic() + 600
            while inbox.waiting == 0 and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert inbox.waiting, f"the first run never reached the SMTP server: {first.poll()} {first.stdout.read()}"
            second = start(2)
            if overlap == "cancel_new":
                out2, _ = second.communicate(timeout=600)
                assert second.returncode == 1 and "Cancelled" in out2, out2
                assert "another run of weekly_review is in progress" in out2 and "sent nothing" in out2
            else:
                time.sleep(20)  # the second has started and is queued behind the first
                assert second.poll() is None
        finally:
            inbox.gate.set()
        out1, _ = first.communicate(timeout=600)
        assert first.returncode == 0, out1
        if overlap == "enqueue":
            out2, _ = second.communicate(timeout=600)
            assert second.returncode == 0 and "0 sent" in out2, out2  # it ran after the first: nothing left to send
    finally:
        config_path.write_text(original, encoding="utf-8")

    sent = [m for m in inbox.messages[before:] if m.rcpt_tos != [ADMIN]]
    counts = inbox.count_by_recipient(exclude=(ADMIN,))
    assert sent and all(n == 1 for n in counts.values()), counts  # nothing doubled
    engine = _engine(root)
    runs = sorted(runs_table.runs(engine, flow="weekly_review", period=week), key=lambda r: r.run_id)
    engine.dispose()
    if overlap == "cancel_new":
        assert sorted(r.state for r in runs) == ["cancelled", "completed"]
    else:
        assert [r.state for r in runs] == ["completed", "completed"]
        assert runs[1].started_at >= runs[0].ended_at  # one after the other, never overlapping


def _with_config(root, **sections):
    """Write ``sections`` over the workspace's yeji.yaml; returns the original text (to restore)."""
    path = root / "yeji.yaml"
    original = path.read_text(encoding="utf-8")
    config = yaml.safe_load(original)
    for name, values in sections.items():
        config[name] = {**(config.get(name) or {}), **values}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return original


def _late_weekly_run(root, week: str, when_stale: str):
    """The weekly review of ``week`` as a scheduled run that was due 30 h ago (the machine was
    off), with a 12-hour staleness limit and ``when_stale``; returns its final state."""
    from datetime import timedelta, timezone

    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    from flows.weekly_review import weekly_review

    original = _with_config(root, schedule={"staleness_hours": 12, "when_stale": when_stale})
    parameters = {"week": week, "workspace": str(root)}
    try:
        with get_client(sync_client=True) as client:
            flow_run = client.create_flow_run(weekly_review, parameters=parameters, state=Scheduled(
                scheduled_time=datetime.now(timezone.utc) - timedelta(hours=30)))
        return run_flow(weekly_review, flow_run=flow_run, parameters=parameters, return_type="state")
    finally:
        (root / "yeji.yaml").write_text(original, encoding="utf-8")


def test_a_server_refusing_mid_batch_fails_the_run_alerts_the_admins_by_chat_and_the_rerun_sends_the_rest(
        workspace, monkeypatch):
    from flows.weekly_review import weekly_review
    from tests import webhook

    root, inbox = workspace
    week, before = "2026-W39", len(inbox.messages)
    with webhook.serving() as hook:
        monkeypatch.setenv("YEJI_TEST_RUNS_ALERTS", hook.url("ops"))
        original = _with_config(root, alerts={"chat_urls_env": "YEJI_TEST_RUNS_ALERTS"})
        inbox.accept_then, inbox.then = before + 2, "refuse"  # two messages, then 421 for the rest (and the alert email)
        try:
            state = weekly_review(week=week, workspace=str(root), return_state=True)
        finally:
            inbox.reset()
            (root / "yeji.yaml").write_text(original, encoding="utf-8")
        assert state.is_failed()  # never "Completed" with reports undelivered
        delivery = state.result(raise_on_failure=False).result["delivery"]
        assert delivery.sent == 2 and delivery.failed > 0 and "421" in str(delivery)
        (alert,) = hook.messages("ops")  # the alert email was refused too: the chat still tells the admins
        assert alert["title"] == f"[Yeji] weekly_review {week} failed"
        assert "421" in alert["message"] and f"yeji run weekly-review --week {week}" in alert["message"]

    resumed = weekly_review(week=week, workspace=str(root))["delivery"]
    assert (resumed.sent, resumed.skipped_already_sent, resumed.failed) == (delivery.failed, 2, 0)
    counts = inbox.count_by_recipient(exclude=(ADMIN,))
    mine = {k: n for k, n in counts.items() if week in k[0]}
    assert len(mine) == delivery.sent + delivery.failed and all(n == 1 for n in mine.values()), mine
    engine = _engine(root)
    states = [r.state for r in runs_table.runs(engine, flow="weekly_review", period=week)]
    engine.dispose()
    assert states == ["completed", "failed"]


def test_a_stale_run_that_still_sends_says_so_in_every_email(workspace):
    root, inbox = workspace
    week, before = "2026-W40", len(inbox.messages)
    state = _late_weekly_run(root, week, when_stale="send_with_note")
    assert state.is_completed()
    sent = inbox.messages[before:]
    assert sent and all(week in str(m.message["Subject"]) for m in sent)
    for m in sent:
        plain = m.message.get_body(("plain",)).get_content()
        html = m.message.get_body(("html",)).get_content()
        note = "的报告晚发了" if "的报告晚发了" in plain else "is late. It was due on"
        assert plain.splitlines()[0].startswith(("请注意：这份 " + week, "Please note: this report for " + week)), plain[:200]
        assert note in html
    engine = _engine(root)
    run = runs_table.runs(engine, flow="weekly_review", period=week, limit=1)[0]
    engine.dispose()
    assert run.state == "completed" and run.counts["late_hours"] >= 30
