"""Telling the admins that a run failed: an email to each admin address (through the same
transport as the reports: SMTP, or the .eml outbox) and a message to each Apprise chat URL.

Alerts never raise: a failed alert is returned as a problem (and logged), since the run's
own failure is already recorded in the run log and in Prefect.
"""

from __future__ import annotations

import logging
import os
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from config.models import Alerts, Delivery
from reports.email import sender_address

log = logging.getLogger("yeji.reports.alerts")


def chat_urls(alerts: Alerts) -> list[str]:
    raw = os.environ.get(alerts.chat_urls_env or "", "") if alerts.chat_urls_env else ""
    return [u for u in re.split(r"[\s,]+", raw) if u]


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
    urls = chat_urls(alerts)
    if urls:
        import apprise

        notifier = apprise.Apprise()
        for url in urls:
            if not notifier.add(url):
                problems.append(f"alert chat URL not understood by Apprise: {url.split('://')[0]}://…")
        if len(notifier) and not notifier.notify(title=subject, body=body):
            problems.append("alert to chat: Apprise could not deliver to every URL")
    for problem in problems:
        log.warning(problem)
    return problems
