"""A small in-process sliding-window limit for the public report form (per client address).

One process serves the demo and small districts; behind several processes each counts its own
share, which still stops a script hammering the form. The limit is generous for people (a few
reports in ten minutes from one address, e.g. a family sharing a phone) and tight for scripts.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from cityops.errors import TooManyRequests


class SlidingWindow:
    def __init__(self, limit: int, seconds: float, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> None:
        """Count one hit for ``key``; raise ``TooManyRequests`` (429, Retry-After) when over the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._hits) >= self.max_keys:
                self._hits.clear()  # bounded memory; a flood of addresses resets the window
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = int(hits[0] + self.seconds - now) + 1
                raise TooManyRequests(
                    f"提交太频繁，请 {wait} 秒后再试",
                    f"Too many reports from this device; try again in {wait} s",
                    retry_after=wait,
                    code="rate_limited",
                )
            hits.append(now)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
