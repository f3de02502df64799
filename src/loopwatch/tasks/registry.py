"""Task discovery: the ``loopwatch.tasks`` entry-point group.

Built-in tasks are declared in loopwatch's own pyproject.toml; another installed package
adds one by declaring ``[project.entry-points."loopwatch.tasks"] name = "pkg.mod:TaskClass"``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from loopwatch.config import ConfigError, Settings
from loopwatch.tasks.base import Task

GROUP = "loopwatch.tasks"
CLI_GROUP = "loopwatch.cli"  # a task's own verbs: `add_commands(app)` functions


class TaskRegistry:
    """The installed tasks by name; loading one imports only that task's light entry module."""

    def __init__(self) -> None:
        self._found = {ep.name: ep for ep in entry_points(group=GROUP)}
        self._loaded: dict[str, Task] = {}

    def names(self) -> list[str]:
        return sorted(self._found)

    def get(self, name: str) -> Task:
        if name not in self._loaded:
            if name not in self._found:
                raise ConfigError(f"no task named {name!r}; installed tasks: "
                                  f"{', '.join(self.names()) or 'none'}")
            target = self._found[name].load()
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
