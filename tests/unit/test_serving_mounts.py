"""`loopwatch serve` mounts the image and recommender champions when they exist."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from loopwatch.serving.predictor import NoChampion
from loopwatch.serving.server import _optional


@dataclass
class Source:
    name: str = "movielens-collab"
    version: str = "3"


def missing():
    raise NoChampion("no version of 'movielens-collab' has alias 'champion'")


def test_auto_mounts_a_registered_champion_and_says_so():
    lines = []
    assert _optional("recommender", None, lines.append, Source) == Source()
    assert lines == ["also serving the recommender movielens-collab v3"]


def test_auto_skips_a_missing_champion_with_the_reason():
    lines = []
    assert _optional("recommender", None, lines.append, missing) is None
    assert "no recommender champion registered" in lines[0] and "alias" in lines[0]


def test_required_champion_missing_is_an_error_and_off_loads_nothing():
    with pytest.raises(NoChampion):
        _optional("recommender", True, print, missing)
    calls = []
    assert _optional("image model", False, print, lambda: calls.append(1)) is None
    assert calls == []
