"""Process environment for the embedded stack: telemetry off, Prefect state under the state dir.

Called by the CLI and the flows at start-up (never at import time), and only
``setdefault``s, so a user's own settings always win.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from loopwatch.config import Settings

# No network here, and polite anyway: every tool in the stack phones home by default.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "GIT_PYTHON_REFRESH": "quiet",
}


def embedded_env(settings: Settings, environ: MutableMapping[str, str] | None = None,
                 home: Path | None = None) -> dict[str, str]:
    """The variables the embedded defaults need, as a dict (tests inspect it).

    Prefect's state goes under the project's state folder, which hides the user's own
    Prefect profile: a server URL set there (`prefect config set PREFECT_API_URL=...`) is
    carried over, so flows and deployments go to the user's server, not an embedded one.
    """
    environ = os.environ if environ is None else environ
    env = dict(TELEMETRY_OFF)
    if "PREFECT_API_URL" not in environ and "PREFECT_HOME" not in environ:
        url = profile_api_url(home or Path.home())
        if url:
            env["PREFECT_API_URL"] = url
    env.update(
        {
            "PREFECT_HOME": str(settings.prefect_home),
            # The in-process Prefect server needs more than its 20 s default on 2 cores.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            # Flow runs log their results at INFO, so the Prefect UI shows them; the main
            # job keeps its console quiet by sending library output to a file instead.
            "PREFECT_LOGGING_LEVEL": "INFO",
            "MLFLOW_TRACKING_URI": settings.tracking_uri,
            # On shared cores, torch's OpenMP threads spinning while they wait made training
            # 4-5x slower here (must be set before torch loads).
            "OMP_WAIT_POLICY": "PASSIVE",
            # A per-download progress bar for every model load floods a pipeline's log.
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    return env


def profile_api_url(home: Path) -> str | None:
    """PREFECT_API_URL of the active profile in ``home/.prefect/profiles.toml``, if set."""
    import tomllib

    path = home / ".prefect" / "profiles.toml"
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = profiles.get("active", "ephemeral")
    return profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")


def apply_embedded_env(settings: Settings, environ: MutableMapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    # Prefect creates PREFECT_HOME without parents and then cannot open its database.
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    for key, value in embedded_env(settings, environ).items():
        environ.setdefault(key, value)


class _DropAdverts(logging.Filter):
    """Lightning advertises a hosted logger at every fit: noise in a pipeline's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


def quiet_library_logs() -> None:
    """Keep the libraries' own INFO chatter (DVC's git hints, Lightning's adverts) out of runs."""
    logging.getLogger("dvc").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropAdverts())
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def stderr_to(path: Path) -> int:
    """Point file descriptor 2 at ``path`` (appending); returns a copy of the old one.

    Library logs, warnings and progress chatter all go to stderr (Python's logging and
    ``warnings`` default to it), so swapping the descriptor catches them wherever they
    come from, child processes (dvc, git) included, without muting any logger one by one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    return saved
