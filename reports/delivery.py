"""Sending rendered reports: SMTP or ``.eml`` files (and team chat), exactly once per version.

:func:`deliver` groups the :class:`~reports.render.Rendered` items by recipient
(one email per recipient: a team lead of two teams gets one email with both
PDFs), asks the ``deliveries`` outbox what each recipient already has, and sends
only what they do not: nothing twice for the same (kind, period, recipient,
content version). A report that changed since it was sent (data corrected) is sent
again marked "corrected", or only flagged, per ``delivery.on_changed_content``;
``resend`` sends again on purpose and says so.

Each message is recorded as an attempt (with its Message-ID) before it leaves and
as sent once the server accepted it, each in its own transaction
(:mod:`warehouse.outbox`): a crash before the send loses nothing, a crash after it
resends the same Message-ID. A failure affects only its own message, except a
server that is gone (cannot connect, 421, a timeout): the rest of the batch is then
not attempted, reported, and sent by the next run. The SMTP password is read from
the environment variable named in the config and is never logged or reported.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from config.models import Delivery, Smtp
from config.secrets import secret_block_value
from reports.context import MEMBER_SCOPED, safe_name
from reports import chat
from reports.email import (LateNote, build_message, correction_notice, corrected_subject, late_notice,
                           sender_address)
from reports.i18n import t
from reports.render import Rendered
from warehouse import outbox

log = logging.getLogger("yeji.reports.delivery")

SENT = "sent"
SKIPPED_ALREADY_SENT = "skipped_already_sent"
SKIPPED_NO_RECIPIENT = "skipped_no_recipient"
FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | skipped_already_sent | skipped_no_recipient | failed
    report_kind: str
    period: str
    recipient: str | None
    member_id: str | None
    team_id: str | None
    detail: str = ""
    changed_since_sent: bool = False  # already sent, but the report's content differs now
    location: str | None = None  # .eml path or SMTP Message-ID
    pdf_paths: tuple[Path, ...] = ()
    linked_not_attached: bool = False  # over the size limit: the mail carried the archive location instead
    corrected: bool = False  # sent as a correction of an earlier, different version


@dataclass(frozen=True)
class DeliveryReport:
    channel: str  # smtp | outbox
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def _count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def sent(self) -> int:
        return self._count(SENT)

    @property
    def skipped_already_sent(self) -> int:
        return self._count(SKIPPED_ALREADY_SENT)

    @property
    def skipped_no_recipient(self) -> int:
        return self._count(SKIPPED_NO_RECIPIENT)

    @property
    def failed(self) -> int:
        return self._count(FAILED)

    @property
    def changed_since_sent(self) -> int:
        return sum(1 for o in self.outcomes if o.changed_since_sent)

    @property
    def corrected(self) -> int:
        return sum(1 for o in self.outcomes if o.corrected)

    @property
    def linked_not_attached(self) -> int:
        return sum(1 for o in self.outcomes if o.linked_not_attached)

    def with_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def summary(self) -> str:
        text = (f"{self.channel}: {self.sent} sent, {self.skipped_already_sent} already sent, "
                f"{self.skipped_no_recipient} without recipient, {self.failed} failed")
        if self.changed_since_sent:
            text += f" ({self.changed_since_sent} changed since sent; not resent)"
        if self.corrected:
            text += f" ({self.corrected} sent as corrections: the report changed since it was sent)"
        if self.linked_not_attached:
            text += f" ({self.linked_not_attached} too large to attach: sent the archive location instead)"
        return text

    def __str__(self) -> str:
        lines = [self.summary()]
        for o in self.outcomes:
            if o.status != SENT or o.detail:
                who = o.recipient or o.member_id or o.team_id or "?"
                lines.append(f"  {o.status:22s} {o.report_kind} {o.period} {who}: {o.detail}")
        return "\n".join(lines)


class DeliveryError(RuntimeError):
    """The transport cannot work at all (cannot connect, log in, or write the outbox), or the
    server went away mid-batch (421, a timeout): the rest of the batch waits for the next run."""


class Transport(Protocol):
    channel: str

    def send(self, message: EmailMessage, *, name: str, envelope_from: str, recipient: str) -> str: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message as ``<outbox_dir>/<name>.eml`` (RFC 5322, CRLF), atomically."""

    channel = "outbox"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage, *, name: str, envelope_from: str, recipient: str) -> str:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DeliveryError(f"cannot create outbox folder {self.directory}: {error}") from error
        target = self.directory / f"{name}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes(policy=policy.SMTP))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(target)

    def close(self) -> None:
        pass


class SmtpTransport:
    """One SMTP connection for the batch, opened on first use and reopened after a drop."""

    channel = "smtp"

    def __init__(self, smtp: Smtp):
        self.config = smtp
        self._conn: smtplib.SMTP | None = None

    def _password(self) -> str | None:
        if not self.config.username:
            return None
        if self.config.password_secret_block:
            try:
                return secret_block_value(self.config.password_secret_block, f"the SMTP password of {self.config.username!r}")
            except LookupError as exc:
                raise DeliveryError(str(exc)) from None
        env = self.config.password_env
        if not env or not os.environ.get(env):
            raise DeliveryError(
                f"SMTP username {self.config.username!r} is set but the environment variable "
                f"{env or '(password_env not configured)'} holding its password is not set")
        return os.environ[env]

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        password = self._password()
        try:
            if cfg.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                                      context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
                conn.ehlo()
                if cfg.security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
                    conn.ehlo()
            if cfg.username:
                conn.login(cfg.username, password)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"SMTP login as {cfg.username!r} at {cfg.host}:{cfg.port} refused: "
                                f"{error.smtp_code} {_decode(error.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"cannot connect to SMTP {cfg.host}:{cfg.port} ({cfg.security}): {error}") from None
        return conn

    def send(self, message: EmailMessage, *, name: str, envelope_from: str, recipient: str) -> str:
        if self._conn is None:
            self._conn = self._connect()
        try:
            self._conn.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused:
            raise  # smtplib reset the transaction: the connection is still in step
        except (smtplib.SMTPException, OSError) as error:
            # Any other failure may leave the conversation out of step (a reply still to come):
            # the connection is never used again.
            self._drop()
            cfg = self.config
            if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
                # (smtplib turns a timed-out reply into SMTPServerDisconnected; the timeout is its context)
                raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} did not answer within {cfg.timeout_seconds:g} s; "
                                    "whether it kept this message is unknown (a retry reuses its Message-ID)") from None
            if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421:
                raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} stopped accepting mail: "
                                    f"{error.smtp_code} {_decode(error.smtp_error)}") from None
            raise
        return str(message["Message-ID"])

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None


def _decode(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"recipient {addr} refused: {code} {_decode(msg)}" for addr, (code, msg) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code} {_decode(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def _message_name(items: Sequence[Rendered], recipient: str) -> str:
    first = items[0]
    if first.report_kind == "finance_summary":
        subject = safe_name(recipient)
    else:
        subject = "+".join(sorted({safe_name(i.member_id or i.team_id or recipient) for i in items}))
    return f"{first.period}_{first.report_kind}_{subject}"


def _usable_pdf(path: Path) -> bool:
    """A PDF worth sending: present, not empty, and a PDF (a failed render leaves none of these)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(5) == b"%PDF-"
    except OSError:
        return False


def _group_hash(items: Sequence[Rendered]) -> str:
    hashes = sorted({i.content_hash for i in items})
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Decision:
    """What to do with one (kind, period, recipient) given what its outbox history says."""

    send: bool
    purpose: str = outbox.FIRST  # first | correction | resend
    previous: outbox.SentDelivery | None = None  # the version the recipient has
    retry_of: outbox.SentDelivery | None = None  # this version's unfinished earlier attempt
    detail: str = ""
    changed: bool = False  # the recipient has an older version


def decide(history: outbox.History | None, content_hash: str, *, resend: bool, on_changed_content: str) -> Decision:
    """Exactly once per content version: the recipient's version is not sent again (unless
    ``resend``); a newer version is a correction, sent or only flagged per ``on_changed_content``."""
    previous = history.latest_sent if history else None
    retry_of = history.attempt(content_hash) if history else None
    if previous is None:
        detail = ("an earlier run stopped while sending this (whether it arrived is unknown): sent again with the "
                  "same Message-ID, so a mail client shows it once" if retry_of and retry_of.status == outbox.SENDING
                  else "")
        return Decision(True, outbox.FIRST, None, retry_of, detail)
    changed = previous.content_hash != content_hash
    sent = f"sent {previous.sent_at:%Y-%m-%d %H:%M} UTC via {previous.channel}"
    if resend:
        return Decision(True, outbox.CORRECTION if changed else outbox.RESEND, previous, retry_of,
                        "resent on purpose (--resend)" + ("; marked corrected: the report changed since it was "
                                                          f"{sent}" if changed else ""), changed)
    if not changed:
        return Decision(False, previous=previous, detail=sent)
    if on_changed_content == "send_correction":
        return Decision(True, outbox.CORRECTION, previous, retry_of,
                        f"correction: the report changed since it was {sent}", True)
    return Decision(False, previous=previous, changed=True,
                    detail=f"{sent}; the report changed since then (not resent: delivery.on_changed_content is "
                           "flag; use resend to send it again)")


def deliver(
    engine: Engine,
    rendered: Sequence[Rendered],
    delivery: Delivery,
    outbox_dir: Path,
    *,
    resend: bool = False,
    transport: Transport | None = None,
    archived: dict[Path, str] | None = None,
    late: LateNote | None = None,
) -> DeliveryReport:
    """Send each recipient's report(s) once; see the module docstring. ``transport`` overrides
    the one chosen from ``delivery`` (SMTP when ``delivery.smtp`` is set, else ``outbox_dir``).

    A report whose PDF is missing, empty or not a PDF is never sent (failed). When a message's
    PDFs exceed ``delivery.max_attachment_bytes`` it carries their locations in ``archived``
    ({PDF path: archive URL}) instead, and its outcome says so; without an archived copy it
    is not sent (failed), never sent without its report. ``late`` (a stale run that still
    sends) puts a note at the top of every message. Team summaries are also posted to the
    team chats of ``delivery.team_chat`` (:mod:`reports.chat`), recorded the same way."""
    archived = archived or {}
    transport = transport or (SmtpTransport(delivery.smtp) if delivery.smtp else OutboxTransport(Path(outbox_dir)))
    envelope_from = sender_address(delivery.sender)
    outcomes: list[Outcome] = []
    groups: dict[tuple[str, str, str], list[Rendered]] = {}
    for item in rendered:
        key = item.delivery_key
        if key is None:
            outcomes.append(Outcome(SKIPPED_NO_RECIPIENT, item.report_kind, item.period, None, item.member_id,
                                    item.team_id, item.no_recipient_reason or "no recipient address",
                                    pdf_paths=(item.pdf_path,)))
            log.info("%s %s %s: not sent, %s", item.report_kind, item.period, item.member_id or item.team_id or "",
                     item.no_recipient_reason or "no recipient address")
            continue
        group = groups.setdefault(key, [])
        if not any(g.pdf_path == item.pdf_path and g.content_hash == item.content_hash for g in group):
            group.append(item)
    history = outbox.histories(engine, groups.keys())
    broken: str | None = None

    def outcome(status: str, key, items: Sequence[Rendered], detail: str = "", **extra) -> Outcome:
        member_ids = sorted({i.member_id for i in items if i.member_id})
        team_ids = sorted({i.team_id for i in items if i.team_id})
        result = Outcome(status, key[0], key[1], items[0].recipient_email, ",".join(member_ids) or None,
                         ",".join(team_ids) or None, detail, pdf_paths=tuple(i.pdf_path for i in items), **extra)
        outcomes.append(result)
        level = logging.WARNING if status == FAILED else logging.INFO
        log.log(level, "%s %s -> %s: %s%s", key[0], key[1], key[2], status, f" ({detail})" if detail else "")
        return result

    try:
        for key, items in groups.items():
            kind, period, recipient = key
            content_hash = _group_hash(items)
            members = {i.member_id for i in items}
            if kind in MEMBER_SCOPED and len(members) > 1:
                outcome(FAILED, key, items, f"members {', '.join(sorted(m or '?' for m in members))} share the address "
                        f"{recipient}; a {kind} carries one member's data only, so none was sent")
                continue
            decision = decide(history.get(key), content_hash, resend=resend,
                              on_changed_content=delivery.on_changed_content)
            if not decision.send:
                outcome(SKIPPED_ALREADY_SENT, key, items, decision.detail, changed_since_sent=decision.changed,
                        location=decision.previous.location if decision.previous else None)
                continue
            unusable = [i for i in items if not _usable_pdf(i.pdf_path)]
            if unusable:
                outcome(FAILED, key, items, "not sent: the PDF is missing or empty (rendering failed?): "
                        + ", ".join(str(i.pdf_path) for i in unusable))
                continue
            links: dict[Path, str] = {}
            note = ""
            size = sum(i.pdf_path.stat().st_size for i in items)
            limit = delivery.max_attachment_bytes
            if limit is not None and size > limit:
                if any(i.pdf_path not in archived for i in items):
                    outcome(FAILED, key, items, f"not sent: the PDF(s) ({size:,} bytes) exceed the {limit:,}-byte "
                            "attachment limit and no archived copy exists to link to (configure delivery.archive)")
                    continue
                links = {i.pdf_path: archived[i.pdf_path] for i in items}
                note = (f"PDF(s) of {size:,} bytes over the {limit:,}-byte attachment limit: the mail carries the "
                        f"archive location instead ({', '.join(links.values())})")
            if broken is not None:
                outcome(FAILED, key, items, f"not attempted: {broken}")
                continue
            member_id = items[0].member_id if len(members) == 1 else None
            record = dict(report_kind=kind, period=period, recipient=recipient, member_id=member_id,
                          content_hash=content_hash, channel=transport.channel, purpose=decision.purpose)
            try:
                message = _compose(items, delivery.sender, links, decision, late)
                name = _message_name(items, recipient)
                intended = message["Message-ID"] if transport.channel == "smtp" else str(Path(outbox_dir) / f"{name}.eml")
                outbox.record_attempt(engine, location=intended, at=_utc_now(), **record)
                location = transport.send(message, name=name, envelope_from=envelope_from,
                                          recipient=items[0].recipient_email.strip())
            except SQLAlchemyError as error:
                outcome(FAILED, key, items, f"not sent: the outbox cannot record the attempt: {type(error).__name__}")
                continue
            except DeliveryError as error:
                broken = str(error)
                _attempt_failed(engine, record)
                outcome(FAILED, key, items, broken)
                continue
            except (smtplib.SMTPException, OSError, ValueError) as error:
                _attempt_failed(engine, record)
                outcome(FAILED, key, items, _describe(error))
                continue
            try:
                outbox.record_sent(engine, location=location, sent_at=_utc_now(), **record)
            except SQLAlchemyError as error:
                outcome(FAILED, key, items, f"sent ({location}) but not recorded: the next run sends it again with "
                        f"the same Message-ID: {type(error).__name__}: {error}", location=location)
                continue
            detail = "; ".join(d for d in (decision.detail, note) if d)
            outcome(SENT, key, items, detail, location=location, linked_not_attached=bool(links),
                    corrected=decision.purpose == outbox.CORRECTION)
    finally:
        transport.close()
    outcomes += deliver_chat(engine, rendered, delivery, resend=resend, archived=archived, late=late)
    return DeliveryReport(transport.channel, tuple(outcomes))


def _compose(items: Sequence[Rendered], sender: str, links: dict, decision: Decision, late: LateNote | None):
    """The message, with its notices in the recipient's language and, on a retry, the Message-ID
    the earlier attempt used."""
    lang = items[0].language
    notices = []
    if late is not None:
        notices.append(late_notice(late, items[0].period, lang))
    corrected = decision.purpose == outbox.CORRECTION
    if corrected and decision.previous is not None:
        notices.append(correction_notice(decision.previous.sent_at, lang))
    retry = decision.retry_of
    message_id = retry.location if retry is not None and retry.channel == "smtp" and retry.location else None
    return build_message(items, sender, links, notices=notices, corrected=corrected, message_id=message_id)


def _attempt_failed(engine: Engine, record: dict) -> None:
    try:
        outbox.record_failed(engine, report_kind=record["report_kind"], period=record["period"],
                             recipient=record["recipient"], content_hash=record["content_hash"])
    except SQLAlchemyError as error:  # the row stays "sending": the retry says so, nothing is lost
        log.warning("could not mark a failed attempt in the outbox: %s", type(error).__name__)


# ----------------------------------------------------------------------------- team chat


def deliver_chat(engine: Engine, rendered: Sequence[Rendered], delivery: Delivery, *, resend: bool = False,
                 archived: dict[Path, str] | None = None, late: LateNote | None = None) -> list[Outcome]:
    """Post each team summary's digest to its team's chats (``delivery.team_chat``), once per
    (team chat, period, content version), with the PDF's archive location."""
    archived = archived or {}
    posts: dict[tuple[str, str, str], tuple[Rendered, str]] = {}
    outcomes: list[Outcome] = []
    for item in rendered:
        env = delivery.team_chat.get(item.team_id or "")
        if item.report_kind != "team_summary" or not item.chat_text or env is None:
            continue
        urls = chat.team_urls(env)
        if not urls:
            outcomes.append(Outcome(FAILED, chat.REPORT_KIND, item.period, f"chat:{item.team_id}", None, item.team_id,
                                    f"team chat not posted: the environment variable {env} holds no chat URL"))
            continue
        for url in urls:
            posts[(chat.REPORT_KIND, item.period, chat.chat_recipient(item.team_id, url))] = (item, url)
    history = outbox.histories(engine, posts.keys())
    for key, (item, url) in posts.items():
        kind, period, recipient = key
        decision = decide(history.get(key), item.content_hash, resend=resend,
                          on_changed_content=delivery.on_changed_content)
        if not decision.send:
            outcomes.append(Outcome(SKIPPED_ALREADY_SENT, kind, period, recipient, None, item.team_id, decision.detail,
                                    changed_since_sent=decision.changed))
            continue
        title, body = _chat_message(item, decision, late, archived)
        record = dict(report_kind=kind, period=period, recipient=recipient, member_id=None,
                      content_hash=item.content_hash, channel=chat.CHANNEL, purpose=decision.purpose)
        try:
            outbox.record_attempt(engine, location=f"apprise:{chat.scheme(url)}", at=_utc_now(), **record)
            location = chat.post(url, title, body)
            outbox.record_sent(engine, location=location, sent_at=_utc_now(), **record)
        except chat.ChatError as error:
            _attempt_failed(engine, record)
            outcomes.append(Outcome(FAILED, kind, period, recipient, None, item.team_id, str(error)))
            log.warning("%s %s -> %s: failed (%s)", kind, period, recipient, error)
            continue
        except SQLAlchemyError as error:
            outcomes.append(Outcome(FAILED, kind, period, recipient, None, item.team_id,
                                    f"the outbox cannot record the chat post: {type(error).__name__}"))
            continue
        outcomes.append(Outcome(SENT, kind, period, recipient, None, item.team_id, decision.detail, location=location,
                                corrected=decision.purpose == outbox.CORRECTION))
        log.info("%s %s -> %s: sent", kind, period, recipient)
    return outcomes


def _chat_message(item: Rendered, decision: Decision, late: LateNote | None, archived: dict[Path, str]) -> tuple[str, str]:
    lang = item.language
    lines = []
    if late is not None:
        lines += [late_notice(late, item.period, lang), ""]
    if decision.purpose == outbox.CORRECTION and decision.previous is not None:
        lines += [correction_notice(decision.previous.sent_at, lang), ""]
    lines.append(item.chat_text)
    lines += ["", t("chat.pdf", lang, location=archived.get(item.pdf_path, str(item.pdf_path)))]
    title = item.subject
    if decision.purpose == outbox.CORRECTION:
        title = corrected_subject(title, lang)
    return title, "\n".join(lines)
