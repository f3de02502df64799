"""DVC for real: a repo with a local-directory remote, track, push, lose the data, pull."""

import subprocess

from loopwatch.data import versioning


def test_track_push_pull_round_trip(tmp_path):
    root = tmp_path / "repo"
    (root / "data" / "raw").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "data" / "raw" / "a.csv").write_text("x,y\n1,2\n")
    remote = tmp_path / "remote"

    versioning.ensure_repo(root, remote)
    v1 = versioning.track(root)
    assert v1.md5.endswith(".dir") and v1.nfiles == 1
    assert versioning.push(root) >= 2  # the file and the directory manifest
    assert versioning.read_version(root) == v1

    # Unchanged data keeps its hash; changed data gets a new one.
    assert versioning.track(root).md5 == v1.md5
    (root / "data" / "raw" / "b.csv").write_text("z\n3\n")
    v2 = versioning.track(root)
    assert v2.md5 != v1.md5 and v2.nfiles == 2
    versioning.push(root)

    # Lose the working copy and the local cache: the remote alone restores it.
    subprocess.run(["rm", "-rf", str(root / "data"), str(root / ".dvc" / "cache")], check=True)
    versioning.pull(root)
    assert (root / "data" / "raw" / "a.csv").read_text() == "x,y\n1,2\n"
    assert (root / "data" / "raw" / "b.csv").read_text() == "z\n3\n"


def test_existing_default_remote_is_left_alone(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    versioning.ensure_repo(root, tmp_path / "first")
    versioning.ensure_repo(root, tmp_path / "second")
    config = (root / ".dvc" / "config.local").read_text()
    assert str(tmp_path / "first") in config and str(tmp_path / "second") not in config


def test_git_commit_outside_git_is_unknown(tmp_path):
    assert versioning.git_commit(tmp_path) == "unknown"


def test_dirty_means_changed_code_and_names_the_paths_not_the_data_version(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    for name in ("train.py", "data.dvc"):
        (tmp_path / name).write_text("v1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    (tmp_path / "data.dvc").write_text("v2\n")  # what every retrain does
    commit, dirty = versioning.git_state(tmp_path)
    assert dirty == [] and versioning.git_commit(tmp_path) == commit
    (tmp_path / "train.py").write_text("v2\n")
    assert versioning.git_state(tmp_path) == (commit, ["train.py"])
    assert versioning.git_commit(tmp_path) == f"{commit}-dirty"


def test_an_old_version_is_restored_from_cache_or_remote(tmp_path):
    root = tmp_path / "repo"
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "a.csv").write_text("old\n")
    remote = tmp_path / "remote"
    versioning.ensure_repo(root, remote)
    old = versioning.track(root)
    versioning.push(root)
    (root / "data" / "raw" / "a.csv").write_text("new\n")
    versioning.track(root)

    restored = versioning.restore_version(root, old.md5, tmp_path / "v-old")
    assert (restored / "raw" / "a.csv").read_text() == "old\n"

    # With the local cache gone, the embedded remote still has it.
    subprocess.run(["rm", "-rf", str(root / ".dvc" / "cache")], check=True)
    again = versioning.restore_version(root, old.md5, tmp_path / "v-old-2", remote_dir=remote)
    assert (again / "raw" / "a.csv").read_text() == "old\n"
    import pytest

    with pytest.raises(FileNotFoundError, match="dvc fetch"):
        versioning.restore_version(root, old.md5, tmp_path / "v-none")
