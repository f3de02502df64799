"""Fixtures for the serving integration tests: a tiny registered champion, a live server,
a throwaway PostgreSQL cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from loopwatch.tasks.tabular.params import prepared_dir
from tests.conftest import make_settings, tiny_table

TINY_TRAIN = {"tasks.tabular.max_epochs": 2, "tasks.tabular.batch_size": 64,
              "tasks.tabular.layers": [16, 8]}


@pytest.fixture(scope="session")
def served_model(tmp_path_factory):
    """A project whose MLflow registry holds a tiny trained model as ``champion`` (v1)."""
    from loopwatch.data.splits import split_frame
    from loopwatch.tasks.tabular import pipeline
    from loopwatch.tasks.tabular.spec import write_splits

    root = tmp_path_factory.mktemp("serving-proj")
    settings = make_settings(root, **TINY_TRAIN)
    spec, frame = tiny_table(600)
    rest, test = split_frame(frame, 0.25, seed=1)
    train, valid = split_frame(rest, 0.25, seed=2)
    write_splits({"train": train, "valid": valid, "test": test}, spec, prepared_dir(settings))
    out = pipeline.train(settings)
    pipeline.evaluate(settings)
    pipeline.register(settings)
    return settings, spec, test, out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(app):
    """The real uvicorn server in a thread, on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL cluster in a temp dir on a free loopback port, stopped at the end.

    Installed by scripts/install_system_packages.sh (Debian ``postgresql``). As root,
    initdb refuses to run, so the cluster runs as the ``postgres`` system user.
    """
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb); run "
                    "scripts/install_system_packages.sh as root to install it")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("no PostgreSQL driver: pip install 'psycopg[binary]' (the dev extra)")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="loopwatch-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = [runuser, "-u", "postgres", "--"]
        try:
            shutil.chown(base, "postgres")
        except (LookupError, OSError) as exc:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip(f"running as root and no usable 'postgres' user for initdb: {exc}")
    data, port = base / "data", free_port()

    def run(*cmd, check=True):
        return subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True,
                              check=check, timeout=120)

    try:
        run(bindir / "initdb", "-D", data, "-U", "loopwatch", "--auth=trust", "-E", "UTF8")
        run(bindir / "pg_ctl", "-D", data, "-w", "-l", base / "log", "-o",
            f"-h 127.0.0.1 -p {port} -k {base} -F", "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL cluster: {detail.strip()[:300]}")
    try:
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "loopwatch", "predictions")
        yield f"postgresql://loopwatch@127.0.0.1:{port}/predictions"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)
