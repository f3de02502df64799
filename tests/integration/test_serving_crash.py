"""kill -9 under load: the log reopens cleanly and holds every answered prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from loopwatch.serving.log_store import LogStore
from tests.integration.conftest import free_port
from tests.support import records_of


def start_server(settings, log_url, port, output):
    env = {**os.environ, "LOOPWATCH_ROOT": str(settings.root),
           "LOOPWATCH_STATE_DIR": str(settings.state_dir),
           "LOOPWATCH_PREDICTION_LOG_URL": log_url}
    with output.open("ab") as sink:  # a file, not a pipe nobody drains
        proc = subprocess.Popen([sys.executable, "-m", "loopwatch.cli", "serve", "--port",
                                 str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {output.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy in 90 s")


@pytest.mark.slow
def test_kill_9_under_load_loses_no_answered_prediction(served_model, tmp_path):
    settings, spec, test, _ = served_model
    log_url = f"sqlite:///{tmp_path / 'crash.db'}"
    port = free_port()
    output = tmp_path / "server.log"
    server = start_server(settings, log_url, port, output)
    received: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def client(offset):
        body = {"records": records_of(test.iloc[offset:offset + 3], spec.inputs)}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            while not stop.is_set():
                try:
                    resp = c.post("/predict", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                assert resp.status_code == 200
                with lock:
                    received.extend(p["prediction_id"] for p in resp.json()["predictions"])

    threads = [threading.Thread(target=client, args=(i * 3,)) for i in range(6)]
    for t in threads:
        t.start()
    while len(received) < 600:  # well under load
        time.sleep(0.01)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    answered = set(received)

    store = LogStore(log_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    logged = store.ids()
    assert answered <= logged, f"{len(answered - logged)} answered predictions are missing"

    restarted = start_server(settings, log_url, port, output)
    try:
        resp = httpx.post(f"http://127.0.0.1:{port}/predict",
                          json={"records": records_of(test.head(2), spec.inputs)})
        assert resp.status_code == 200
        assert store.count() == len(logged) + 2
    finally:
        # Graceful: uvicorn drains, our lifespan flushes the log, then uvicorn re-raises
        # the signal so the exit status still says SIGTERM.
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(30) in (0, -signal.SIGTERM)
