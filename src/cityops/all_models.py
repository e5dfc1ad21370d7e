"""Import every capability's tables so the metadata is complete (migrations, tests)."""

from __future__ import annotations

import importlib

from cityops.db import Base

MODEL_MODULES = (
    "cityops.accounts.models",
    "cityops.areas.models",
    "cityops.catalog.models",
    "cityops.cases.models",
    "cityops.outbox.models",
    "cityops.attachments.models",
    "cityops.triage.models",
    "cityops.safety.models",
    "cityops.evaluation.models",
    "cityops.indicators.models",
    "cityops.intake.models",
    "cityops.web.idempotency",
    "cityops.kit.caches",
)


def load_all() -> type[Base]:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base
