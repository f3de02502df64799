"""Serving commands (`loopwatch serve`, `score`, `feedback`), added to the main CLI."""

from __future__ import annotations

import typer


def add_commands(app: typer.Typer) -> None:
    """Register the serving commands on the main Typer app."""
