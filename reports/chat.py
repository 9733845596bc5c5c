"""Team chat: the weekly team summary as a short digest in the team's group chat, through Apprise.

WeCom (企业微信 ``wecombot://``), DingTalk (``dingtalk://``), Feishu/Lark (``feishu://``,
``lark://``), Slack (``slack://``) or any webhook (``json://``, ``form://``): Apprise speaks them
all. A chat URL carries the bot's token, so it lives in an environment variable
(``delivery.team_chat``: team id -> variable name) and never reaches a log line, a run summary or
the outbox: a chat is recorded as ``chat:<team>:<scheme>#<hash of the URL>``, and the log records
of Apprise and of the HTTP library under it pass through :class:`Redact` first.

The digest (:func:`team_digest`) is composed from the team summary's context at render time
(``Rendered.chat_text``): team totals, the top 3 of the leaderboard, the customers at risk. The
delivery step (:func:`reports.delivery.deliver`) adds the PDF's archive location, the late note
and the "corrected" mark, and records each post in the outbox like an email.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from reports import formatting as fmt
from reports.context import ReportContext, TeamSummary
from reports.i18n import country_name, t

log = logging.getLogger("yeji.reports.chat")

CHANNEL = "chat"
REPORT_KIND = "team_chat"  # the outbox's report kind for a team summary posted to chat
TOP = 3
AT_RISK_SHOWN = 5


class ChatError(RuntimeError):
    """A chat post failed; the message never holds the URL or its token."""


# ----------------------------------------------------------------------------- the digest


def _change(summary: TeamSummary, lang: str) -> str:
    change = summary.headline.change
    if change is None or change.direction == "none":
        return ""
    text = fmt.format_change(change, lang)
    return f"（{text}）" if lang == "zh-CN" else f" ({text})"


def team_digest(ctx: ReportContext) -> str:
    """The team summary as chat markdown in the lead's language; "" for any other report."""
    body, lang = ctx.body, ctx.lang
    if not isinstance(body, TeamSummary):
        return ""
    h = body.headline
    out = [f"**{t('chat.title', lang, period=fmt.format_period_short(ctx.doc.period, lang), team=body.team.name)}**", "",
           t("chat.totals", lang, net_revenue=fmt.format_money(h.net_revenue, lang), change=_change(body, lang),
             orders=fmt.format_count(body.orders), members=fmt.format_count(body.members))]
    if h.target is not None:
        out.append(t("chat.attainment", lang, attainment=fmt.format_percent(h.attainment),
                     target=fmt.format_money(h.target, lang)))
    top = [row for row in body.leaderboard if row.active][:TOP]
    if top:
        out += ["", f"**{t('chat.leaderboard', lang)}**"]
        out += [f"{n}. {row.name} {fmt.format_money(row.net_revenue, lang)}" for n, row in enumerate(top, 1)]
    at_risk = len(body.at_risk) + body.at_risk_more
    out.append("")
    if not at_risk:
        out.append(t("chat.at_risk_none", lang))
    else:
        out.append(f"**{t('chat.at_risk', lang, count=fmt.format_count(at_risk))}**")
        for row in body.at_risk[:AT_RISK_SHOWN]:
            bits = [row.name, country_name(row.country, lang) if row.country else ""]
            if row.days_quiet is not None:
                bits.append(t("chat.days_quiet", lang, days=row.days_quiet))
            if row.owner:
                bits.append(row.owner)
            out.append("- " + " · ".join(b for b in bits if b))
        hidden = at_risk - min(len(body.at_risk), AT_RISK_SHOWN)
        if hidden > 0:
            out.append(t("common.more_rows", lang, count=hidden))
    return "\n".join(out)


# ----------------------------------------------------------------------------- URLs and secrets


def team_urls(env: str) -> list[str]:
    """The Apprise URLs in environment variable ``env`` (space- or comma-separated)."""
    return [u for u in re.split(r"[\s,]+", os.environ.get(env, "")) if u]


def chat_recipient(team_id: str, url: str) -> str:
    """How the outbox names a chat: team, scheme and a short hash of the URL (never its token)."""
    return f"chat:{team_id}:{scheme(url)}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def secrets_of(url: str) -> set[str]:
    """The parts of an Apprise URL that may be a token: user, password, host, path segments and
    query values (of 6 characters or more), raw and unquoted, and the URL itself."""
    found = {url}
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    pieces = [parts.username, parts.password, parts.hostname, *parts.path.split("/")]
    pieces += [v for _, v in parse_qsl(parts.query)]
    for piece in pieces:
        if piece and len(piece) >= 6:
            found |= {piece, unquote(piece)}
    return found


def redact(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# Loggers that write a chat URL or its request line (with the token in path or query) at DEBUG.
LEAKY_LOGGERS = ("apprise", "urllib3.connectionpool", "requests")


class Redact(logging.Filter):
    """Removes a chat URL's token from the records of :data:`LEAKY_LOGGERS` while it is posted."""

    def __init__(self, secrets: set[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


# ----------------------------------------------------------------------------- posting


def post(url: str, title: str, body: str) -> str:
    """Post one message to one Apprise URL; returns where it went (``apprise:<scheme>``).
    Raises :class:`ChatError` (naming the scheme only) when Apprise refuses the URL or the post."""
    import apprise

    secrets = secrets_of(url)
    guard = Redact(secrets)
    for name in LEAKY_LOGGERS:
        logging.getLogger(name).addFilter(guard)
    try:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise ChatError(f"chat URL not understood by Apprise: {scheme(url)}://…")
        try:
            ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN)
        except Exception as error:  # noqa: BLE001 - a plugin's own failure, reported without the URL
            raise ChatError(redact(f"{scheme(url)}:// post failed: {type(error).__name__}: {error}", secrets)) from None
        if not ok:
            raise ChatError(f"{scheme(url)}:// did not accept the post (see the apprise log for its answer)")
    finally:
        for name in LEAKY_LOGGERS:
            logging.getLogger(name).removeFilter(guard)
    return f"apprise:{scheme(url)}"
