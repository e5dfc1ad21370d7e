"""Triage's answers to case events (wired at start-up by :mod:`cityops.wiring`).

A recategorisation is a human decision: it becomes training data in the same transaction. A
handled case's reply is scored for reply quality (until the evaluation capability takes it over).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.cases import service as cases
from cityops.cases.events import CaseHandled, CaseRecategorised
from cityops.triage.learning import record_correction
from cityops.triage.reply_quality import score_reply


def learn_from_recategorisation(session: Session, event: CaseRecategorised) -> None:
    record_correction(session, event.text, event.to_category_code, event.source)


def score_handling_reply(session: Session, event: CaseHandled) -> None:
    score = score_reply(event.message, event.reply, event.dispatched_at, event.handled_at).as_dict()
    cases.record_reply_score(session, event.case_id, event.log_seq, score)
