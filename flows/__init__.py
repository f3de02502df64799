"""Prefect flows: thin wiring over loopwatch, one call per task body.

Prefect reads PREFECT_HOME and its server settings when it is imported, so the embedded
defaults (state under the project's state folder, telemetry off, a start-up timeout that
suits 2 cores) are set here, once, before any flow module imports Prefect. ``setdefault``
only: a user's own settings win.
"""

from contextlib import suppress

from loopwatch.config import ConfigError, Settings
from loopwatch.runtime import apply_embedded_env

# A bad params.yaml: the flow's entry point loads the settings again and says why, in a line.
with suppress(ConfigError):
    apply_embedded_env(Settings.load())
