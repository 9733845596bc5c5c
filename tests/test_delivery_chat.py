"""Team chat: the team summary digest posted through Apprise to a real webhook on 127.0.0.1
(Apprise's ``json://`` target), recorded in the outbox like an email: once per team chat, week
and content version; a correction says so; the URLs' tokens reach no log, outcome or outbox row."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace

import pytest
from pydantic import ValidationError

from config.models import Delivery
from reports import deliver, render_team_summaries
from reports.archive import archive_reports
from reports.chat import chat_recipient
from tests import test_reports_frames as f
from tests import webhook
from tests.test_delivery import SENDER
from warehouse.outbox import deliveries

TOKEN = "s3cretBotToken42"  # what a wecombot/dingtalk key would be: it must never show up outside the post


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    return render_team_summaries(
        f.team_metrics(), f.member_metrics(), f.mix("platform"), f.mix("country"), f.quiet_customers(), f.members(),
        f.teams(), f.WEEK, f.settings(), tmp_path_factory.mktemp("summaries"), generated_at=f.GENERATED)


@pytest.fixture
def chats(monkeypatch, caplog):
    """A webhook with one chat per team (the token in the URL's credentials and path), from the environment."""
    caplog.set_level(logging.DEBUG)
    with webhook.serving() as hook:
        urls = {"T1": hook.url(f"t1/{TOKEN}", credentials=f"bot:{TOKEN}"), "T2": hook.url(f"t2/{TOKEN}")}
        monkeypatch.setenv("YEJI_TEST_CHAT_T1", urls["T1"])
        monkeypatch.setenv("YEJI_TEST_CHAT_T2", urls["T2"])
        yield hook, urls, Delivery(sender=SENDER, team_chat={"T1": "YEJI_TEST_CHAT_T1", "T2": "YEJI_TEST_CHAT_T2"})


def _chat_outcomes(report):
    return [o for o in report.outcomes if o.report_kind == "team_chat"]


def _no_token_anywhere(engine, report, caplog):
    assert TOKEN not in caplog.text
    assert TOKEN not in str(report) and all(TOKEN not in str(asdict(o)) for o in report.outcomes)
    assert all(TOKEN not in str(asdict(row)) for row in deliveries(engine, status=None))


def test_each_team_chat_gets_its_digest_once(engine, summaries, chats, tmp_path, caplog):
    hook, urls, delivery = chats
    archived = archive_reports(summaries, str(tmp_path / "archive"))
    report = deliver(engine, summaries, delivery, tmp_path / "outbox", archived=archived)
    assert report.failed == 0 and len(_chat_outcomes(report)) == 2
    assert all(o.status == "sent" for o in _chat_outcomes(report))

    (t1,) = hook.messages(f"t1/{TOKEN}")
    assert hook.posts[0].auth == f"bot:{TOKEN}" or hook.posts[1].auth == f"bot:{TOKEN}"  # the token went to the chat
    assert t1["title"] == "【团队周报】2026-W46（11月9日–11月15日） 华东一组"
    text = t1["message"]
    assert "净销售额" in text and "本周前三" in text
    top = [line for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert top == ["1. 张伟 ¥12,345.67", "2. 李娜 ¥8,888.00", "3. Olivia Chen ¥5,555.55"]  # by net revenue, top 3
    assert "郑凯" not in text  # the fourth is not in the digest
    assert "Al Noor Trading LLC" in text and "沉寂客户" in text
    assert f"{tmp_path / 'archive'}/2026-W46/team_summary/T1.pdf" in text  # where the full report is

    (t2,) = hook.messages(f"t2/{TOKEN}")  # the T2 lead reads English
    assert t2["title"].startswith("Team weekly summary 2026-W46") and "Top 3 this week" in t2["message"]
    assert "1. Daniel Wu" in t2["message"] and "张伟" not in t2["message"]  # only the team's own people

    rows = deliveries(engine, report_kind="team_chat")
    assert sorted(r.recipient for r in rows) == sorted(chat_recipient(team, url) for team, url in urls.items())
    assert {(r.channel, r.location) for r in rows} == {("chat", "apprise:json")}

    again = deliver(engine, summaries, delivery, tmp_path / "outbox", archived=archived)
    assert len(hook.posts) == 2 and all(o.status == "skipped_already_sent" for o in _chat_outcomes(again))
    _no_token_anywhere(engine, again, caplog)


def test_a_changed_summary_is_posted_again_marked_corrected(sqlite_engine, summaries, chats, tmp_path):
    hook, _, delivery = chats
    deliver(sqlite_engine, summaries, delivery, tmp_path)
    changed = [replace(s, content_hash="2" * 64) if s.team_id == "T1" else s for s in summaries]
    report = deliver(sqlite_engine, changed, delivery, tmp_path)
    (corrected,) = [o for o in _chat_outcomes(report) if o.status == "sent"]
    assert corrected.team_id == "T1" and corrected.corrected
    latest = hook.messages(f"t1/{TOKEN}")[-1]
    assert latest["title"].startswith("【更正】") and "这是更正版本" in latest["message"]
    assert len(hook.messages(f"t2/{TOKEN}")) == 1  # T2's summary did not change

    flagged = deliver(sqlite_engine, [replace(s, content_hash="3" * 64) for s in summaries],
                      delivery.model_copy(update={"on_changed_content": "flag"}), tmp_path)
    assert all(o.status == "skipped_already_sent" and o.changed_since_sent for o in _chat_outcomes(flagged))
    assert len(hook.posts) == 3


def test_a_chat_that_is_down_fails_its_post_alone_and_gets_it_next_run(sqlite_engine, summaries, chats, tmp_path, caplog):
    hook, _, delivery = chats
    hook.status = 500
    first = deliver(sqlite_engine, summaries, delivery, tmp_path)
    assert [o.status for o in _chat_outcomes(first)] == ["failed", "failed"]
    assert all(o.detail.startswith("json://") for o in _chat_outcomes(first))
    assert first.sent == 2  # the leads' emails (.eml outbox) went out regardless
    _no_token_anywhere(sqlite_engine, first, caplog)

    hook.status = 200
    second = deliver(sqlite_engine, summaries, delivery, tmp_path)
    assert [o.status for o in _chat_outcomes(second)] == ["sent", "sent"] and second.sent == 2
    assert len(hook.posts) == 2


def test_a_team_chat_whose_variable_is_empty_is_reported(sqlite_engine, summaries, chats, tmp_path, monkeypatch):
    _, _, delivery = chats
    monkeypatch.setenv("YEJI_TEST_CHAT_T2", "")
    report = deliver(sqlite_engine, summaries, delivery, tmp_path)
    (failed,) = [o for o in _chat_outcomes(report) if o.status == "failed"]
    assert failed.team_id == "T2" and "YEJI_TEST_CHAT_T2 holds no chat URL" in failed.detail


def test_chat_urls_are_never_written_in_the_config():
    with pytest.raises(ValidationError, match="must name an environment variable"):
        Delivery(team_chat={"T1": "wecombot://abcdef123456"})


@pytest.mark.parametrize("url", ["wecombot://botkey123456", "dingtalk://token123456/", "feishu://token123456",
                                 "lark://token123456", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"])
def test_the_team_chat_services_are_understood_by_apprise(url):
    import apprise

    assert apprise.Apprise().add(url)
    assert chat_recipient("T1", url).startswith(f"chat:T1:{url.split(':')[0]}#") and "123456" not in chat_recipient("T1", url)
