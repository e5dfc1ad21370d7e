"""The one place that connects capabilities which must not import each other.

The app (``web.app.create_app``), the worker (``cityops worker``) and the CLI call :func:`wire`
at start-up; it is idempotent. A lower capability emits events (:mod:`cityops.events`); the upper
ones subscribe here, so reading this file tells who listens to what.
"""

from __future__ import annotations

from cityops import events


def wire() -> None:
    """Subscribe every capability's event handlers (safe to call more than once)."""
    from cityops.cases.events import CaseHandled, CaseRecategorised
    from cityops.triage import subscribers as triage

    # Training data must exist exactly when the recategorisation does: an error fails both.
    events.subscribe(CaseRecategorised, triage.learn_from_recategorisation, on_error="fail")
    # A reply-quality figure never blocks a department's report: an error is logged and queued
    # for the admins (outbox), and the handling goes on.
    events.subscribe(CaseHandled, triage.score_handling_reply, on_error="record")
