"""Domain events: how a lower capability tells upper ones what happened without importing them.

Cases emits ``CaseRecategorised`` (triage learns from it) and ``CaseHandled`` (the reply is
scored); the subscribers live in the upper capabilities and are wired once at start-up by
:mod:`cityops.wiring`. Events are delivered synchronously, inside the emitter's transaction, so a
subscriber's writes exist exactly when the change that caused them does.

A subscriber's error is never swallowed silently (docs/decisions/0005-case-events.md):

* ``on_error="fail"`` (the default): the exception propagates and the whole transaction rolls
  back. For subscribers whose writes must not go missing (training corrections).
* ``on_error="record"``: the subscriber runs in a savepoint; if it raises, its writes are rolled
  back, the error is logged with its traceback and an outbox message (``system.subscriber_failed``
  to ``role:admin``) records it, and the change that emitted the event goes on. For advisory
  figures that must never block a department's work (reply-quality scores).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy.orm import Session

from cityops.outbox import service as outbox

log = logging.getLogger("cityops.events")

OnError = Literal["fail", "record"]
E = TypeVar("E")
Handler = Callable[[Session, Any], None]


@dataclass(frozen=True)
class Subscription:
    event_type: type
    handler: Handler
    on_error: OnError
    name: str


_SUBSCRIPTIONS: dict[type, list[Subscription]] = {}


def subscribe(
    event_type: type[E],
    handler: Callable[[Session, E], None],
    *,
    on_error: OnError = "fail",
    name: str | None = None,
) -> None:
    """Call ``handler(session, event)`` for every ``event_type`` emitted; subscribing twice is a no-op."""
    label = name or f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"
    subs = _SUBSCRIPTIONS.setdefault(event_type, [])
    if any(s.name == label for s in subs):
        return
    subs.append(Subscription(event_type, handler, on_error, label))


def subscribers(event_type: type) -> list[Subscription]:
    return list(_SUBSCRIPTIONS.get(event_type, ()))


def clear() -> None:
    """Forget every subscription (tests that check what happens without subscribers)."""
    _SUBSCRIPTIONS.clear()


def emit(session: Session, event: Any) -> None:
    """Deliver ``event`` to its subscribers now, in ``session``'s transaction (see the module doc)."""
    for sub in _SUBSCRIPTIONS.get(type(event), ()):
        if sub.on_error == "fail":
            sub.handler(session, event)
            continue
        try:
            with session.begin_nested():
                sub.handler(session, event)
        except Exception as exc:
            log.exception("event subscriber %s failed on %s", sub.name, type(event).__name__)
            outbox.enqueue(
                session,
                "system.subscriber_failed",
                {"subscriber": sub.name, "event": type(event).__name__, "error": repr(exc)[:500]},
                ["role:admin"],
            )
