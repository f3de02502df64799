"""`dvc repro` on the project's own dvc.yaml: a training param re-runs only train + evaluate."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_adult

pytestmark = pytest.mark.slow  # three stage processes, twice


def dvc(root: Path, *args: str) -> str:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}",
           "LOOPWATCH_STATE_DIR": str(root / ".state")}
    proc = subprocess.run([f"{venv_bin}/dvc", *args], cwd=root, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_param_change_reruns_only_downstream_stages(adult_raw, tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    shutil.copy(REPO / "dvc.yaml", root)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"]["tabular"].update(max_epochs=1, layers=[16])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    copy_adult(adult_raw, root)
    dvc(root, "init", "-q")

    first = dvc(root, "repro")
    for stage in ("prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first
    assert (root / "outputs" / "evaluate" / "metrics.json").exists()

    unchanged = dvc(root, "repro")
    assert "Running stage" not in unchanged

    params["tasks"]["tabular"]["lr"] = params["tasks"]["tabular"]["lr"] / 2
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    second = dvc(root, "repro")
    assert "Running stage 'prepare'" not in second
    assert "Running stage 'train'" in second and "Running stage 'evaluate'" in second
