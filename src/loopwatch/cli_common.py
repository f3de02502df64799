"""What every `loopwatch` command shares: the settings of this checkout, the console,
and the rule that a user's mistake is one clear line, not a traceback.

Its own module so the main CLI and the subsystem CLIs (serving, monitoring,
simulation) import it without importing each other.
"""

from __future__ import annotations

import typer
from rich.console import Console

from loopwatch.config import ConfigError, Settings

console = Console(stderr=True)

# Errors a user can fix: shown as one clear message, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError,
                                                KeyError)


def load_settings() -> Settings:
    from loopwatch.runtime import apply_embedded_env, quiet_library_logs
    try:
        settings = Settings.load()
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    apply_embedded_env(settings)
    quiet_library_logs()
    return settings


def run_step(step, *args, **kwargs):
    from loopwatch.data.sources import SourceError
    from loopwatch.serving.champion import NoChampion

    try:
        return step(*args, **kwargs)
    except (*USER_ERRORS, SourceError, NoChampion) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
