"""Text messages (短信) to citizens, behind a small interface with a logging default.

A real deployment plugs in its SMS gateway with :func:`use_sender` at start-up (the gateways of
Chinese operators and cloud vendors all take a phone number and a text). The default only logs,
with the phone number masked and any link token shortened, so nothing leaves the machine and
the log holds no working rating link.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

log = logging.getLogger("cityops.sms")
_TOKEN = re.compile(r"(/p/rate/)([A-Za-z0-9_-]{6})[A-Za-z0-9_-]+")


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Send ``text`` to ``phone``; raise to have the outbox retry later."""


class LoggingSms:
    """The default sender: writes a log line instead of sending (development, demo, tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (masked phone, text) of this process, newest last

    def send(self, phone: str, text: str) -> None:
        masked = phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
        shown = _TOKEN.sub(r"\1\2…", text)
        self.sent.append((masked, shown))
        del self.sent[:-100]
        log.info("SMS to %s: %s", masked, shown)


_sender: SmsSender = LoggingSms()


def sender() -> SmsSender:
    return _sender


def use_sender(new: SmsSender) -> SmsSender:
    """Install ``new`` as the SMS sender; returns the previous one."""
    global _sender
    previous, _sender = _sender, new
    return previous
