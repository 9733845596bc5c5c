"""Telling the admins that a run failed: an email to each admin address (through the same
transport as the reports: SMTP, or the .eml outbox) and a message to each Apprise chat URL
(posted by :func:`reports.chat.post`, which keeps the URLs' tokens out of every log and message).

Alerts never raise: a failed alert is returned as a problem (and logged), since the run's
own failure is already recorded in the run log and in Prefect.
"""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from config.models import Alerts, Delivery
from reports import chat
from reports.email import sender_address

log = logging.getLogger("yeji.reports.alerts")


def chat_urls(alerts: Alerts) -> list[str]:
    return chat.team_urls(alerts.chat_urls_env) if alerts.chat_urls_env else []


def alert_admins(alerts: Alerts, delivery: Delivery, outbox_dir: Path, subject: str, body: str) -> list[str]:
    """Send the alert everywhere configured; returns the problems (empty when all went out)."""
    from reports.delivery import OutboxTransport, SmtpTransport

    problems: list[str] = []
    if alerts.admin_emails:
        transport = SmtpTransport(delivery.smtp) if delivery.smtp else OutboxTransport(Path(outbox_dir))
        try:
            for n, address in enumerate(alerts.admin_emails):
                msg = EmailMessage()
                msg["Subject"], msg["From"], msg["To"] = subject, delivery.sender, address
                msg["Date"] = formatdate(localtime=True)
                msg["Message-ID"] = make_msgid(domain=sender_address(delivery.sender).rpartition("@")[2] or None)
                msg["Auto-Submitted"] = "auto-generated"
                msg.set_content(body)
                try:
                    transport.send(msg, name=f"alert_{re.sub(r'[^A-Za-z0-9]+', '_', subject)[:80]}_{n}",
                                   envelope_from=sender_address(delivery.sender), recipient=address)
                except Exception as exc:  # noqa: BLE001 - reported, never raised
                    problems.append(f"alert to {address}: {type(exc).__name__}: {exc}")
        finally:
            transport.close()
    for url in chat_urls(alerts):  # each URL on its own: one dead chat does not silence the others
        try:
            chat.post(url, subject, body)
        except chat.ChatError as exc:
            problems.append(f"alert to chat: {exc}")
    for problem in problems:
        log.warning(problem)
    return problems
