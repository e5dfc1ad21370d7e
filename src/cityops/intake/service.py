"""The operations of intake, the capability's public entry point.

Other capabilities and the faces (api, pages, cli) call these; the modules beside hold the
channel logic: ``reports`` (human channels), ``camera`` + ``merchants`` + ``recheck`` (城市眼),
``telemetry`` + ``rules`` (sensors), ``duplicates``, ``hotline``, ``inspectors``, ``registry``.
"""

from __future__ import annotations

from cityops.intake.camera import AlarmResult, RawAlarm, ingest_alarms, sign
from cityops.intake.live import ConcurrentBatch, SignalsChanged
from cityops.intake.merchants import list_merchants, mark, merchant_dict, sweep_windows
from cityops.intake.recheck import sweep_rechecks
from cityops.intake.registry import (
    add_shop_front,
    camera_dict,
    device_dict,
    get_camera,
    get_device,
    get_merchant,
    list_cameras,
    list_devices,
    new_secret,
    rotate_camera_secret,
    save_camera,
    save_device,
    save_merchant,
    set_shop_fronts,
)
from cityops.intake.reports import Submitted, find_report, reports_of_case, submit
from cityops.intake.signals import as_dict as signal_dict
from cityops.intake.signals import get_signal, list_signals
from cityops.intake.telemetry import MessageResult, ingest_messages, purge_readings, sweep_silence

__all__ = [
    "AlarmResult",
    "ConcurrentBatch",
    "MessageResult",
    "RawAlarm",
    "SignalsChanged",
    "Submitted",
    "add_shop_front",
    "camera_dict",
    "device_dict",
    "find_report",
    "get_camera",
    "get_device",
    "get_merchant",
    "get_signal",
    "ingest_alarms",
    "ingest_messages",
    "list_cameras",
    "list_devices",
    "list_merchants",
    "list_signals",
    "mark",
    "merchant_dict",
    "new_secret",
    "purge_readings",
    "reports_of_case",
    "rotate_camera_secret",
    "save_camera",
    "save_device",
    "save_merchant",
    "set_shop_fronts",
    "sign",
    "signal_dict",
    "submit",
    "sweep_rechecks",
    "sweep_silence",
    "sweep_windows",
]
