"""Email composition: MIME structure, encodings, and what the body may contain."""

from __future__ import annotations

import email
from email import policy

import pytest

from tests import test_reports_frames as f
from reports import render_weekly_reviews
from reports.email import build_message, sender_address


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    items = render_weekly_reviews(
        f.member_metrics(), f.trend(), f.top_customers(), f.quiet_customers(), f.commission_lines("2026-11"),
        f.members(), f.teams(), f.WEEK, f.settings(), tmp_path_factory.mktemp("mail"), generated_at=f.GENERATED)
    return {i.member_id: i for i in items}


def _roundtrip(msg) -> email.message.EmailMessage:
    raw = msg.as_bytes(policy=policy.SMTP)
    assert all(b < 128 for b in raw), "headers and bodies must be 7-bit encoded on the wire"
    return email.message_from_bytes(raw, policy=policy.default)


def test_message_structure_and_encodings(reviews):
    item = reviews["M1"]
    msg = _roundtrip(build_message([item], f.settings().delivery.sender))
    assert msg.get_content_type() == "multipart/mixed"
    assert msg["Subject"] == "【业绩周报】2026-W46（11月9日–11月15日） 张伟"
    assert "=?utf-8?" in msg.as_string(policy=policy.SMTP).split("Subject:", 1)[1].splitlines()[0].lower()
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("张伟", "zhang.wei@example.com")
    assert msg["From"].addresses[0].display_name == "义吉报表"
    assert msg["Message-ID"].endswith("@yeji.example.com>")
    assert msg["Auto-Submitted"] == "auto-generated"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "¥12,345.67" in plain and "¥12,345.67" in html and "张伟，您好" in plain
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "业绩周报_2026-W46_张伟.pdf"
    assert attachment.get_content() == item.pdf_path.read_bytes()


def test_body_holds_only_the_recipients_figures(reviews):
    msg = _roundtrip(build_message([reviews["M3"]], f.settings().delivery.sender))
    text = msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
    assert "CN¥5,555.55" in text and "Dear Olivia Chen" in text
    for other in ("12,345.67", "8,888.00", "999.99", "张伟", "李娜"):
        assert other not in text


def test_several_reports_for_one_recipient_make_one_message(reviews):
    m1 = reviews["M1"]
    from dataclasses import replace

    second = replace(m1, team_id="T9", subject="第二份", attachment_filename="第二份.pdf")
    msg = _roundtrip(build_message([m1, second], f.settings().delivery.sender))
    assert [a.get_filename() for a in msg.iter_attachments()] == ["业绩周报_2026-W46_张伟.pdf", "第二份.pdf"]
    assert msg["Subject"].endswith("(+1)")
    assert msg.get_body(("html",)).get_content().count("<html") == 1


def test_one_message_never_mixes_recipients(reviews):
    with pytest.raises(ValueError, match="one recipient"):
        build_message([reviews["M1"], reviews["M3"]], f.settings().delivery.sender)
    with pytest.raises(ValueError, match="one recipient"):
        build_message([reviews["M2"]], f.settings().delivery.sender)  # no address at all


def test_sender_address():
    assert sender_address("义吉报表 <reports@yeji.example.com>") == "reports@yeji.example.com"
    with pytest.raises(ValueError):
        sender_address("no address here")
