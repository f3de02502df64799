"""The champion holder: swap on alias change, keep serving on errors, poll in the background."""

from __future__ import annotations

import time

import pytest

from loopwatch.serving.champion import ChampionHolder, NoChampion, StaticSource
from tests.conftest import tiny_table
from tests.support import FakePredictor, champion_of

SPEC, _ = tiny_table(10)


class ScriptedHolder(ChampionHolder):
    """The alias resolves to whatever ``self.alias_version`` says (no MLflow)."""

    def __init__(self, **kw):
        self.loads: list[str] = []
        self.alias_version: str | Exception | None = None

        def loader(uri, name, version, alias):
            self.loads.append(version)
            return champion_of(FakePredictor(SPEC, "x1"), name=name, version=version)

        super().__init__("sqlite:///unused.db", "m", loader=loader, **kw)

    def resolve(self) -> str:
        if isinstance(self.alias_version, Exception):
            raise self.alias_version
        if self.alias_version is None:
            raise NoChampion("no alias")
        return self.alias_version


def test_refresh_loads_only_when_the_alias_moves():
    holder = ScriptedHolder(poll_interval=None)
    with pytest.raises(NoChampion):
        holder.current()
    holder.alias_version = "1"
    assert holder.refresh() and holder.current().info.version == "1"
    snapshot = holder.current()
    assert not holder.refresh() and holder.loads == ["1"]
    holder.alias_version = "2"
    assert holder.refresh() and holder.current().info.version == "2"
    assert snapshot.info.version == "1"  # a request holding the old snapshot is unaffected


def test_polling_swaps_and_survives_errors():
    holder = ScriptedHolder(poll_interval=0.01)
    holder.alias_version = "1"
    holder.refresh()
    holder.start()
    try:
        holder.alias_version = RuntimeError("registry down")
        deadline = time.monotonic() + 5
        while holder.last_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "registry down" in holder.last_error
        assert holder.current().info.version == "1"  # still serving
        holder.alias_version = "3"
        while holder.current().info.version != "3" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.current().info.version == "3" and holder.last_error is None
    finally:
        holder.stop()
    assert holder._thread is None


def test_static_source():
    assert StaticSource(None).refresh() is False
    with pytest.raises(NoChampion):
        StaticSource(None).current()
