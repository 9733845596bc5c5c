"""Delivery that cannot go quietly wrong: oversized attachments, empty or missing PDFs, the
archive, and exactly-once across a crash mid-batch — against a real SMTP server on 127.0.0.1
and a real SQLite warehouse."""

from __future__ import annotations

from dataclasses import replace

import fsspec
import pytest

from reports import deliver
from reports.archive import archive_name, archive_reports
from reports.delivery import SmtpTransport
from tests.test_delivery import reviews, smtp_server  # noqa: F401 - fixtures
from warehouse.outbox import deliveries


def _sendable(reviews):
    return [r for r in reviews if r.recipient_email]


def test_the_archive_has_stable_safe_names_by_period_kind_and_member(reviews, tmp_path):
    archived = archive_reports(reviews, str(tmp_path / "archive"))
    assert len(archived) == len(reviews)
    for item in reviews:
        url = archived[item.pdf_path]
        assert url == f"{tmp_path / 'archive'}/2026-W46/weekly_review/{item.member_id}.pdf"
        assert open(url, "rb").read() == item.pdf_path.read_bytes()
    assert archive_name(replace(reviews[0], member_id="M/001")).startswith("2026-W46/weekly_review/M_001-")
    again = archive_reports(reviews, str(tmp_path / "archive"))  # a rerun replaces the same files
    assert again == archived
    in_memory = archive_reports(reviews, "memory://yeji-test/archive")  # any fsspec URL
    fs = fsspec.filesystem("memory")
    assert fs.cat(in_memory[reviews[0].pdf_path].removeprefix("memory://")) == reviews[0].pdf_path.read_bytes()


def test_an_oversized_attachment_is_replaced_by_its_archive_location_and_reported(
        sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    delivery = delivery.model_copy(update={"max_attachment_bytes": 1000})
    archived = archive_reports(reviews, str(tmp_path / "archive"))
    report = deliver(sqlite_engine, reviews, delivery, tmp_path / "outbox", archived=archived)
    assert (report.sent, report.failed, report.linked_not_attached) == (3, 0, 3)
    assert "too large to attach" in report.summary()
    for outcome in report.with_status("sent"):
        assert outcome.linked_not_attached and "over the 1,000-byte attachment limit" in outcome.detail
    for m in mailbox.messages:
        assert list(m.message.iter_attachments()) == []
        text = m.message.get_body(("plain",)).get_content()
        html = m.message.get_body(("html",)).get_content()
        assert "archived at " + str(tmp_path / "archive") + "/2026-W46/weekly_review/" in text
        assert "2026-W46/weekly_review/" in html


def test_an_oversized_attachment_without_an_archived_copy_is_not_sent(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    delivery = delivery.model_copy(update={"max_attachment_bytes": 1000})
    report = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert (report.sent, report.failed) == (0, 3) and not mailbox.messages
    assert all("attachment limit" in o.detail for o in report.with_status("failed"))
    assert deliveries(sqlite_engine) == []  # so the next run tries again


@pytest.mark.parametrize("damage", ["empty", "missing", "not a pdf"])
def test_a_report_that_failed_to_render_is_never_sent(sqlite_engine, reviews, smtp_server, tmp_path, damage):
    mailbox, delivery = smtp_server
    broken = tmp_path / "broken.pdf"
    if damage == "empty":
        broken.write_bytes(b"")
    elif damage == "not a pdf":
        broken.write_bytes(b"<html>WeasyPrint error</html>")
    items = [replace(r, pdf_path=broken) if r.member_id == "M1" else r for r in reviews]
    report = deliver(sqlite_engine, items, delivery, tmp_path)
    assert (report.sent, report.failed) == (2, 1)
    (failed,) = report.with_status("failed")
    assert failed.member_id == "M1" and "missing or empty" in failed.detail
    assert "zhang.wei@example.com" not in {a for m in mailbox.messages for a in m.rcpt_tos}
    fixed = deliver(sqlite_engine, reviews, delivery, tmp_path)  # rendered properly next run: sent then
    assert (fixed.sent, fixed.skipped_already_sent) == (1, 2)


class CrashingTransport(SmtpTransport):
    """The real SMTP transport, whose process dies (an uncaught BaseException) before its n-th send."""

    def __init__(self, smtp, crash_before: int):
        super().__init__(smtp)
        self.sends, self.crash_before = 0, crash_before

    def send(self, message, **kwargs):
        self.sends += 1
        if self.sends == self.crash_before:
            raise SystemExit("killed between render and send")
        return super().send(message, **kwargs)


def test_exactly_once_across_a_crash_mid_batch(engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    with pytest.raises(SystemExit):
        deliver(engine, reviews, delivery, tmp_path, transport=CrashingTransport(delivery.smtp, crash_before=2))
    assert len(mailbox.messages) == 1 and len(deliveries(engine)) == 1  # what was sent is recorded
    resumed = deliver(engine, reviews, delivery, tmp_path)
    assert (resumed.sent, resumed.skipped_already_sent, resumed.failed) == (2, 1, 0)
    again = deliver(engine, reviews, delivery, tmp_path)
    assert again.sent == 0
    recipients = sorted(a for m in mailbox.messages for a in m.rcpt_tos)
    assert recipients == sorted({r.recipient_email for r in _sendable(reviews)})  # each exactly once


def test_resend_sends_again_on_purpose_and_says_so(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    deliver(sqlite_engine, reviews, delivery, tmp_path)
    resent = deliver(sqlite_engine, reviews, delivery, tmp_path, resend=True)
    assert resent.sent == 3 and all("resent on purpose" in o.detail for o in resent.with_status("sent"))
    assert len(mailbox.messages) == 6
