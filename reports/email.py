"""Email composition: subject, a short summary body (HTML + plain text), the PDF attached.

The body of a member's email is built from that member's own report context
only, so it can hold nothing about anybody else. :func:`build_message` turns one
or more :class:`~reports.render.Rendered` items for the same recipient into one
RFC 5322 message: ``multipart/mixed`` holding ``multipart/alternative`` (text,
HTML) and the PDF(s), with UTF-8 subject, display name and attachment file name
encoded as the standards say (RFC 2047 / RFC 2231).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import TYPE_CHECKING, Sequence

from config.models import Settings
from reports import formatting as fmt
from reports.context import CommissionStatement, FinanceSummary, ReportContext, TeamSummary, WeeklyReview
from reports.i18n import t
from reports.templating import render_template
from transforms.periods import parse_period

if TYPE_CHECKING:  # pragma: no cover
    from reports.render import Rendered


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    note: str = ""  # e.g. "▲ 12.3%"
    tone: str = "neutral"  # good | bad | neutral: colour of the note


@dataclass(frozen=True)
class Digest:
    lang: str
    title: str
    greeting: str
    intro: str
    lines: tuple[Line, ...]
    closing: str
    signature: str
    attachment: str


def _who(ctx: ReportContext) -> str:
    return ctx.doc.subject


def subject_for(ctx: ReportContext) -> str:
    lang, doc = ctx.lang, ctx.doc
    return t(f"email.subject.{ctx.kind}", lang, period=fmt.format_period_short(doc.period, lang),
             name=doc.subject, team=doc.subject)


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def attachment_filename(ctx: ReportContext) -> str:
    """``业绩周报_2026-W46_张伟.pdf`` / ``weekly-review_2026-W46_Zhang-Wei.pdf``."""
    lang = ctx.lang
    parts = [t(f"file.{ctx.kind}", lang), ctx.doc.period.label]
    if ctx.kind != "finance_summary":
        parts.append(ctx.doc.subject)
    name = "_".join(_UNSAFE.sub("-", p).strip() for p in parts if p)
    name = re.sub(r"\s+", "-", name)
    return name[:120] + ".pdf"


def _money_line(label_key: str, money, lang: str, change=None) -> Line:
    note, tone = "", "neutral"
    if change is not None and change.direction != "none":
        note, tone = fmt.format_change(change, lang), change.tone
    return Line(t(label_key, lang), fmt.format_money(money, lang), note, tone)


def digest_for(ctx: ReportContext, settings: Settings) -> Digest:
    lang, body, doc = ctx.lang, ctx.body, ctx.doc
    period_text = fmt.format_period(doc.period, lang)
    lines: list[Line] = []
    if isinstance(body, WeeklyReview):
        h = body.headline
        lines.append(_money_line("kpi.net_revenue", h.net_revenue, lang, h.change))
        if h.target is not None:
            lines.append(Line(t("kpi.attainment", lang), fmt.format_percent(h.attainment),
                              f"{t('kpi.target', lang)} {fmt.format_money(h.target, lang)}"))
        lines.append(Line(t("kpi.orders", lang), fmt.format_count(body.orders)))
        if h.rank is not None and h.team_size:
            lines.append(Line(t("kpi.rank_in_team", lang), t("kpi.rank_value", lang, rank=h.rank, size=h.team_size)))
        if body.top_customer is not None:
            lines.append(Line(t("email.top_customer", lang), body.top_customer.name,
                              fmt.format_money(body.top_customer.net_revenue, lang)))
        if body.quiet_total:
            lines.append(Line(t("email.quiet_count", lang), fmt.format_count(body.quiet_total)))
        if body.commission is not None:
            lines.append(Line(t("review.commission_total", lang), fmt.format_money(body.commission.total, lang)))
        intro = t("email.intro.weekly_review", lang, period=period_text)
    elif isinstance(body, TeamSummary):
        h = body.headline
        lines.append(_money_line("kpi.net_revenue", h.net_revenue, lang, h.change))
        if h.target is not None:
            lines.append(Line(t("kpi.attainment", lang), fmt.format_percent(h.attainment),
                              f"{t('kpi.target', lang)} {fmt.format_money(h.target, lang)}"))
        lines.append(Line(t("kpi.orders", lang), fmt.format_count(body.orders)))
        lines.append(Line(t("kpi.members", lang), fmt.format_count(body.members)))
        if body.leaderboard:
            top = body.leaderboard[0]
            lines.append(Line(t("email.leader", lang), top.name, fmt.format_money(top.net_revenue, lang)))
        lines.append(Line(t("email.quiet_count", lang), fmt.format_count(len(body.at_risk) + body.at_risk_more)))
        intro = t("email.intro.team_summary", lang, team=body.team.name, period=period_text)
    elif isinstance(body, CommissionStatement):
        plan = body.plan.name or t("statement.no_plan", lang)
        lines.append(Line(t("statement.plan", lang), plan))
        lines.append(Line(t("statement.base_total", lang), fmt.format_money(body.base_total, lang)))
        lines.append(Line(t("statement.commission_total", lang), fmt.format_money(body.amount_total, lang)))
        lines.append(Line(t("statement.line_count", lang), fmt.format_count(len(body.lines))))
        intro = t("email.intro.commission_statement", lang, period=period_text)
    elif isinstance(body, FinanceSummary):
        for group in body.groups:
            lines.append(Line(f"{t('finance.commission', lang)} {group.currency}", fmt.format_money(group.amount_total, lang),
                              t("finance.members_count", lang, count=len(group.rows))))
        lines.append(Line(t("finance.no_plan", lang), fmt.format_count(len(body.members_without_plan))))
        intro = t("email.intro.finance_summary", lang, period=period_text)
    else:  # pragma: no cover - a new report kind must add its digest here
        raise TypeError(f"no email digest for {type(body).__name__}")
    name = ctx.audience.name
    greeting = t("email.greeting", lang, name=name) if name else t("email.greeting_anonymous", lang)
    return Digest(
        lang=lang, title=subject_for(ctx), greeting=greeting, intro=intro, lines=tuple(lines),
        closing=t("email.closing", lang), signature=t("email.signature", lang, company=doc.company),
        attachment=attachment_filename(ctx),
    )


def html_body(digest: Digest) -> str:
    return render_template("email/body.html", d=digest, lang=digest.lang)


def text_body(digest: Digest) -> str:
    sep = "：" if digest.lang == "zh-CN" else ": "
    out = [digest.greeting, "", digest.intro, ""]
    for line in digest.lines:
        text = f"  · {line.label}{sep}{line.value}"
        if line.note:
            text += f"（{line.note}）" if digest.lang == "zh-CN" else f" ({line.note})"
        out.append(text)
    out += ["", t("email.attachment_line", digest.lang, name=digest.attachment), "", digest.closing, "", "-- ",
            digest.signature, ""]
    return "\n".join(out)


def compose_bodies(ctx: ReportContext, settings: Settings) -> tuple[str, str, str]:
    """(subject, html body, text body) for one report context."""
    digest = digest_for(ctx, settings)
    return digest.title, html_body(digest), text_body(digest)


# ----------------------------------------------------------------------------- MIME


def sender_address(sender: str) -> str:
    """The bare address of ``Yeji <reports@yeji.local>`` (for the SMTP envelope)."""
    pairs = getaddresses([sender])
    if not pairs or "@" not in pairs[0][1]:
        raise ValueError(f"delivery.sender {sender!r} holds no email address")
    return pairs[0][1]


def new_message_id(sender: str) -> str:
    """A fresh Message-ID in the sender's domain (chosen before the send, kept in the outbox)."""
    return make_msgid(domain=sender_address(sender).rpartition("@")[2] or None)


_BODY = re.compile(r"<!--yeji:body-->(.*?)<!--/yeji:body-->", re.S)


def _merge_html(documents: list[str]) -> str:
    """Several summary bodies in one HTML document (one shell, the bodies one after another)."""
    parts = [m.group(1) if (m := _BODY.search(d)) else d for d in documents]
    shell = documents[0]
    match = _BODY.search(shell)
    if not match:
        return "<hr>".join(documents)
    merged = '<hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0">'.join(parts)
    return shell[: match.start(1)] + merged + shell[match.end(1):]


# ----------------------------------------------------------------------------- delivery notices


@dataclass(frozen=True)
class LateNote:
    """A run that started after its staleness limit and still sends (``when_stale: send_with_note``):
    when the reports were due and when they actually went out, both in the team's timezone."""

    due: datetime
    sent: datetime


def late_notice(note: LateNote, period_label: str, lang: str) -> str:
    """"this review for 2026-W46 (9–15 Nov) is late: due …, sent …" in the recipient's language."""
    return t("email.late_note", lang, period=fmt.format_period_short(parse_period(period_label), lang),
             due=fmt.format_datetime(note.due, lang), sent=fmt.format_datetime(note.sent, lang))


def correction_notice(previous_sent_at: datetime, lang: str) -> str:
    """The report changed since ``previous_sent_at`` (naive UTC, from the outbox)."""
    return t("email.corrected_note", lang, sent=fmt.format_datetime(previous_sent_at.replace(tzinfo=timezone.utc), lang))


def corrected_subject(subject: str, lang: str) -> str:
    return t("email.corrected_subject", lang, subject=subject)


def _with_notices(text_body: str, html_body: str, notices: Sequence[str]) -> tuple[str, str]:
    """Notices go first, above the greeting, in both bodies: a reader sees them before the figures."""
    if not notices:
        return text_body, html_body
    text_body = "".join(f"{n}\n\n" for n in notices) + text_body
    block = "".join(f'<p style="margin:0 0 12px;padding:10px 12px;background:#fff7e6;border:1px solid #f0c36d;'
                    f'border-radius:4px;color:#7a4b00;font-weight:bold;">{html.escape(n)}</p>' for n in notices)
    marker = "<!--yeji:body-->"
    if marker in html_body:
        html_body = html_body.replace(marker, marker + block, 1)
    else:
        html_body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + block, html_body, count=1) if "<body" in html_body \
            else block + html_body
    return text_body, html_body


def build_message(items: Sequence["Rendered"], sender: str, links: dict | None = None, *,
                  notices: Sequence[str] = (), corrected: bool = False, message_id: str | None = None) -> EmailMessage:
    """One message to one recipient carrying one or more reports (same kind and period).
    A report whose PDF is in ``links`` (too large to attach) is not attached: the message
    names where it is archived instead. ``notices`` (already in the recipient's language: late,
    corrected) head both bodies; ``corrected`` marks the subject; ``message_id`` is the one
    chosen before an earlier attempt, so a retry is the same message to the mail client."""
    if not items:
        raise ValueError("no report to send")
    first = items[0]
    recipients = {(i.recipient_email or "").strip().lower() for i in items}
    if len(recipients) != 1 or not first.recipient_email:
        raise ValueError(f"one message goes to one recipient, got {sorted(recipients)}")
    msg = EmailMessage()
    subjects = list(dict.fromkeys(i.subject for i in items))
    subject = subjects[0] if len(subjects) == 1 else f"{subjects[0]} (+{len(subjects) - 1})"
    msg["Subject"] = corrected_subject(subject, first.language) if corrected else subject
    msg["From"] = sender
    local, _, domain = first.recipient_email.strip().rpartition("@")
    msg["To"] = Address(display_name=first.recipient_name or "", username=local, domain=domain)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or new_message_id(sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Yeji-Report"] = f"{first.report_kind}; period={first.period}"
    text_body = first.text_body if len(items) == 1 else "\n\n".join(i.text_body for i in items)
    html_body = first.html_body if len(items) == 1 else _merge_html([i.html_body for i in items])
    text_body, html_body = _with_notices(text_body, html_body, notices)
    links = links or {}
    notes = [f"{i.attachment_filename}: too large to attach; archived at {links[i.pdf_path]}"
             for i in items if i.pdf_path in links]
    if notes:
        text_body += "\n\n" + "\n".join(notes)
        extra = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        html_body = html_body.replace("</body>", extra + "</body>", 1) if "</body>" in html_body else html_body + extra
    msg.set_content(text_body)
    msg.add_alternative(html_body, subtype="html")
    for item in items:
        if item.pdf_path in links:
            continue
        msg.add_attachment(item.pdf_path.read_bytes(), maintype="application", subtype="pdf",
                           filename=item.attachment_filename)
    return msg
