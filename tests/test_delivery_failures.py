"""Delivery when things go wrong half-way, against a real SMTP server on 127.0.0.1 and a real
warehouse: a server that refuses (421) or stalls past the timeout mid-batch, a process killed
between render and send, a crash between the send and its record — each resumed by the next
run with nothing lost and nothing doubled. And the late note a stale run's emails carry."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from reports import deliver
from reports.delivery import SmtpTransport
from reports.email import LateNote
from tests.conftest import REPO
from tests.test_delivery import SENDER, reviews, smtp_server  # noqa: F401 - fixtures
from warehouse.outbox import SENDING, deliveries


def _sendable(items) -> set[str]:
    return {r.recipient_email for r in items if r.recipient_email}


def _each_once(mailbox, items) -> None:
    """Every recipient got their report, and got it once (counting distinct messages)."""
    got = Counter(a for m in mailbox.messages for a in m.rcpt_tos)
    assert set(got) == _sendable(items)
    ids = Counter((tuple(m.rcpt_tos), m.message["Message-ID"]) for m in mailbox.messages)
    assert all(n == 1 for n in ids.values()), ids


@pytest.mark.parametrize("misbehaviour", ["refuse", "stall"])
def test_a_server_that_goes_away_mid_batch_fails_the_rest_and_the_next_run_sends_exactly_them(
        engine, reviews, smtp_server, tmp_path, misbehaviour):
    mailbox, delivery = smtp_server
    delivery = delivery.model_copy(update={"smtp": delivery.smtp.model_copy(update={"timeout_seconds": 1.5})})
    mailbox.accept_then, mailbox.then, mailbox.stall_seconds = 1, misbehaviour, 6
    first = deliver(engine, reviews, delivery, tmp_path)
    assert (first.sent, first.failed) == (1, 2)  # partial: never reported as success
    failed, untried = first.with_status("failed")
    expected = "421" if misbehaviour == "refuse" else "did not answer within 1.5 s"
    assert expected in failed.detail
    assert untried.detail.startswith("not attempted: ") and expected in untried.detail  # no waiting out N timeouts
    assert len(mailbox.messages) == 1 and len(deliveries(engine)) == 1

    mailbox.reset()  # the server is back
    second = deliver(engine, reviews, delivery, tmp_path)
    assert (second.sent, second.skipped_already_sent, second.failed) == (2, 1, 0)
    assert deliver(engine, reviews, delivery, tmp_path).sent == 0
    _each_once(mailbox, reviews)
    if misbehaviour == "stall":  # the timed-out message is retried under the Message-ID it first had
        retried = mailbox.to(failed.recipient)[0]
        assert retried["Message-ID"] in {r.location for r in deliveries(engine)}


class SendThenCrash(SmtpTransport):
    """The real transport; the process dies right after the server accepted the n-th message,
    before the outbox could record it."""

    def __init__(self, smtp, crash_after: int):
        super().__init__(smtp)
        self.sends, self.crash_after = 0, crash_after

    def send(self, message, **kwargs):
        location = super().send(message, **kwargs)
        self.sends += 1
        if self.sends == self.crash_after:
            raise SystemExit("killed between send and record")
        return location


def test_a_crash_between_send_and_record_resends_the_same_message_id(engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    with pytest.raises(SystemExit):
        deliver(engine, reviews, delivery, tmp_path, transport=SendThenCrash(delivery.smtp, crash_after=2))
    assert len(mailbox.messages) == 2 and len(deliveries(engine)) == 1
    (pending,) = deliveries(engine, status=SENDING)
    crashed_id = mailbox.to(pending.recipient)[0]["Message-ID"]
    assert pending.location == crashed_id  # the Message-ID was recorded before the message left

    resumed = deliver(engine, reviews, delivery, tmp_path)
    assert (resumed.sent, resumed.skipped_already_sent) == (2, 1)
    (retry,) = [o for o in resumed.outcomes if o.recipient == pending.recipient]
    assert "stopped while sending" in retry.detail and "same Message-ID" in retry.detail
    copies = mailbox.to(pending.recipient)
    assert len(copies) == 2 and {m["Message-ID"] for m in copies} == {crashed_id}  # a mail client shows one
    assert deliveries(engine, status=SENDING) == [] and deliver(engine, reviews, delivery, tmp_path).sent == 0


KILLED_RUN = """
import os, pickle, signal, sys
from reports.delivery import SmtpTransport, deliver
from warehouse.db import make_engine

class KilledBeforeSecondSend(SmtpTransport):
    sends = 0
    def send(self, message, **kwargs):
        self.sends += 1
        if self.sends == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no cleanup: the process is gone
        return super().send(message, **kwargs)

url, items, delivery, outbox = pickle.load(open(sys.argv[1], "rb"))
deliver(make_engine(url), items, delivery, outbox, transport=KilledBeforeSecondSend(delivery.smtp))
"""


def test_a_process_killed_between_render_and_send_is_resumed_exactly_once(warehouse_url, engine, reviews, smtp_server,
                                                                          tmp_path):
    mailbox, delivery = smtp_server
    args = tmp_path / "args.pickle"
    args.write_bytes(pickle.dumps((warehouse_url, reviews, delivery, tmp_path / "outbox")))
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(args)], cwd=REPO, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert len(mailbox.messages) == 1 and len(deliveries(engine)) == 1

    resumed = deliver(engine, reviews, delivery, tmp_path)
    assert (resumed.sent, resumed.skipped_already_sent, resumed.failed) == (2, 1, 0)
    assert deliver(engine, reviews, delivery, tmp_path).sent == 0
    _each_once(mailbox, reviews)


def test_a_late_run_says_so_at_the_top_of_every_email(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    zone = ZoneInfo("Asia/Shanghai")
    late = LateNote(due=datetime(2026, 11, 16, 8, 0, tzinfo=zone), sent=datetime(2026, 11, 18, 9, 30, tzinfo=zone))
    assert deliver(sqlite_engine, reviews, delivery, tmp_path, late=late).sent == 3

    (zh,) = mailbox.to("zhang.wei@example.com")
    plain, html = zh.get_body(("plain",)).get_content(), zh.get_body(("html",)).get_content()
    assert plain.startswith("请注意：这份 2026-W46（11月9日–11月15日） 的报告晚发了")
    for body in (plain, html):
        assert "2026-11-16 08:00（Asia/Shanghai）" in body and "2026-11-18 09:30（Asia/Shanghai）" in body
    assert html.index("晚发了") < html.index("张伟，您好")  # above the greeting, not buried

    (en,) = mailbox.to("olivia.chen@example.com")
    plain, html = en.get_body(("plain",)).get_content(), en.get_body(("html",)).get_content()
    assert plain.startswith("Please note: this report for 2026-W46 (9–15 Nov) is late.")
    for body in (plain, html):
        assert "due on 2026-11-16 08:00 (Asia/Shanghai)" in body and "sent on 2026-11-18 09:30 (Asia/Shanghai)" in body


def test_an_on_time_run_carries_no_note(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    deliver(sqlite_engine, reviews, delivery, tmp_path)
    for m in mailbox.messages:
        text = m.message.get_body(("plain",)).get_content()
        assert "晚发" not in text and "is late" not in text and "更正" not in text and "corrected" not in text
