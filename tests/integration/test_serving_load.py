"""A bounded load test of ``loopwatch serve`` as users start it (its own process, uvicorn,
the SQLite log): eight clients for ``LOOPWATCH_LOAD_SECONDS`` (default 8) mix single
records, 100-record batches, 1000-record requests and labels for what came back.

What must hold under that load: no server error and no dropped connection; the log holds
exactly the acknowledged predictions, each once; every acknowledged label is stored; and
the service ends cleanly on SIGTERM with the log intact. The latencies are printed (run
with ``-s``); speed targets live in ``bench/serving.py``, not here.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import Counter, defaultdict

import httpx
import numpy as np
import pytest

from loopwatch.serving.log_store import LogStore
from tests.integration.conftest import free_port
from tests.integration.test_serving_crash import start_server
from tests.support import records_of

SECONDS = float(os.environ.get("LOOPWATCH_LOAD_SECONDS", "8"))
# client number -> what it sends: mostly small requests, as a real service sees them
KINDS = ["single", "single", "single", "batch", "batch", "big", "single", "batch"]
SIZES = {"single": 1, "batch": 100, "big": 1000}


@pytest.mark.slow
def test_the_service_under_mixed_load_keeps_every_acknowledged_prediction_and_label(
        served_model, tmp_path):
    settings, spec, test, _ = served_model
    log_url = f"sqlite:///{tmp_path / 'load.db'}"
    port = free_port()
    server = start_server(settings, log_url, port, tmp_path / "server.log")
    rows = records_of(test, [*spec.inputs, *spec.sensitive])
    pool = list(itertools.islice(itertools.cycle(rows), 1000))
    lock = threading.Lock()
    acknowledged: set[str] = set()
    labelled: set[str] = set()
    statuses: Counter = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: list[str] = []
    until = time.monotonic() + SECONDS

    def client(number: int) -> None:
        kind = KINDS[number]
        body = {"records": pool[number:number + SIZES[kind]] if kind != "big" else pool}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            while time.monotonic() < until:
                try:
                    start = time.perf_counter()
                    answer = http.post("/predict", json=body)
                    latencies[kind].append(time.perf_counter() - start)
                    ids = [p["prediction_id"] for p in answer.json()["predictions"]]
                    # Label one answer in five, as delayed outcomes would arrive.
                    label = (http.post("/feedback", json={"items": [
                        {"prediction_id": i, "label": "yes", "origin": "organic"}
                        for i in ids[:20]]}) if len(latencies[kind]) % 5 == 0 else None)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                    return
                with lock:
                    statuses[answer.status_code] += 1
                    acknowledged.update(ids)
                    if label is not None:
                        statuses[label.status_code] += 1
                        if label.status_code == 200:
                            labelled.update(label.json()["accepted"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(KINDS))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 120)
    finally:
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(60)

    assert not failures, failures[:3]
    assert set(statuses) == {200}, statuses
    assert exit_code in (0, -signal.SIGTERM)
    store = LogStore(log_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert store.count() == len(acknowledged) and store.ids() == acknowledged
        assert store.count("feedback") == len(labelled) > 0
    finally:
        store.close()
    assert all(latencies[kind] for kind in SIZES), {k: len(v) for k, v in latencies.items()}
    for kind, seconds in latencies.items():
        ms = np.percentile(np.array(seconds) * 1000, [50, 99])
        print(f"{kind:>6}: {len(seconds)} requests, p50 {ms[0]:.1f} ms, p99 {ms[1]:.1f} ms")
    print(f"{len(acknowledged)} predictions and {len(labelled)} labels in {SECONDS:.0f} s")
