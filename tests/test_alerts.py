"""Alerting admins of a failed run: email through a real SMTP server on 127.0.0.1 and a chat
message through Apprise to a real HTTP endpoint on 127.0.0.1 (Apprise's json:// target)."""

from __future__ import annotations

import logging

import pytest

from config.models import Alerts, Smtp
from flows.runlog import Run, summary_markdown
from reports.alerts import alert_admins
from tests.conftest import free_port
from tests import webhook
from tests.test_delivery import smtp_server  # noqa: F401 - fixture


@pytest.fixture
def chat_endpoint():
    with webhook.serving() as hook:
        yield hook


def _failed_run() -> tuple[str, str]:
    run = Run("weekly_review", "2026-W46", "weekly_review:2026-W46", 7, counts={"sent": 3, "failed": 1})
    error = "1 delivery(ies) failed: weekly_review → a@example.com: 550 mailbox unavailable"
    return "[Yeji] weekly_review 2026-W46 failed", summary_markdown(run, "failed", error)


def test_admins_get_the_failure_and_the_rerun_command_by_email_and_chat(smtp_server, chat_endpoint, monkeypatch,
                                                                        tmp_path, caplog):
    mailbox, delivery = smtp_server
    url = chat_endpoint.url("hook/Zq8xTokenPath", credentials="bot:s3cret-ops-token")
    monkeypatch.setenv("YEJI_TEST_ALERT_URLS", url)
    caplog.set_level(logging.DEBUG)
    subject, body = _failed_run()
    alerts = Alerts(admin_emails=["ops@example.com", "boss@example.com"], chat_urls_env="YEJI_TEST_ALERT_URLS")
    assert alert_admins(alerts, delivery, tmp_path, subject, body) == []
    assert sorted(a for m in mailbox.messages for a in m.rcpt_tos) == ["boss@example.com", "ops@example.com"]
    text = mailbox.messages[0].message.get_content()
    assert "550 mailbox unavailable" in text and "yeji run weekly-review --week 2026-W46" in text
    (posted,) = chat_endpoint.posts
    assert posted.body["title"] == subject and "yeji run weekly-review --week 2026-W46" in posted.body["message"]
    assert posted.auth == "bot:s3cret-ops-token"  # the token reached the chat...
    assert "s3cret-ops-token" not in caplog.text and "Zq8xTokenPath" not in caplog.text  # ...and no log line


def test_a_dead_chat_url_is_reported_by_scheme_without_its_token(smtp_server, chat_endpoint, monkeypatch, tmp_path,
                                                                  caplog):
    _, delivery = smtp_server
    chat_endpoint.status = 500
    monkeypatch.setenv("YEJI_TEST_ALERT_URLS", chat_endpoint.url("hook", credentials="bot:s3cret-ops-token"))
    caplog.set_level(logging.DEBUG)
    subject, body = _failed_run()
    (problem,) = alert_admins(Alerts(admin_emails=[], chat_urls_env="YEJI_TEST_ALERT_URLS"), delivery, tmp_path,
                              subject, body)
    assert problem.startswith("alert to chat: json://") and "s3cret-ops-token" not in problem
    assert "s3cret-ops-token" not in caplog.text


def test_an_alert_that_cannot_go_out_is_reported_not_raised(smtp_server, monkeypatch, tmp_path):
    _, delivery = smtp_server
    dead = delivery.model_copy(update={"smtp": Smtp(host="127.0.0.1", port=free_port(), security="none",
                                                    timeout_seconds=2)})
    monkeypatch.setenv("YEJI_TEST_ALERT_URLS", f"json://127.0.0.1:{free_port()}/nobody")
    subject, body = _failed_run()
    problems = alert_admins(Alerts(admin_emails=["ops@example.com"], chat_urls_env="YEJI_TEST_ALERT_URLS"),
                            dead, tmp_path, subject, body)
    assert len(problems) == 2 and "ops@example.com" in problems[0] and "chat" in problems[1]


def test_without_smtp_the_alert_lands_in_the_outbox(smtp_server, tmp_path):
    _, delivery = smtp_server
    subject, body = _failed_run()
    assert alert_admins(Alerts(admin_emails=["ops@example.com"], chat_urls_env=None),
                        delivery.model_copy(update={"smtp": None}), tmp_path, subject, body) == []
    (eml,) = tmp_path.glob("alert_*.eml")
    assert b"ops@example.com" in eml.read_bytes()
