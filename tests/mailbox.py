"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd), shared by every delivery test.

:class:`Mailbox` keeps each accepted message and can misbehave on purpose, the way real mail
servers do: refuse chosen recipients (550), accept ``accept_then`` messages and then answer 421
(the server is going away) or stall past the client's timeout on every later one, or hold every
message at DATA while ``gate`` is cleared (a sender kept busy mid-batch, for as long as a test needs).
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections import Counter
from contextlib import contextmanager
from email import policy
from types import SimpleNamespace
from typing import Iterator

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Mailbox:
    """An aiosmtpd handler; ``messages`` holds what it accepted (envelope and parsed message)."""

    def __init__(self):
        self.messages: list[SimpleNamespace] = []
        self.refuse: set[str] = set()  # recipients answered 550
        self.accept_then: int | None = None  # after this many accepted messages, misbehave...
        self.then: str = "refuse"  # ...by answering 421 ("refuse") or by never answering ("stall")
        self.stall_seconds: float = 30.0
        self.gate = threading.Event()  # cleared: every message waits at DATA until it is set again
        self.gate.set()
        self.waiting = 0  # messages waiting at the gate now

    def reset(self) -> None:
        self.refuse, self.accept_then = set(), None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.waiting += 1
        while not self.gate.is_set():  # a slow server: holds the sender mid-batch until released
            await asyncio.sleep(0.05)
        self.waiting -= 1
        if self.accept_then is not None and len(self.messages) >= self.accept_then:
            if self.then == "stall":
                await asyncio.sleep(self.stall_seconds)  # the client gives up first; nothing is kept
                return "451 4.3.0 timed out"
            return "421 4.3.2 Service shutting down, try again later"
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(SimpleNamespace(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), message=msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m.message for m in self.messages if address in m.rcpt_tos]

    def count_by_recipient(self, exclude: tuple[str, ...] = ()) -> Counter:
        """How often each (subject, recipient) arrived: every value 1 means nothing doubled."""
        return Counter((str(m.message["Subject"]), ",".join(m.rcpt_tos)) for m in self.messages
                       if not set(m.rcpt_tos) & set(exclude))


@contextmanager
def serving(mailbox: Mailbox | None = None, **controller_options) -> Iterator[tuple[Mailbox, int]]:
    """Run ``mailbox`` on a free port of 127.0.0.1 for the duration of the block."""
    mailbox = mailbox or Mailbox()
    options = {"hostname": "127.0.0.1", "port": free_port(), **controller_options}
    controller = Controller(mailbox, **options)
    controller.start()
    try:
        yield mailbox, options["port"]
    finally:
        controller.stop()
