"""The background worker: polls the database and runs periodic jobs.

`cityops worker` runs it as its own process; `cityops serve` runs it in a thread by default so
one command is enough on one machine. Each job run is one transaction.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityops.config import Settings
from cityops.db import unit_of_work, utcnow

log = logging.getLogger("cityops.worker")

JobFn = Callable[[Session, datetime], Any]


@dataclass
class Job:
    name: str
    target: str  # "module:function", imported lazily so a slow import never blocks start-up
    interval: float
    next_run: float = 0.0
    fn: JobFn | None = field(default=None, repr=False)

    def resolve(self) -> JobFn:
        if self.fn is None:
            module, func = self.target.split(":")
            self.fn = getattr(importlib.import_module(module), func)
        return self.fn


def default_jobs(settings: Settings) -> list[Job]:
    return [
        Job("outbox", "cityops.outbox.tasks:deliver_outbox", settings.outbox_interval_seconds),
        Job("sla_sweep", "cityops.cases.tasks:sweep_deadlines", settings.worker_interval_seconds),
        Job("surge_sweep", "cityops.triage.tasks:surge_sweep", 3600.0),
        *_retrain_jobs(settings),
        Job("evaluation", "cityops.evaluation.tasks:refresh_evaluation", 5.0),
        Job("indicators", "cityops.indicators.tasks:compute_indicators", 60.0),
        Job("deadline_risk", "cityops.evaluation.risk_tasks:train_risk_model", 6 * 3600.0),
        Job("risk_scores", "cityops.evaluation.risk_tasks:score_running_cases", 120.0),
        # Self-correction and re-check windows are minutes long: look every few seconds.
        Job("intake_windows", "cityops.intake.tasks:windows", settings.outbox_interval_seconds),
        Job("intake_sensors", "cityops.intake.tasks:sensors", settings.worker_interval_seconds),
        Job("intake_retention", "cityops.intake.tasks:retention", 86400.0),
        Job("search_index", "cityops.cases.tasks:index_search", settings.outbox_interval_seconds),
        # Within the cockpit cache's five minutes, so the district's hot issues never wait.
        Job("cockpit_hot_issues", "cityops.cockpit.tasks:warm_hot_issues", 240.0),
    ]


def _retrain_jobs(settings: Settings) -> list[Job]:
    # The first run waits a while: training takes tens of seconds of CPU, which a process that
    # has just started (or a test's app) should not spend at once; the knowledge-base model
    # answers meanwhile.
    every = settings.triage_retrain_interval_seconds
    first = time.monotonic() + min(every, 300.0)
    return [Job("triage_retrain", "cityops.triage.tasks:retrain_routing", every, first)] if every > 0 else []


def start_subscribers(factory: sessionmaker[Session], settings: Settings) -> list[Any]:
    """Start the message subscribers beside the polling jobs (MQTT telemetry when a broker answers).

    Returns objects with ``stop()``.
    """
    if not settings.mqtt_url:
        return []
    import os
    import socket

    from cityops.intake.mqtt import start_if_broker

    # Unique per process by default; production sets a stable id per worker (docs/operations.md).
    client_id = settings.mqtt_client_id or f"cityops-{socket.gethostname()}-{os.getpid()}"
    subscriber = start_if_broker(factory, settings.mqtt_url, client_id)
    return [subscriber] if subscriber is not None else []


class Worker:
    def __init__(self, factory: sessionmaker[Session], jobs: list[Job]) -> None:
        from cityops.wiring import wire

        wire()  # jobs change cases too: the event subscribers must be in place
        self.factory = factory
        self.jobs = jobs
        self.stop_event = threading.Event()

    def run_due(self, now_monotonic: float | None = None) -> dict[str, Any]:
        """Run every job whose time has come; a failing job is logged and retried next round."""
        tick = time.monotonic() if now_monotonic is None else now_monotonic
        results: dict[str, Any] = {}
        for job in self.jobs:
            if tick < job.next_run:
                continue
            job.next_run = tick + job.interval
            try:
                with unit_of_work(self.factory) as session:
                    results[job.name] = job.resolve()(session, utcnow())
            except Exception:
                log.exception("job %s failed", job.name)
                results[job.name] = "failed"
        return results

    def run_forever(self, poll_seconds: float = 1.0) -> None:
        log.info("worker started with jobs: %s", ", ".join(j.name for j in self.jobs))
        while not self.stop_event.is_set():
            self.run_due()
            self.stop_event.wait(poll_seconds)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="cityops-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()
