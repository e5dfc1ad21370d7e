"""Telemetry rules per device type: threshold, rate of change and silence (offline).

A device's ``thresholds`` override a rule's limit by rule name (``{"level_high": 4.2}``). A rule
with a ``category_code`` files a case once ``case_after`` readings in a row broke it; without one
its signal is only shown (and kept for indicators). ``cooldown_seconds``: a breach that comes back
this soon after its signal closed reopens that signal instead of opening a new one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # threshold | rate | silence
    reading: str | None = None
    above: float | None = None  # threshold: value > above; rate: rise over `per_minutes` > above
    per_minutes: float = 10.0
    silence_minutes: float = 60.0
    category_code: str | None = None
    case_after: int = 1
    cooldown_seconds: int = 900
    title: str = ""

    def limit(self, thresholds: dict[str, object]) -> float | None:
        value = thresholds.get(self.name, self.above)
        return float(value) if isinstance(value, int | float) else None


def _offline(minutes: float) -> Rule:
    return Rule("offline", "silence", silence_minutes=minutes, title="设备离线")


RULES: dict[str, tuple[Rule, ...]] = {
    # Canal water level in metres; the flood-control gauge's alarm level is per device.
    "water_level": (
        Rule("level_high", "threshold", "level_m", above=4.5, category_code="01067", title="河道水位超警戒"),
        Rule("level_rising", "rate", "level_m", above=0.3, per_minutes=10, title="水位快速上涨"),
        _offline(15),
    ),
    "manhole_tilt": (
        Rule("tilt_high", "threshold", "tilt_deg", above=15, category_code="01003", title="井盖倾斜/位移"),
        _offline(120),
    ),
    "smoke": (
        Rule("smoke_alarm", "threshold", "smoke", above=0.5, category_code="01013", title="烟感报警"),
        _offline(60),
    ),
    "air_quality": (
        Rule("pm25_high", "threshold", "pm25", above=150, title="PM2.5 重度污染"),
        _offline(60),
    ),
    "noise": (
        Rule(
            "noise_high",
            "threshold",
            "noise_db",
            above=70,
            category_code="06028",
            case_after=3,
            title="噪声超标",
        ),
        _offline(60),
    ),
    "elevator": (
        Rule("fault", "threshold", "fault_code", above=0, category_code="01076", title="电梯故障"),
        _offline(30),
    ),
}

DEVICE_TYPES = tuple(RULES)


def rules_for(device_type: str) -> tuple[Rule, ...]:
    return RULES.get(device_type, ())
