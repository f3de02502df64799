from pathlib import Path

import pytest

from loopwatch.config import ConfigError, Settings
from loopwatch.tasks.tabular.params import TabularParams


def write_params(root: Path, text: str) -> None:
    (root / "params.yaml").write_text(text)


def test_repo_params_file_loads_and_matches_defaults():
    repo = Path(__file__).resolve().parents[2]
    settings = Settings.load(repo, env={})
    assert TabularParams.from_settings(settings).model_name == "adult-income"
    assert TabularParams.from_settings(settings).layers == [200, 100]
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
    write_params(tmp_path, "serving:\n  port: 0\n")
    with pytest.raises(ConfigError) as err:
        Settings.load(tmp_path, env={})
    assert "serving.port" in str(err.value)
    assert "params.yaml" in str(err.value)


def test_bad_task_value_names_the_task_key(tmp_path):
    write_params(tmp_path, "tasks:\n  tabular:\n    max_epochs: 0\n")
    settings = Settings.load(tmp_path, env={})
    with pytest.raises(ConfigError) as err:
        TabularParams.from_settings(settings)
    assert "tasks.tabular.max_epochs" in str(err.value)
    assert "\n" not in str(err.value)  # one line at the CLI


def test_unknown_task_key_is_rejected_not_ignored(tmp_path):
    write_params(tmp_path, "tasks:\n  tabular:\n    learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="tasks.tabular.learning_rate: unknown setting"):
        TabularParams.from_settings(Settings.load(tmp_path, env={}))


@pytest.mark.parametrize(("text", "new"), [
    ("train:\n  lr: 0.1\n", "tasks.tabular"),
    ("data:\n  dataset: adult\n", "tasks.tabular"),
    ("images:\n  arch: small_cnn\n", "tasks.images"),
    ("recsys:\n  k: 5\n", "tasks.recsys"),
    ("registry:\n  model_name: x\n", "tasks.<task>.model_name"),
    ("tasks:\n  images:\n    epochs: 2\n", "tasks.images.max_epochs"),
    ("monitoring:\n  effect_size_floor: 0.1\n", "monitoring.drift_floor"),
    ("monitoring:\n  fdr_correction: true\n", "monitoring.drift_alpha"),
])
def test_old_style_key_names_the_new_key(tmp_path, text, new):
    write_params(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        Settings.load(tmp_path, env={})
    assert f"`{new}`" in str(err.value) and "has moved" in str(err.value)


def test_nested_dotted_overrides_shrink_a_task(tmp_path):
    from loopwatch.tasks.images.params import ImageParams

    write_params(tmp_path, "tasks:\n  images:\n    lr: 0.5\n")
    settings = Settings.load(tmp_path, env={}, overrides={"tasks.images.max_epochs": 1,
                                                          "tasks.recsys.loop.generations": 3})
    images = ImageParams.from_settings(settings)
    assert (images.max_epochs, images.lr) == (1, 0.5)  # the file's other keys survive
    assert settings.params.tasks["recsys"]["loop"] == {"generations": 3}


def test_registry_finds_the_built_in_tasks_and_refuses_unknown_ones(tmp_path):
    from loopwatch.tasks.registry import TaskRegistry

    registry = TaskRegistry()
    assert {"tabular", "images", "recsys"} <= set(registry.names())
    assert registry.get("images").params_model.section == "tasks.images"
    write_params(tmp_path, "tasks:\n  tabulr:\n    lr: 0.1\n")
    with pytest.raises(ConfigError, match="no task named 'tabulr'.*tabular"):
        registry.check(Settings.load(tmp_path, env={}))


def test_invalid_yaml_is_a_clear_error(tmp_path):
    write_params(tmp_path, "train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Settings.load(tmp_path, env={})


def test_params_digest_is_stable_and_sensitive(tmp_path):
    a = Settings.load(tmp_path, env={}).params.digest()
    b = Settings.load(tmp_path, env={}).params.digest()
    c = Settings.load(tmp_path, env={}, overrides={"tasks.tabular.lr": 0.5}).params.digest()
    assert a == b
    assert a != c
