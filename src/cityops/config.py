"""One typed settings object, read from ``CITYOPS_*`` environment variables.

Outside demo mode the settings refuse values that are only safe on a developer's machine
(the default secret key), so a production server cannot start with them by accident.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "cityops-demo-secret-do-not-use-in-production"


class UnsafeSettings(RuntimeError):
    """Raised when the server would start with settings that are unsafe outside demo mode."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYOPS_", extra="ignore")

    database_url: str = "sqlite:///var/cityops.db"
    secret_key: str = DEFAULT_SECRET
    demo_mode: bool = False
    district_code: str = "330105"
    case_code_prefix: str = "GS"
    timezone: str = "Asia/Shanghai"

    # Attachments: local disk by default, an S3-compatible store when configured.
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = Path("var/attachments")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "cityops"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    max_upload_bytes: int = 10 * 1024 * 1024
    allowed_upload_types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"]
    )

    # Text limits keep one report from filling the database.
    max_description_chars: int = 5000
    max_note_chars: int = 2000

    token_ttl_seconds: int = 8 * 3600
    reopen_days: int = 7
    # Satisfaction (回访·评价): how long the rating link sent at closing works, and whether a
    # dissatisfied rating within the reopen window reopens the case (else dispatchers are told).
    rating_days: int = 7
    dissatisfied_reopens: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    # The public case page and JSON, per client address and server process (enumeration guard).
    public_requests_per_minute: int = 60

    worker_in_process: bool = True
    worker_interval_seconds: float = 60.0
    outbox_interval_seconds: float = 5.0
    # Telemetry over MQTT: the worker subscribes when a broker answers here ("" switches it off).
    # Each worker process needs its own stable client id: the broker keeps its persistent session
    # (unacknowledged messages) under that id across restarts.
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str | None = None
    # Open311 api_keys accepted outside demo mode (demo mode also accepts demo-open311-key).
    open311_api_keys: list[str] = Field(default_factory=list)

    log_level: str = "INFO"
    # Handler threads per server process (each may hold a database connection). Few threads keep
    # the GIL uncontended: measured on 2 cores, 2–4 threads served more creations per second with
    # a lower p99 than 8. Raise it when handlers spend long waiting on slow I/O.
    web_threads: int = 4
    # FastAPI's OpenTelemetry spans and metrics; useful only with an OTel provider configured.
    opentelemetry: bool = False

    # Page maps: the district's own GeoJSON is the base layer; a tile URL (e.g. 天地图 with its key,
    # "https://t{s}.tianditu.gov.cn/vec_w/wmts?...&tk=KEY") adds tiles. GCJ-02 tiles get points converted.
    # Its origin is allowed for images in the CSP.
    map_tile_url: str | None = None
    map_tile_crs: Literal["wgs84", "gcj02"] = "wgs84"

    # Triage: the trained classifier's model file (`cityops triage train --model …`). Unset or
    # missing: a model trained in-app (`<storage_dir>/../models/catalog.model`) if there is one,
    # else the routing model versions (docs/triage.md).
    triage_model: Path | None = None
    # How often the worker retrains the routing model when corrections or the knowledge base
    # changed (seconds; 0 = never on a schedule, only on demand).
    triage_retrain_interval_seconds: float = Field(default=86400.0, ge=0)
    # Reply quality: a reply whose prior-corrected interpretability is below this is flagged.
    reply_interpretability_threshold: float = Field(default=0.5, ge=0, le=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知时区 / unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        """The district's time zone (``CITYOPS_TIMEZONE``): local days, case codes, working hours."""
        return ZoneInfo(self.timezone)

    def check_safe_for_serving(self) -> None:
        """Refuse to serve with development-only values outside demo mode."""
        if self.demo_mode:
            return
        problem = secret_key_problem(self.secret_key)
        if problem is not None:
            raise UnsafeSettings(
                f"未设置安全的密钥：请把 CITYOPS_SECRET_KEY 设为至少 {MIN_SECRET_CHARS} 个字符的随机串"
                f"（例如 python -c 'import secrets; print(secrets.token_urlsafe(32))'）。 / "
                f"Set CITYOPS_SECRET_KEY to a random secret of at least {MIN_SECRET_CHARS} characters "
                f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'): {problem}; "
                "the default is for demo mode only."
            )


MIN_SECRET_CHARS = 32
# Bits per character of the key's own character distribution: a random hex string has about
# 3.6–4, a token_urlsafe one about 4.7, "passwordpassword…" 2.75, "aaaa…" 0.
MIN_SECRET_ENTROPY = 3.0
MIN_SECRET_DISTINCT = 10


def secret_key_problem(secret: str) -> str | None:
    """Why ``secret`` is not a safe signing key (None when it is): too short, the demo default,
    too few distinct characters, low Shannon entropy, or one short run repeated."""
    if secret == DEFAULT_SECRET:
        return "it is the published demo default"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it has {len(secret)} characters"
    counts = Counter(secret)
    entropy = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    if len(counts) < MIN_SECRET_DISTINCT or entropy < MIN_SECRET_ENTROPY:
        return f"it has too little variety ({len(counts)} distinct characters, {entropy:.1f} bits each)"
    if secret in (secret + secret)[1:-1]:
        return "it is a short run of characters repeated"
    return None


class _SettingsAccessor:
    """``get_settings()``: the process's one settings object, for the app and the domain alike.

    The app factory (``create_app``) hands its settings to :meth:`configure`, so domain code that
    reads ``get_settings()`` sees exactly the object the app was built with. Without a configured
    object (the CLI, the worker, scripts) the settings are read once from ``CITYOPS_*``.
    """

    def __init__(self) -> None:
        self.configured: Settings | None = None
        self._from_environment: Settings | None = None

    def __call__(self) -> Settings:
        if self.configured is not None:
            return self.configured
        if self._from_environment is None:
            self._from_environment = Settings()
        return self._from_environment

    def configure(self, settings: Settings | None) -> None:
        """Make ``settings`` the one object everything reads (None: back to the environment)."""
        self.configured = settings

    def cache_clear(self) -> None:
        """Forget both the configured object and the one read from the environment (tests)."""
        self.configured = None
        self._from_environment = None


get_settings = _SettingsAccessor()
