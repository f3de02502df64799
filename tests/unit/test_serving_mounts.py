"""`loopwatch serve` mounts every task that has a champion; a named one must have one."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from loopwatch.serving.app import Mount
from loopwatch.serving.champion import ModelInfo, NoChampion, StaticSource
from loopwatch.serving.server import mounts_for


@dataclass
class Loaded:
    info: ModelInfo = field(default_factory=lambda: ModelInfo("movielens-collab", "3"))


class ServingTask:
    def __init__(self, name: str, champion: bool = True):
        self.name, self.champion, self.calls = name, champion, 0

    def mount(self, settings, *, seed=None) -> Mount:
        self.calls += 1
        if not self.champion:
            raise NoChampion(f"no version of {self.name!r} has alias 'champion'")
        return Mount(self.name, StaticSource(Loaded()), lambda writer: None)


def test_every_task_with_a_champion_is_mounted_and_said_so():
    lines = []
    mounts = mounts_for(None, [ServingTask("recsys"), ServingTask("images")], log=lines.append)
    assert [m.task for m in mounts] == ["recsys", "images"]
    assert lines[0] == "recsys: serving movielens-collab v3"


def test_a_missing_champion_is_skipped_with_the_reason():
    lines = []
    mounts = mounts_for(None, [ServingTask("images", champion=False), ServingTask("recsys")],
                        log=lines.append)
    assert [m.task for m in mounts] == ["recsys"]
    assert "images: no champion registered" in lines[0] and "alias" in lines[0]


def test_a_named_task_must_have_a_champion():
    with pytest.raises(NoChampion):
        mounts_for(None, [ServingTask("images", champion=False)], required=["images"])
    with pytest.raises(NoChampion, match="no task has a champion"):
        mounts_for(None, [ServingTask("images", champion=False)], log=lambda m: None)
