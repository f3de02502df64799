"""Benchmark: `loopwatch serve` (prediction log on) against `mlflow models serve`.

Both servers serve the same registered MLflow model (an Adult-shaped tabular
net, [200, 100] hidden layers, registered as ``champion`` in a temporary
project), both run with one worker process on 127.0.0.1, both are driven by the
same client in the same run: a closed-loop load generator over keep-alive
HTTP/1.1 connections, written on raw asyncio streams so that the client costs
far less CPU per request than either server (it shares the machine with them).

Reported per server and payload (1 record, 100-record batches): requests/s,
records/s, p50 and p99 latency, and the throughput ratio loopwatch/mlflow; then, for
loopwatch, the p99 of single-record requests while 1000-record requests run beside them
(the log is written off the event loop, so a big request should delay mostly itself).
loopwatch commits every prediction to its SQLite log (WAL, synchronous=FULL)
before answering; the benchmark checks the log holds one row per prediction.

    python bench/serving.py                    # ~1.5 min
    python bench/serving.py --rounds 1 --seconds 2 --strict
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from loopwatch.tasks.tabular.params import TabularParams

TARGET_RATIO = 2.0
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the tiny real model the benchmark serves


def adult_like_frame(n: int, seed: int = 0):
    """Adult's columns and cardinalities with random values: timing needs shapes, not truth."""
    import pandas as pd

    from loopwatch.tasks.tabular import adult

    rng = np.random.default_rng(seed)
    sizes = {"workclass": 8, "education": 16, "marital_status": 7, "occupation": 14,
             "relationship": 6, "race": 5, "sex": 2, "native_country": 41}
    frame = pd.DataFrame({c: rng.choice([f"{c}-{i}" for i in range(k)], n)
                          for c, k in sizes.items()})
    for col, (lo, hi) in {"age": (17, 90), "fnlwgt": (1e4, 1e6), "education_num": (1, 16),
                          "capital_gain": (0, 1e5), "capital_loss": (0, 4e3),
                          "hours_per_week": (1, 99)}.items():
        frame[col] = rng.uniform(lo, hi, n).round()
    frame["income"] = rng.choice(["<=50K", ">50K"], n)
    return adult.spec(), frame


def make_project(root: Path) -> tuple[object, str]:
    """A project whose registry holds the Adult-shaped model as champion; (settings, name)."""
    import mlflow

    from loopwatch.config import Settings
    from loopwatch.tasks.tabular.pyfunc import log_tabular_model
    from loopwatch.training import tracking
    from loopwatch.training.registry import register_and_promote
    from tests.support import tiny_predictor

    settings = Settings.load(root, env={"LOOPWATCH_STATE_DIR": str(root / ".state")})
    spec, frame = adult_like_frame(2000)
    predictor = tiny_predictor(spec, frame, layers=(200, 100),
                               log1p=("capital_gain", "capital_loss"))
    client = tracking.configure(settings)
    with mlflow.start_run() as run:
        info = log_tabular_model(predictor, frame)
        mlflow.log_metric("test_accuracy", 0.5)
    name = TabularParams.from_settings(settings).model_name
    register_and_promote(client, name, info.model_uri, run.info.run_id, "test_accuracy")
    return settings, name, spec, frame


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(cmd: list[str], env: dict, health_url: str, timeout: float = 120) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own group: uvicorn children die too
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.25)
    stop(proc)
    raise RuntimeError(f"{cmd[:4]} not healthy after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


async def _connection(port: int, request: bytes, until: float, latencies: list, errors: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if head[9:12] != b"200":
                errors.append(body[:300])
    finally:
        writer.close()


def load(port: int, path: str, body: bytes, seconds: float, concurrency: int) -> dict:
    """Closed loop: ``concurrency`` connections, each sends its next request on the answer."""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    latencies: list[float] = []
    errors: list[bytes] = []

    async def main():
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, request, until, latencies, errors)
                               for _ in range(concurrency)))

    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests on :{port}{path}: {errors[0]!r}")
    return {"requests": len(latencies), "seconds": elapsed, "latencies": latencies}


def mixed(port: int, small: bytes, big: bytes, seconds: float, connections: int = 4) -> dict:
    """Small requests on ``connections`` connections while as many send big batches: the
    small ones' latencies (a big request must delay only itself)."""
    def request(body: bytes) -> bytes:
        return (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    small_lat: list[float] = []
    big_lat: list[float] = []
    errors: list[bytes] = []

    async def main():
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(port, request(small), until, small_lat, errors)
              for _ in range(connections)),
            *(_connection(port, request(big), until, big_lat, errors)
              for _ in range(connections)))

    t0 = time.perf_counter()
    asyncio.run(main())
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests in the mixed load: {errors[0]!r}")
    return {"requests": len(small_lat), "seconds": time.perf_counter() - t0,
            "latencies": small_lat, "big": len(big_lat)}


def summarise(runs: list[dict]) -> dict:
    """Pool the rounds of one cell: total requests over total time, pooled percentiles."""
    lat = np.concatenate([r["latencies"] for r in runs]) * 1e3
    seconds = sum(r["seconds"] for r in runs)
    return {"requests": len(lat), "rps": len(lat) / seconds,
            "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; the servers alternate within each, so background load "
                             "on a shared machine hits both alike")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--batch", type=int, default=100, help="records in a batch request")
    parser.add_argument("--big", type=int, default=1000,
                        help="records in the big requests of the mixed load")
    parser.add_argument("--mlflow-torch-threads", type=int, default=None,
                        help="OMP_NUM_THREADS for mlflow's server (default: its own default)")
    parser.add_argument("--strict", action="store_true", help="exit 1 below the 2x target")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)

    from loopwatch.serving.log_store import LogStore
    from tests.support import records_of

    tmp = Path(tempfile.mkdtemp(prefix="loopwatch-bench-"))
    settings, name, spec, frame = make_project(tmp)
    env = {**os.environ, "LOOPWATCH_ROOT": str(tmp), "LOOPWATCH_STATE_DIR": str(tmp / ".state"),
           "MLFLOW_TRACKING_URI": settings.tracking_uri, "DO_NOT_TRACK": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    lw_port, ml_port = free_port(), free_port()
    ml_env = dict(env)
    if args.mlflow_torch_threads:
        ml_env["OMP_NUM_THREADS"] = str(args.mlflow_torch_threads)
    servers = {
        "loopwatch serve": start([sys.executable, "-m", "loopwatch.cli", "serve", "--port",
                                  str(lw_port)], env, f"http://127.0.0.1:{lw_port}/health"),
        "mlflow models serve": start([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                      f"models:/{name}/1", "--env-manager", "local", "-h",
                                      "127.0.0.1", "-p", str(ml_port)], ml_env,
                                     f"http://127.0.0.1:{ml_port}/ping"),
    }
    runs: dict[tuple[str, int], list[dict]] = {}
    lw_predictions = 0  # everything loopwatch answered, warm-up included: each must be logged
    try:
        for round_ in range(args.rounds):
            for n in (1, args.batch):
                records = records_of(frame.head(n), spec.inputs)
                targets = {"loopwatch serve": (lw_port, "/predict", {"records": records}),
                           "mlflow models serve": (ml_port, "/invocations",
                                                   {"dataframe_records": records})}
                for label, (port, path, payload) in targets.items():
                    body = json.dumps(payload).encode()
                    warm = load(port, path, body, args.warmup if round_ == 0 else 0.2,
                                args.concurrency)
                    run = load(port, path, body, args.seconds, args.concurrency)
                    runs.setdefault((label, n), []).append(run)
                    if label == "loopwatch serve":
                        lw_predictions += (warm["requests"] + run["requests"]) * n
            small = json.dumps({"records": records_of(frame.head(1), spec.inputs)}).encode()
            big = json.dumps({"records": records_of(frame.head(args.big), spec.inputs)}).encode()
            both = mixed(lw_port, small, big, args.seconds)
            runs.setdefault(("small, big ones running", 1), []).append(both)
            lw_predictions += both["requests"] + both["big"] * args.big
    finally:
        for proc in servers.values():
            stop(proc)

    results = {key: summarise(value) for key, value in runs.items()}
    logged = LogStore(settings.prediction_log_url).count()
    import torch

    print(f"serving benchmark: {platform.machine()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, torch {torch.__version__}; 1 worker each, "
          f"{args.concurrency} keep-alive connections, {args.rounds} rounds x "
          f"{args.seconds:.0f} s per cell")
    print(f"{'server':<22}{'records/req':>12}{'req/s':>10}{'records/s':>11}{'p50 ms':>9}"
          f"{'p99 ms':>9}")
    for (label, n), r in results.items():
        print(f"{label:<22}{n:>12}{r['rps']:>10.0f}{r['rps'] * n:>11.0f}{r['p50']:>9.2f}"
              f"{r['p99']:>9.2f}")
    alone, busy = results[("loopwatch serve", 1)], results[("small, big ones running", 1)]
    print(f"small-request p99 while {args.big}-record requests run: {busy['p99']:.2f} ms "
          f"against {alone['p99']:.2f} ms alone ({busy['p99'] / alone['p99']:.1f}x)")
    ok = True
    for n in (1, args.batch):
        ratio = results[("loopwatch serve", n)]["rps"] / results[("mlflow models serve", n)]["rps"]
        ok &= ratio >= TARGET_RATIO
        print(f"throughput ratio loopwatch/mlflow, {n} record(s)/request: {ratio:.2f}x "
              f"(target >= {TARGET_RATIO:.0f}x)")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    complete = logged == lw_predictions
    print(f"prediction log: {logged} rows for {lw_predictions} answered predictions "
          f"({'one row per prediction' if complete else 'MISMATCH'})")
    return 0 if (ok and complete) or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
