"""The MQTT telemetry subscriber: QoS 1, a persistent session, acknowledged after commit.

Devices publish on ``cityops/telemetry/{device_type}/{device_id}``. Every ``cityops worker``
subscribes through the MQTT 5 shared subscription ``$share/cityops/cityops/telemetry/+/+``, so
several workers split the stream (Mosquitto 2, EMQX, HiveMQ and other clusters support it).

Messages go to an in-process queue; one thread takes them in batches, ingests a batch in one
transaction and only after the commit acknowledges each message (paho's manual ack). A crash or
a broker restart before that leaves the messages unacknowledged in the broker's persistent
session (``clean_start=False`` with a session expiry), which delivers them again; the
readings' ``(device_id, seq)`` key turns the redelivery into a counted duplicate.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from cityops.db import unit_of_work
from cityops.intake import counters
from cityops.intake.telemetry import ingest_messages

log = logging.getLogger("cityops.intake.mqtt")

TOPIC = "cityops/telemetry/+/+"
SHARE_GROUP = "cityops"
SESSION_EXPIRY_SECONDS = 7 * 86400  # unacknowledged messages wait this long for a worker


@dataclass
class Pending:
    mid: int
    qos: int
    topic: str
    payload: bytes
    connection: int  # which connection delivered it: message ids are only valid on that one


def broker_address(url: str) -> tuple[str, int]:
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


def broker_answers(url: str, timeout: float = 0.5) -> bool:
    host, port = broker_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class TelemetrySubscriber:
    """Subscribe, ingest in batches, acknowledge after commit. ``start()`` / ``stop()``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "cityops-worker",
        share_group: str | None = SHARE_GROUP,
        topic: str = TOPIC,
        # Up to 5,000 per transaction when that many are waiting (two ingest processes: ~15,000
        # events/s at 1,000, 16,500–45,000 at 5,000; docs/benchmarks.md); a quiet stream still
        # commits within batch_wait.
        batch_size: int = 5000,
        batch_wait: float = 0.05,
    ) -> None:
        self.factory = factory
        self.host, self.port = broker_address(url)
        self.topic = f"$share/{share_group}/{topic}" if share_group else topic
        self.batch_size, self.batch_wait = batch_size, batch_wait
        self.inbox: queue.Queue[Pending] = queue.Queue()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.stats = {"received": 0, "committed": 0, "acked": 0, "refused": 0, "duplicates": 0, "batches": 0}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        self.connection = 0
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._thread: threading.Thread | None = None

    # -- paho callbacks (the network thread) --------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        log.info("MQTT connected to %s:%s, subscribing %s (QoS 1)", self.host, self.port, self.topic)
        self.connection += 1
        self.connected.set()
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats["received"] += 1
        self.inbox.put(Pending(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self.connection))

    # -- the ingest thread ----------------------------------------------------------------------
    def _take_batch(self) -> list[Pending]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=max(left, 0)) if left > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def ingest(self, batch: list[Pending]) -> None:
        """One transaction for the batch; acknowledge only after it committed (retried until then)."""
        payloads: list[bytes | dict[str, Any]] = [p.payload for p in batch]
        delay = 0.5
        while True:
            try:
                with unit_of_work(self.factory) as session:
                    results = ingest_messages(session, payloads, inline_cases=False)
                    refused = [r for r in results if r.status == "refused"]
                    if refused:
                        counters.bump(session, {"telemetry.refused": len(refused)})
                break
            except Exception:  # a database hiccup: the batch stays unacknowledged and is retried
                log.exception("telemetry batch of %d failed; retrying in %.1fs", len(batch), delay)
                if self.stopping.wait(delay):
                    return
                delay = min(delay * 2, 10)
        self.stats["batches"] += 1
        self.stats["committed"] += len(batch)
        for p, r in zip(batch, results, strict=True):
            if r.status == "refused":
                self.stats["refused"] += 1
                log.warning("telemetry on %s refused: %s", p.topic[:120], r.error)
            elif r.status == "duplicate":
                self.stats["duplicates"] += 1
            # A message of an earlier connection is not acknowledged: its id may already name
            # another message now, and the broker redelivers it on this connection anyway.
            if p.qos > 0 and p.connection == self.connection and self.connected.is_set():
                self.client.ack(p.mid, p.qos)
                self.stats["acked"] += 1

    def _run(self) -> None:
        while not self.stopping.is_set():
            batch = self._take_batch()
            if batch:
                self.ingest(batch)

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> TelemetrySubscriber:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="cityops-mqtt-ingest", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()


def start_if_broker(factory: sessionmaker[Session], url: str, client_id: str) -> TelemetrySubscriber | None:
    """Start the subscriber when a broker answers at ``url``; say clearly when none does."""
    if not broker_answers(url):
        log.warning(
            "未连接 MQTT：%s 无应答，物联感知订阅未启动（其余功能正常）/ no MQTT broker answers at %s: "
            "the telemetry subscriber is not running (the rest works; HTTP telemetry still does)",
            url,
            url,
        )
        return None
    log.info("MQTT broker answers at %s: starting the telemetry subscriber", url)
    return TelemetrySubscriber(factory, url, client_id=client_id).start()
