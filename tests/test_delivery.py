"""Delivery against a real SMTP server (aiosmtpd on 127.0.0.1) and into an .eml outbox, with
the deliveries table of a real (SQLite) warehouse keeping it exactly-once."""

from __future__ import annotations

import email
import subprocess
from dataclasses import replace
from email import policy

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests import test_reports_frames as f
from tests.conftest import free_port
from tests.mailbox import Mailbox, serving
from config.models import Delivery, Smtp
from reports import deliver, render_team_summaries, render_weekly_reviews
from warehouse.outbox import deliveries

SENDER = "义吉报表 <reports@yeji.example.com>"


@pytest.fixture
def smtp_server():
    with serving() as (mailbox, port):
        yield mailbox, Delivery(sender=SENDER, smtp=Smtp(host="127.0.0.1", port=port, security="none",
                                                         timeout_seconds=10))


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return render_weekly_reviews(
        f.member_metrics(), f.trend(), f.top_customers(), f.quiet_customers(), f.commission_lines("2026-11"),
        f.members(), f.teams(), f.WEEK, f.settings(), tmp_path_factory.mktemp("reviews"), generated_at=f.GENERATED)


# ----------------------------------------------------------------------------- SMTP


def test_each_recipient_gets_their_own_report(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    report = deliver(sqlite_engine, reviews, delivery, tmp_path / "outbox")
    assert (report.sent, report.skipped_no_recipient, report.skipped_already_sent, report.failed) == (3, 1, 0, 0)
    (skipped,) = report.with_status("skipped_no_recipient")
    assert skipped.member_id == "M2" and "no email" in skipped.detail
    assert sorted(a for m in mailbox.messages for a in m.rcpt_tos) == [
        "daniel.wu@example.com", "olivia.chen@example.com", "zhang.wei@example.com"]
    assert all(m.mail_from == "reports@yeji.example.com" for m in mailbox.messages)

    (msg,) = mailbox.to("zhang.wei@example.com")
    assert msg["Subject"] == "【业绩周报】2026-W46（11月9日–11月15日） 张伟"
    assert msg["To"].addresses[0].display_name == "张伟"
    body = msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
    assert "¥12,345.67" in body
    for other in ("8,888.00", "5,555.55", "999.99", "Olivia", "Daniel", "李娜"):
        assert other not in body
    (pdf,) = list(msg.iter_attachments())
    assert pdf.get_filename() == "业绩周报_2026-W46_张伟.pdf"
    data = pdf.get_content()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    (tmp_path / "got.pdf").write_bytes(data)
    text = subprocess.run(["pdftotext", str(tmp_path / "got.pdf"), "-"], capture_output=True, check=True).stdout.decode()
    assert "张伟" in text and "李娜" not in text

    (en,) = mailbox.to("olivia.chen@example.com")
    assert en["Subject"] == "Weekly performance review 2026-W46 (9–15 Nov) – Olivia Chen"
    assert list(en.iter_attachments())[0].get_filename() == "weekly-review_2026-W46_Olivia-Chen.pdf"

    rows = deliveries(sqlite_engine, period=f.WEEK)
    assert sorted((r.recipient, r.member_id, r.channel) for r in rows) == [
        ("daniel.wu@example.com", "M9", "smtp"), ("olivia.chen@example.com", "M3", "smtp"),
        ("zhang.wei@example.com", "M1", "smtp")]
    assert all(r.location and r.location.startswith("<") for r in rows)  # the Message-ID


def test_a_second_run_sends_nothing(engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    deliver(engine, reviews, delivery, tmp_path)
    again = deliver(engine, reviews, delivery, tmp_path)
    assert (again.sent, again.skipped_already_sent, again.skipped_no_recipient, again.failed) == (0, 3, 1, 0)
    assert again.changed_since_sent == 0
    assert len(mailbox.messages) == 3


def test_a_changed_report_is_flagged_and_only_resent_when_asked(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    delivery = delivery.model_copy(update={"on_changed_content": "flag"})
    deliver(sqlite_engine, reviews, delivery, tmp_path)
    changed = [replace(i, content_hash="0" * 64) if i.member_id == "M1" else i for i in reviews]
    report = deliver(sqlite_engine, changed, delivery, tmp_path)
    assert report.sent == 0 and report.changed_since_sent == 1
    (flagged,) = [o for o in report.outcomes if o.changed_since_sent]
    assert flagged.status == "skipped_already_sent" and flagged.member_id == "M1" and "changed" in flagged.detail
    assert "on_changed_content is flag" in flagged.detail and "changed since sent" in report.summary()
    assert len(mailbox.messages) == 3

    resent = deliver(sqlite_engine, changed, delivery, tmp_path, resend=True)
    assert resent.sent == 3 and len(mailbox.messages) == 6
    (corrected,) = mailbox.to("zhang.wei@example.com")[1:]
    assert corrected["Subject"].startswith("【更正】")  # resent with new content: marked as the correction it is
    rows = [r for r in deliveries(sqlite_engine) if r.member_id == "M1"]
    assert [(r.content_hash == "0" * 64, r.purpose) for r in rows] == [(True, "correction"), (False, "first")]
    others = [r for r in deliveries(sqlite_engine) if r.member_id != "M1"]
    assert sorted((r.purpose, r.sends) for r in others) == [("resend", 2), ("resend", 2)]  # one row per version


def test_a_changed_report_is_sent_as_a_correction_once(engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    assert delivery.on_changed_content == "send_correction"  # the default: people act on the numbers
    deliver(engine, reviews, delivery, tmp_path)
    first_sent = {r.recipient: r.sent_at for r in deliveries(engine)}
    changed = [replace(i, content_hash="1" * 64) if i.member_id in ("M1", "M3") else i for i in reviews]
    report = deliver(engine, changed, delivery, tmp_path)
    assert (report.sent, report.corrected, report.skipped_already_sent, report.failed) == (2, 2, 1, 0)
    assert "2 sent as corrections" in report.summary()
    assert all(o.corrected and "correction: the report changed since it was sent" in o.detail
               for o in report.with_status("sent"))

    (zh,) = mailbox.to("zhang.wei@example.com")[1:]
    assert zh["Subject"] == "【更正】【业绩周报】2026-W46（11月9日–11月15日） 张伟"
    stamp = f"{first_sent['zhang.wei@example.com']:%Y-%m-%d %H:%M}"
    for body in (zh.get_body(("plain",)).get_content(), zh.get_body(("html",)).get_content()):
        assert "这是更正版本" in body and stamp in body
    (en,) = mailbox.to("olivia.chen@example.com")[1:]
    assert en["Subject"].startswith("[Corrected] Weekly performance review 2026-W46")
    plain = en.get_body(("plain",)).get_content()
    assert plain.startswith("This is a corrected version") and "replaces the one sent on" in plain
    assert "This is a corrected version" in en.get_body(("html",)).get_content()
    assert list(en.iter_attachments())  # the corrected PDF goes with it

    again = deliver(engine, changed, delivery, tmp_path)  # the correction itself is sent once
    assert (again.sent, again.skipped_already_sent) == (0, 3) and len(mailbox.messages) == 5
    rows = deliveries(engine)
    assert len(rows) == 5 and {r.purpose for r in rows if r.content_hash == "1" * 64} == {"correction"}


def test_a_refused_recipient_fails_alone_and_is_retried_next_run(sqlite_engine, reviews, smtp_server, tmp_path):
    mailbox, delivery = smtp_server
    mailbox.refuse.add("olivia.chen@example.com")
    first = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert (first.sent, first.failed) == (2, 1)
    (failed,) = first.with_status("failed")
    assert failed.recipient == "olivia.chen@example.com" and "550" in failed.detail and "refused" in failed.detail
    assert {r.recipient for r in deliveries(sqlite_engine)} == {"zhang.wei@example.com", "daniel.wu@example.com"}

    mailbox.refuse.clear()
    second = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert (second.sent, second.skipped_already_sent, second.failed) == (1, 2, 0)
    assert [m.rcpt_tos for m in mailbox.messages][-1] == ["olivia.chen@example.com"]
    assert len(mailbox.messages) == 3


def test_unreachable_server_fails_every_message_and_records_nothing(sqlite_engine, reviews, tmp_path):
    delivery = Delivery(sender=SENDER, smtp=Smtp(host="127.0.0.1", port=free_port(), security="none",
                                                 timeout_seconds=5))
    report = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert (report.sent, report.failed) == (0, 3)
    assert all("cannot connect" in o.detail for o in report.with_status("failed"))
    assert deliveries(sqlite_engine) == []


@pytest.fixture
def smtp_with_login():
    mailbox = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"reports", b"s3cret-pw")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    with serving(mailbox, authenticator=authenticator, auth_required=True, auth_require_tls=False,
                 auth_exclude_mechanism=["LOGIN"]) as served:
        yield served


def test_login_uses_the_password_from_the_named_environment_variable(sqlite_engine, reviews, smtp_with_login,
                                                                       tmp_path, monkeypatch):
    mailbox, port = smtp_with_login
    delivery = Delivery(sender=SENDER, smtp=Smtp(host="127.0.0.1", port=port, security="none", username="reports",
                                                 password_env="YEJI_TEST_SMTP_PW", timeout_seconds=10))
    monkeypatch.delenv("YEJI_TEST_SMTP_PW", raising=False)
    missing = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert missing.failed == 3 and "YEJI_TEST_SMTP_PW" in str(missing) and not mailbox.messages

    monkeypatch.setenv("YEJI_TEST_SMTP_PW", "wrong-pw")
    wrong = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert wrong.failed == 3 and "refused" in str(wrong) and "wrong-pw" not in str(wrong)

    monkeypatch.setenv("YEJI_TEST_SMTP_PW", "s3cret-pw")
    ok = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert ok.sent == 3 and len(mailbox.messages) == 3
    assert "s3cret-pw" not in str(ok)


def test_login_can_take_the_password_from_a_prefect_secret_block(sqlite_engine, reviews, smtp_with_login, tmp_path,
                                                                 monkeypatch, caplog, prefect_harness):
    from prefect.blocks.system import Secret

    mailbox, port = smtp_with_login
    monkeypatch.delenv("YEJI_SMTP_PASSWORD", raising=False)
    smtp = Smtp(host="127.0.0.1", port=port, security="none", username="reports",
                password_secret_block="yeji-test-smtp-password", timeout_seconds=10)
    missing = deliver(sqlite_engine, reviews, Delivery(sender=SENDER, smtp=smtp), tmp_path)
    assert missing.failed == 3 and "cannot read Prefect Secret block 'yeji-test-smtp-password'" in str(missing)

    Secret(value="s3cret-pw").save("yeji-test-smtp-password", overwrite=True)
    ok = deliver(sqlite_engine, reviews, Delivery(sender=SENDER, smtp=smtp), tmp_path)
    assert ok.sent == 3 and len(mailbox.messages) == 3
    assert "s3cret-pw" not in str(ok) and "s3cret-pw" not in caplog.text


# ----------------------------------------------------------------------------- outbox (.eml files)


def test_outbox_writes_one_eml_per_recipient_once(engine, reviews, tmp_path):
    outbox = tmp_path / "outbox"
    delivery = Delivery(sender=SENDER)
    report = deliver(engine, reviews, delivery, outbox)
    assert report.channel == "outbox" and report.sent == 3
    names = sorted(p.name for p in outbox.iterdir())
    assert names == ["2026-W46_weekly_review_M1.eml", "2026-W46_weekly_review_M3.eml", "2026-W46_weekly_review_M9.eml"]
    raw = (outbox / "2026-W46_weekly_review_M1.eml").read_bytes()
    assert b"\r\n" in raw and all(b < 128 for b in raw)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "zhang.wei@example.com"
    assert list(msg.iter_attachments())[0].get_content().startswith(b"%PDF")
    stamps = {p.name: p.stat().st_mtime_ns for p in outbox.iterdir()}

    again = deliver(engine, reviews, delivery, outbox)
    assert again.sent == 0 and again.skipped_already_sent == 3
    assert {p.name: p.stat().st_mtime_ns for p in outbox.iterdir()} == stamps
    assert {r.location for r in deliveries(engine)} == {str(outbox / n) for n in names}


def test_a_lead_of_two_teams_gets_one_email_with_both_summaries(sqlite_engine, tmp_path):
    teams = f.teams()
    teams.loc[teams["team_id"] == "T2", "lead_member_id"] = "M1"
    items = render_team_summaries(
        f.team_metrics(), f.member_metrics(), f.mix("platform"), f.mix("country"), f.quiet_customers(), f.members(),
        teams, f.WEEK, f.settings(), tmp_path / "pdf", generated_at=f.GENERATED)
    assert [i.recipient_email for i in items] == ["zhang.wei@example.com"] * 2
    report = deliver(sqlite_engine, items, Delivery(sender=SENDER), tmp_path / "outbox")
    assert report.sent == 1
    (eml,) = (tmp_path / "outbox").iterdir()
    assert eml.name == "2026-W46_team_summary_T1+T2.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert sorted(a.get_filename() for a in msg.iter_attachments()) == [
        "团队周报_2026-W46_Global-Online.pdf", "团队周报_2026-W46_华东一组.pdf"]


def test_members_sharing_an_address_are_not_sent_each_others_data(sqlite_engine, reviews, tmp_path):
    shared = [replace(i, recipient_email="sales@example.com") if i.member_id in ("M1", "M3") else i for i in reviews]
    report = deliver(sqlite_engine, shared, Delivery(sender=SENDER), tmp_path)
    (failed,) = report.with_status("failed")
    assert "share the address" in failed.detail and failed.recipient == "sales@example.com"
    assert report.sent == 1  # M9 only
    assert not list(tmp_path.glob("*_M1*.eml")) and not list(tmp_path.glob("*M1+M3*"))


# ----------------------------------------------------------------------------- TLS (STARTTLS and implicit)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for ``localhost``, trusted through SSL_CERT_FILE."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"openssl cannot make a test certificate: {error}")
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_connections(sqlite_engine, reviews, certificate, tmp_path, monkeypatch, security):
    import ssl

    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's default context trusts this certificate only
    tls = {"tls_context": server_context, "require_starttls": True} if security == "starttls" \
        else {"ssl_context": server_context}
    with serving(hostname="localhost", **tls) as (mailbox, port):
        delivery = Delivery(sender=SENDER, smtp=Smtp(host="localhost", port=port, security=security, timeout_seconds=10))
        report = deliver(sqlite_engine, reviews, delivery, tmp_path)
    assert report.sent == 3, str(report)
    assert len(mailbox.messages) == 3
