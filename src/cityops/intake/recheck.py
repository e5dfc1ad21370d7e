"""Automatic re-check of camera cases: the camera verifies what the handler reported done.

When a camera signal's case reaches ``handled``, the camera's re-check window opens. At its end,
no alarm for the label and zone since it opened (or an all-clear) → the case is verified and
closed by the system; still seen → back to rework (counted on the signal and in the case log,
against the handler). Cases of other channels keep human verification.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases import service as cases
from cityops.cases.schemas import ActionInput
from cityops.errors import DomainError
from cityops.intake.merchants import still_present
from cityops.intake.models import Camera, Signal
from cityops.intake.principals import INTAKE


def sweep_rechecks(session: Session, now: datetime) -> dict[str, int]:
    """Open re-check windows for handled camera cases and decide the ones that are over."""
    out = {"recheck_started": 0, "verified": 0, "rework": 0, "closed_elsewhere": 0}
    filed = session.scalars(
        select(Signal).where(
            Signal.source == "camera", Signal.state == "case_filed", Signal.case_id.is_not(None)
        )
    ).all()
    for signal in filed:
        try:
            case = cases.get_case(session, INTAKE, signal.case_id)  # type: ignore[arg-type]
        except DomainError:
            continue
        if case.state == "handled":
            camera = session.get(Camera, signal.source_id)
            seconds = camera.recheck_seconds if camera else 600
            signal.state = "recheck"
            signal.window_started_at = now
            signal.window_ends_at = now + timedelta(seconds=seconds)
            out["recheck_started"] += 1
        elif case.state in ("closed", "rejected"):
            signal.state, signal.closed_at = "verified", now  # a person closed it
            out["closed_elsewhere"] += 1
    due = session.scalars(select(Signal).where(Signal.state == "recheck", Signal.window_ends_at <= now)).all()
    for signal in due:
        assert signal.case_id is not None
        try:
            case = cases.get_case(session, INTAKE, signal.case_id)
        except DomainError:
            continue
        if case.state != "handled":  # a person verified it meanwhile
            signal.state = "verified" if case.state in ("verified", "closed") else "case_filed"
            signal.window_ends_at = None
            continue
        if still_present(signal):
            note = f"城市眼复核：时限内仍识别到「{signal.rule}」，返工 / camera re-check: still there, rework"
            cases.perform_action(
                session, INTAKE, case.id, "verify", ActionInput(passed=False, note=note), now=now
            )
            signal.state, signal.window_ends_at = "case_filed", None
            signal.rework_count += 1
            out["rework"] += 1
        else:
            note = f"城市眼复核：「{signal.rule}」已消除，系统核查通过 / camera re-check: gone, verified"
            cases.perform_action(
                session, INTAKE, case.id, "verify", ActionInput(passed=True, note=note), now=now
            )
            cases.perform_action(session, INTAKE, case.id, "close", ActionInput(note=note), now=now)
            signal.state, signal.closed_at, signal.window_ends_at = "verified", now, None
            out["verified"] += 1
    return out
