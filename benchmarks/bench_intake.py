"""Camera-alarm and telemetry ingest end to end, on SQLite and PostgreSQL, and MQTT through a
real broker with a broker restart in the middle.

End to end = authenticate (HMAC of every alarm), parse, locate (the registered camera/device),
dedupe (event ids, device+seq, the open signal), commit. Batched: the shared
``ingest_alarms`` / ``ingest_messages`` path with one transaction per batch of 5,000 (what the
MQTT subscriber and a webhook queue do). Baseline in the same run: one commit per event.
Count check after every run: events in = signal counts + duplicates counted (camera),
readings stored + duplicates counted (telemetry). Target: >= 20,000 events/s.

    .venv/bin/python benchmarks/bench_intake.py [--backends sqlite,postgresql] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import each_backend, emit, fresh_database
from sqlalchemy import func, select

from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cityops.intake import counters, registry
from cityops.intake.camera import RawAlarm, ingest_alarms, sign
from cityops.intake.models import Signal, TelemetryReading
from cityops.intake.signals import file_pending
from cityops.intake.telemetry import ingest_messages

LABELS = ("暴露垃圾", "机动车违停", "非机动车违停", "占道经营", "河道漂浮物")
# The MQTT subscriber's batch (intake.mqtt); CITYOPS_BENCH_BATCH=1000 gives the smaller batches.
BATCH = int(os.environ.get("CITYOPS_BENCH_BATCH", "5000"))
# A block of Gongshu that is surely inside the demo grids (拱宸桥, 和睦, 小河 …).
BOX = (120.125, 120.150, 30.300, 30.330)


def world(url: str, cameras: int, devices: int) -> Any:
    from cityops.demo.loader import load_demo

    engine = make_engine(url)
    load_demo(engine, Settings(demo_mode=True), n_cases=0, progress=False)
    rng = random.Random(5)
    factory = make_sessionmaker(engine)
    cams, devs = [], []
    with unit_of_work(factory) as s:
        while len(cams) < cameras:
            cid = f"bench-cam-{len(cams):04d}"
            try:
                registry.save_camera(
                    s,
                    id=cid,
                    name=cid,
                    secret=f"secret-{cid}-0123456789",
                    lon=rng.uniform(BOX[0], BOX[1]),
                    lat=rng.uniform(BOX[2], BOX[3]),
                )
                cams.append(cid)
            except Exception:  # a point between grids: try another
                continue
        while len(devs) < devices:
            did = f"bench-water-{len(devs):05d}"
            try:
                registry.save_device(
                    s,
                    id=did,
                    device_type="water_level",
                    name=did,
                    lon=rng.uniform(BOX[0], BOX[1]),
                    lat=rng.uniform(BOX[2], BOX[3]),
                )
                devs.append(did)
            except Exception:
                continue
    return engine, cams, devs


def alarms(cams: list[str], n: int, seed: int, replay_share: float = 0.05) -> list[RawAlarm]:
    rng = random.Random(seed)
    out: list[RawAlarm] = []
    now = utcnow().isoformat()
    for i in range(n):
        if out and rng.random() < replay_share:
            out.append(out[rng.randrange(len(out))])  # the box sends the same event again
            continue
        cid = cams[rng.randrange(len(cams))]
        body = json.dumps(
            {
                "event_id": f"{seed}-{i}",
                "label": LABELS[rng.randrange(len(LABELS))],
                "observed_at": now,
                "confidence": 0.9,
                "zone": f"z{rng.randrange(2)}",
                "snapshot_url": f"https://cam.example/{cid}/{i}.jpg",
            },
            ensure_ascii=False,
        ).encode()
        ts = str(int(time.time()))
        out.append(RawAlarm(cid, ts, sign(f"secret-{cid}-0123456789", ts, body), body))
    return out


def messages(devs: list[str], n: int, seed: int, dup_share: float = 0.02) -> list[bytes]:
    rng = random.Random(seed)
    seqs = dict.fromkeys(devs, seed * 10_000_000)
    out: list[bytes] = []
    t0 = utcnow()
    for i in range(n):
        if out and rng.random() < dup_share:
            out.append(out[rng.randrange(len(out))])  # a redelivered message
            continue
        did = devs[rng.randrange(len(devs))]
        seqs[did] += 1
        level = 3.0 + rng.random() * 1.6  # now and then above 4.5: signals and cases
        out.append(
            json.dumps(
                {
                    "device_id": did,
                    "seq": seqs[did],
                    "observed_at": (t0 + timedelta(seconds=i / 1000)).isoformat(),
                    "level_m": round(level, 3),
                }
            ).encode()
        )
    return out


def camera_count_check(engine: Any, cams_prefix: str = "bench-cam-") -> tuple[int, int]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        counted = int(
            s.scalar(
                select(func.coalesce(func.sum(Signal.count), 0)).where(
                    Signal.source == "camera", Signal.source_id.startswith(cams_prefix)
                )
            )
            or 0
        )
        dups = counters.read(s, "camera.").get("camera.replayed", 0)
    return counted, dups


def telemetry_count_check(engine: Any) -> tuple[int, int]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        stored = int(s.scalar(select(func.count()).select_from(TelemetryReading)) or 0)
        dups = counters.read(s, "telemetry.").get("telemetry.duplicate", 0)
    return stored, dups


CPU: dict[str, float] = {}


def run_batched(engine: Any, fn: Any, items: list[Any], batch: int) -> tuple[float, list[Any]]:
    """Wall seconds and results; the process's CPU seconds go to ``CPU["last"]``."""
    factory = make_sessionmaker(engine)
    results: list[Any] = []
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), batch):
        with unit_of_work(factory) as s:
            results += fn(s, items[i : i + batch])
    CPU["last"] = time.process_time() - cpu
    return time.perf_counter() - start, results


def filing(engine: Any, backend: str) -> None:
    """The worker's half: file the cases the signals called for (create + file + dispatch)."""
    factory = make_sessionmaker(engine)
    start, filed = time.perf_counter(), 0
    while True:
        with unit_of_work(factory) as s:
            n = file_pending(s, utcnow())
        if not n:
            break
        filed += n
    secs = time.perf_counter() - start
    with unit_of_work(factory) as s:
        left = s.scalar(select(func.count()).select_from(Signal).where(Signal.state == "filing"))
    emit(
        f"cases filed from signals by the worker ({backend})",
        filed / secs if secs else 0,
        "cases/s",
        baseline="(none: the cases service's own creation path)",
        baseline_value=0,
        cases=filed,
        left=left,
    )


def _worker(url: str, fn_name: str, share: list[Any], barrier: Any, out: Any) -> None:
    """One ingest process of the parallel run: its share of the batches, retried when a
    concurrent batch got there first (a signal changed state, a replay raced, a lock)."""
    from sqlalchemy.exc import DBAPIError

    from cityops.intake.live import ConcurrentBatch

    why: dict[str, int] = {}

    engine = make_engine(url)
    factory = make_sessionmaker(engine)

    def run(s: Any, b: list[Any]) -> list[Any]:
        if fn_name == "camera":
            return ingest_alarms(s, b, demo_mode=True, inline_cases=False)
        return ingest_messages(s, b, inline_cases=False)

    with unit_of_work(factory) as s:  # connect and warm up outside the clock
        s.execute(select(1))
    barrier.wait()
    cpu, retries = time.process_time(), 0
    for i in range(0, len(share), BATCH):
        for _attempt in range(20):
            try:
                with unit_of_work(factory) as s:
                    run(s, share[i : i + BATCH])
                break
            except (ConcurrentBatch, DBAPIError) as exc:
                retries += 1
                why[type(exc).__name__] = why.get(type(exc).__name__, 0) + 1
                why[str(exc).splitlines()[0][:120]] = 1
                time.sleep(random.uniform(0, 0.05 * _attempt))  # two retries must not meet again
        else:
            raise RuntimeError(f"a batch failed 20 times: {why}")
    out.put((time.process_time() - cpu, retries))
    engine.dispose()


def _source(kind: str, item: Any) -> str:
    return str(item.camera_id) if kind == "camera" else str(json.loads(item)["device_id"])


def run_parallel(
    url: str, kind: str, items: list[Any], processes: int, mode: str
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the ingest processes and retries.

    ``partitioned``: each process takes the events of its own cameras or devices (a load
    balancer hashing the camera header, a consumer group per device): no two processes touch one
    signal. ``interleaved``: batches dealt round-robin, so one camera's alarms reach every
    process (the worst case: conflicts roll batches back and they are retried)."""
    import multiprocessing
    import zlib

    ctx = multiprocessing.get_context("fork")
    if mode == "partitioned":
        shares: list[list[Any]] = [[] for _ in range(processes)]
        for item in items:
            shares[zlib.crc32(_source(kind, item).encode()) % processes].append(item)
    else:
        batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
        shares = [[x for b in batches[k::processes] for x in b] for k in range(processes)]
    barrier, out = ctx.Barrier(processes + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, kind, share, barrier, out)) for share in shares]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    results = []
    while len(results) < processes:
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("an ingest process failed (its traceback is above)") from None
    secs = time.perf_counter() - start
    for p in procs:
        p.join()
    return secs, sum(c for c, _ in results), sum(r for _, r in results)


def bench_parallel(backend: str, n: int, processes: int, mode: str) -> None:
    """The same end-to-end ingest split over several processes, on a database of its own; the
    baseline in the same run is one process taking other events of the same sources first."""
    with fresh_database(backend) as url:
        engine, cams, devs = world(url, cameras=200, devices=1000)
        engine.dispose()
        engine = make_engine(url)
        runs = (
            ("camera", "camera alarms", lambda seed: alarms(cams, n, seed=seed), camera_count_check),
            ("telemetry", "telemetry", lambda seed: messages(devs, n, seed=seed), telemetry_count_check),
        )
        for kind, what, make, check in runs:
            before = sum(check(engine))
            one_secs, _, _ = run_parallel(url, kind, make(4), 1, mode)
            items = make(3)
            counted_before = sum(check(engine))
            secs, cpu, retries = run_parallel(url, kind, items, processes, mode)
            kept, dups = check(engine)
            emit(
                f"{what} end to end, {processes} processes {mode}, batches of {BATCH} ({backend})",
                len(items) / secs,
                "events/s",
                baseline="one process, the same number of other events of the same sources, same run",
                baseline_value=n / one_secs,
                backend=backend,
                events=len(items),
                target=20000,
                per_cpu_second=round(len(items) / cpu),
                retried_batches=retries,
                load_average=os.getloadavg()[0],
                count_check={
                    "events_in": len(items),
                    "counted": kept + dups - counted_before,
                    "lost": len(items) - (kept + dups - counted_before),
                    "baseline_lost": n - (counted_before - before),
                },
            )
        engine.dispose()


def bench_backend(backend: str, n: int, baseline_n: int) -> None:
    with fresh_database(backend) as url:
        engine, cams, devs = world(url, cameras=200, devices=1000)

        def cam(s: Any, b: list[RawAlarm]) -> list[Any]:
            return ingest_alarms(s, b, demo_mode=True, inline_cases=False)

        def tel(s: Any, b: list[bytes]) -> list[Any]:
            return ingest_messages(s, b, inline_cases=False)

        # Baseline first, on its own cameras' events (one commit per alarm).
        base_items = alarms(cams, baseline_n, seed=1)
        base_s, base_res = run_batched(engine, cam, base_items, 1)
        base_cpu = CPU["last"]
        items = alarms(cams, n, seed=2)
        secs, res = run_batched(engine, cam, items, BATCH)
        cpu = CPU["last"]
        counted, dups = camera_count_check(engine)
        refused = sum(r.status in ("refused", "stale") for r in res + base_res)
        events = len(items) + len(base_items)
        emit(
            f"camera alarms ingested end to end, batches of {BATCH} ({backend})",
            len(items) / secs,
            "events/s",
            baseline="one commit per alarm",
            baseline_value=len(base_items) / base_s,
            backend=backend,
            events=len(items),
            target=20000,
            per_cpu_second=round(len(items) / cpu),
            baseline_per_cpu_second=round(len(base_items) / base_cpu),
            load_average=os.getloadavg()[0],
            count_check={
                "events_in": events,
                "signal_counts": counted,
                "duplicates_counted": dups,
                "refused": refused,
                "lost": events - counted - dups - refused,
            },
            cases_due=sum(r.status == "case_pending" for r in res),
            load_average_end=os.getloadavg()[0],
        )
        base_msgs = messages(devs, baseline_n, seed=1)
        base_s, _ = run_batched(engine, tel, base_msgs, 1)
        base_cpu = CPU["last"]
        msgs = messages(devs, n, seed=2)
        secs, res = run_batched(engine, tel, msgs, BATCH)
        cpu = CPU["last"]
        stored, tdups = telemetry_count_check(engine)
        events = len(msgs) + len(base_msgs)
        emit(
            f"telemetry messages ingested end to end, batches of {BATCH} ({backend})",
            len(msgs) / secs,
            "events/s",
            baseline="one commit per message",
            baseline_value=len(base_msgs) / base_s,
            backend=backend,
            events=len(msgs),
            target=20000,
            per_cpu_second=round(len(msgs) / cpu),
            baseline_per_cpu_second=round(len(base_msgs) / base_cpu),
            load_average=os.getloadavg()[0],
            count_check={
                "events_in": events,
                "readings_stored": stored,
                "duplicates_counted": tdups,
                "lost": events - stored - tdups,
            },
            cases_due=sum(r.cases for r in res),
            load_average_end=os.getloadavg()[0],
        )
        filing(engine, backend)
        engine.dispose()


def bench_mqtt(n: int) -> None:
    """Publish ``n`` messages QoS 1 through a Mosquitto of our own (port 8162), restart it halfway."""
    import paho.mqtt.client as mqtt

    from cityops.intake.mqtt import TelemetrySubscriber

    exe = "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        print("# skipping MQTT: mosquitto not installed", file=sys.stderr)
        return
    port = 8162
    tmp = Path(tempfile.mkdtemp(prefix="cityops-mqtt-"))
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {tmp}/\nmax_queued_messages 0\nmax_inflight_messages 1000\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )

    def broker() -> subprocess.Popen[bytes]:
        p = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return p

    with fresh_database("sqlite") as url:
        engine, _cams, devs = world(url, cameras=1, devices=1000)
        proc = broker()
        sub = TelemetrySubscriber(
            make_sessionmaker(engine),
            f"mqtt://127.0.0.1:{port}",
            client_id=f"bench-sub-{uuid.uuid4().hex[:6]}",
        ).start()
        sub.subscribed.wait(10)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", port, clean_start=False)
        pub.loop_start()
        msgs = messages(devs, n, seed=3, dup_share=0.0)
        start = time.perf_counter()
        restarted = threading.Event()

        def restart_halfway() -> None:
            while sub.stats["committed"] < n // 2:
                time.sleep(0.01)
            proc.terminate()
            proc.wait(10)
            restarted.set()

        t = threading.Thread(target=restart_halfway)
        t.start()
        new_proc: subprocess.Popen[bytes] | None = None
        infos = []
        for i, m in enumerate(msgs):
            did = json.loads(m)["device_id"]
            if restarted.is_set() and new_proc is None:
                new_proc = broker()
            infos.append(pub.publish(f"cityops/telemetry/water_level/{did}", m, qos=1))
            if i % 5000 == 4999:
                time.sleep(0)
        t.join()
        if new_proc is None:
            new_proc = broker()
        deadline = time.monotonic() + 300
        stored = 0
        while time.monotonic() < deadline:
            stored, _ = telemetry_count_check(engine)
            if stored >= n:
                break
            time.sleep(0.2)
        secs = time.perf_counter() - start
        sub.stop()
        pub.loop_stop()
        new_proc.terminate()
        new_proc.wait(10)
        _, dups = telemetry_count_check(engine)
        emit(
            "telemetry over MQTT end to end (QoS 1, Mosquitto restarted halfway, sqlite)",
            stored / secs,
            "messages/s",
            baseline="same messages, batched direct ingest (above)",
            baseline_value=0,
            published=n,
            readings_stored=stored,
            redelivered_duplicates=dups,
            lost=n - stored,
            batches=sub.stats["batches"],
            load_average_end=os.getloadavg()[0],
        )
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--baseline-events", type=int, default=3000)
    ap.add_argument("--mqtt-events", type=int, default=50_000)
    ap.add_argument("--processes", type=int, default=2, help="ingest processes of the parallel run (0: none)")
    ap.add_argument("--parallel", default="partitioned", help="partitioned, interleaved or both")
    ap.add_argument("--only-parallel", action="store_true", help="skip the one-process figures")
    ap.add_argument("--only-mqtt", action="store_true", help="only the MQTT run through the broker")
    args = ap.parse_args()
    for backend in () if args.only_mqtt else each_backend(args.backends):
        if not args.only_parallel:
            bench_backend(backend, args.events, args.baseline_events)
        modes = ("partitioned", "interleaved") if args.parallel == "both" else (args.parallel,)
        for mode in modes if args.processes > 1 else ():
            bench_parallel(backend, args.events, args.processes, mode)
    if args.mqtt_events and not args.only_parallel:
        bench_mqtt(args.mqtt_events)


if __name__ == "__main__":
    main()
