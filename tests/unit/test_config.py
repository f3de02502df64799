from pathlib import Path

import pytest

from loopwatch.config import ConfigError, Settings


def write_params(root: Path, text: str) -> None:
    (root / "params.yaml").write_text(text)


def test_repo_params_file_loads_and_matches_defaults():
    repo = Path(__file__).resolve().parents[2]
    settings = Settings.load(repo, env={})
    assert settings.params.registry.model_name == "adult-income"
    assert settings.params.train.layers == [200, 100]
    assert settings.state_dir == repo / ".state"
    assert settings.tracking_uri == f"sqlite:///{repo / '.state' / 'mlflow.db'}"


def test_env_moves_state_and_tracking(tmp_path):
    env = {"LOOPWATCH_STATE_DIR": str(tmp_path / "st"), "LOOPWATCH_TRACKING_URI": "http://x:5000"}
    settings = Settings.load(tmp_path, env=env)
    assert settings.state_dir == tmp_path / "st"
    assert settings.dvc_remote_dir == tmp_path / "st" / "dvc-remote"
    assert settings.cache_dir == tmp_path / "st" / "downloads"
    assert settings.tracking_uri == "http://x:5000"


def test_bad_value_names_field_and_file(tmp_path):
    write_params(tmp_path, "train:\n  max_epochs: 0\n")
    with pytest.raises(ConfigError) as err:
        Settings.load(tmp_path, env={})
    assert "train.max_epochs" in str(err.value)
    assert "params.yaml" in str(err.value)


def test_unknown_key_is_rejected_not_ignored(tmp_path):
    write_params(tmp_path, "train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="train.learning_rate"):
        Settings.load(tmp_path, env={})


def test_invalid_yaml_is_a_clear_error(tmp_path):
    write_params(tmp_path, "train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Settings.load(tmp_path, env={})


def test_params_digest_is_stable_and_sensitive(tmp_path):
    a = Settings.load(tmp_path, env={}).params.digest()
    b = Settings.load(tmp_path, env={}).params.digest()
    c = Settings.load(tmp_path, env={}, overrides={"train.lr": 0.5}).params.digest()
    assert a == b
    assert a != c
