"""Task discovery: the ``loopwatch.tasks`` entry-point group, plus tasks handed in directly.

Built-in tasks are declared in loopwatch's own pyproject.toml; another installed package
adds one by declaring ``[project.entry-points."loopwatch.tasks"] name = "pkg.mod:TaskClass"``.
Tests register a task without installing anything through ``TaskRegistry(extra=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from loopwatch.config import ConfigError, Settings
from loopwatch.tasks.base import Task

GROUP = "loopwatch.tasks"
CLI_GROUP = "loopwatch.cli"  # a task's own verbs: `add_commands(app)` functions


class TaskRegistry:
    """The installed tasks by name; loading one imports only that task's light entry module."""

    def __init__(self, extra: Mapping[str, type | Task] | None = None,
                 discover: bool = True) -> None:
        self._found = {ep.name: ep for ep in entry_points(group=GROUP)} if discover else {}
        self._extra = dict(extra or {})
        self._loaded: dict[str, Task] = {}

    def names(self) -> list[str]:
        return sorted({*self._found, *self._extra})

    def get(self, name: str) -> Task:
        if name not in self._loaded:
            if name in self._extra:
                target = self._extra[name]
            elif name in self._found:
                target = self._found[name].load()
            else:
                raise ConfigError(f"no task named {name!r}; installed tasks: "
                                  f"{', '.join(self.names()) or 'none'}")
            task = target() if isinstance(target, type) else target
            if not isinstance(task, Task):
                raise ConfigError(f"task {name!r} ({target!r}) does not provide the task "
                                  "protocol (name, params_model)")
            self._loaded[name] = task
        return self._loaded[name]

    def check(self, settings: Settings) -> None:
        """Refuse a ``tasks:`` block no installed task reads, and validate every block."""
        for name in settings.params.tasks:
            self.get(name).params_model.from_settings(settings)
