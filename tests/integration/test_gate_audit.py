"""The promotion gate against a real (temporary) MLflow registry and a real tiny model."""

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from loopwatch.monitoring.fairness import DI, DP, EO
from loopwatch.tasks.tabular.gate import measure
from loopwatch.training import gate as gate_mod
from loopwatch.training.gate import (
    HISTORY_TAG,
    alias_history,
    gate,
    move_alias,
    record_alias_change,
)
from tests.conftest import tiny_table
from tests.support import champion_of, tiny_predictor

NAME = "gate-model"


@pytest.fixture
def registry(tmp_path):
    """A registered model with three versions in a throwaway SQLite store."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model(NAME)
    for i in range(3):
        source = tmp_path / f"model-{i}"
        source.mkdir()
        client.create_model_version(NAME, source.as_uri())
    return client


def test_two_alias_changes_are_read_back_in_order(registry):
    assert alias_history(registry, NAME) == []
    record_alias_change(registry, NAME, "champion", None, "1", "first model")
    record_alias_change(registry, NAME, "champion", "1", "2", "gate passed: accuracy +0.02")
    history = alias_history(registry, NAME)
    assert [(e["seq"], e["from"], e["to"]) for e in history] == [(1, None, "1"), (2, "1", "2")]
    assert history[1]["reason"] == "gate passed: accuracy +0.02"
    assert all(e["alias"] == "champion" and e["at"] for e in history)
    # the per-version trail, visible on each version's page in the MLflow UI
    new = registry.get_model_version(NAME, "2").tags
    old = registry.get_model_version(NAME, "1").tags
    assert new["loopwatch.alias.champion.previous"] == "1"
    assert new["loopwatch.alias.champion.reason"].startswith("gate passed")
    assert old["loopwatch.alias.champion.replaced_by"] == "2"


def test_move_alias_moves_and_records(registry):
    assert move_alias(registry, NAME, "champion", "1", "first") is None
    assert move_alias(registry, NAME, "champion", "3", "retrained on drift") == "1"
    assert str(registry.get_model_version_by_alias(NAME, "champion").version) == "3"
    assert [e["to"] for e in alias_history(registry, NAME)] == ["1", "3"]


def test_the_history_tag_stays_within_a_registry_tag(registry, monkeypatch):
    monkeypatch.setattr(gate_mod, "HISTORY_MAX_EVENTS", 5)
    for i in range(8):
        record_alias_change(registry, NAME, "challenger", None, str(1 + i % 3), "x" * 1000)
    history = alias_history(registry, NAME)
    assert [e["seq"] for e in history] == [4, 5, 6, 7, 8]  # the latest, oldest first
    assert all(len(e["reason"]) == gate_mod.REASON_MAX_CHARS for e in history)
    # over the character bound, the oldest events go first
    monkeypatch.setattr(gate_mod, "HISTORY_MAX_CHARS", 1000)
    record_alias_change(registry, NAME, "challenger", "2", "3", "y" * 1000)
    raw = registry.get_registered_model(NAME).tags[HISTORY_TAG]
    assert len(raw) <= 1000
    assert [e["seq"] for e in alias_history(registry, NAME)][-1] == 9
    # the full reason stays on the version
    assert registry.get_model_version(NAME, "3").tags[
        "loopwatch.alias.challenger.reason"] == "y" * 1000


def test_measure_a_tiny_model_as_predictor_and_as_champion():
    spec, frame = tiny_table(900, seed=4)
    predictor = tiny_predictor(spec, frame, seed=1)
    direct = measure(predictor, frame, spec, threshold=0.5, min_group_size=30, n_boot=50)
    served = measure(champion_of(predictor), frame, spec, threshold=0.5, min_group_size=30,
                     n_boot=50)
    assert direct.accuracy == pytest.approx(served.accuracy)
    for name in (DP, EO, DI):
        assert direct.gaps["group"][name] == pytest.approx(served.gaps["group"][name],
                                                           abs=1e-9)
    p = predictor.predict_proba(frame)[:, 1]
    assert direct.accuracy == pytest.approx(((p >= 0.5) == spec.labels(frame)).mean())
    # the same model on the same holdout: the gate promotes (nothing got worse)
    assert gate(direct, served).promote
    # a model that approves everyone on the same rows is no fairer by luck: DP gap 0
    always = measure(lambda f: np.full(len(f), 0.9), frame, spec, min_group_size=30, n_boot=50)
    assert always.gaps["group"][DP] == pytest.approx(0.0)
    assert always.holdout_digest == direct.holdout_digest
