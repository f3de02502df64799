"""DVC helpers: a repo with a local-directory remote, tracking ``data/``, push and pull.

Uses DVC's Python API (each CLI call costs 1-2 s of start-up). A fresh ``Repo``
object per operation, because a Repo caches its index and would miss changes made
behind its back.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

REMOTE_NAME = "local"


@dataclass(frozen=True)
class DataVersion:
    path: str
    md5: str
    nfiles: int | None
    size: int | None


def ensure_repo(root: Path, remote_dir: Path) -> None:
    """Initialise DVC in ``root`` if needed and give it a default remote if it has none.

    The embedded remote is written to ``.dvc/config.local`` (machine-specific,
    not committed) so a user's own default remote in ``.dvc/config`` is never
    overridden.
    """
    from dvc.repo import Repo

    if not (root / ".dvc").is_dir():
        no_scm = not (root / ".git").exists()
        Repo.init(str(root), no_scm=no_scm).close()
    with Repo(str(root)) as repo:
        if repo.config["core"].get("remote"):
            return
        remote_dir.mkdir(parents=True, exist_ok=True)
        with repo.config.edit(level="local") as conf:
            conf["remote"][REMOTE_NAME] = {"url": str(remote_dir)}
            conf["core"]["remote"] = REMOTE_NAME


def track(root: Path, target: str = "data") -> DataVersion:
    """``dvc add`` the folder; returns the new version (unchanged data keeps its hash)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.scm_context.quiet = True  # no "git add data.dvc" hint: committing is the user's call
        repo.add(str(root / target))  # DVC resolves relative paths against the cwd
    return read_version(root, target)


def version_and_push(root: Path, remote_dir: Path, log=None) -> DataVersion:
    """``dvc add data`` (a repo and the local remote first, if missing) and push: the new
    version of ``data/``. Every stage that adds files under data/ ends with this."""
    ensure_repo(root, remote_dir)
    data_version = track(root, "data")
    pushed = push(root)
    if log is not None:
        log(f"data/ is DVC version {data_version.md5} ({data_version.nfiles} files); "
            f"pushed {pushed} new objects to the remote")
    return data_version


def push(root: Path) -> int:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return int(repo.push())


def pull(root: Path) -> dict:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return repo.pull()


def read_version(root: Path, target: str = "data") -> DataVersion:
    """The version recorded in ``<target>.dvc``: what a run's lineage tag points at."""
    dvc_file = root / f"{target}.dvc"
    if not dvc_file.exists():
        raise FileNotFoundError(
            f"{dvc_file} is missing: run `loopwatch data fetch` to version {target}/"
        )
    out = yaml.safe_load(dvc_file.read_text())["outs"][0]
    return DataVersion(path=out["path"], md5=out["md5"], nfiles=out.get("nfiles"),
                       size=out.get("size"))


def git_commit(root: Path) -> str:
    """HEAD's commit (with ``-dirty`` when code has changes), or 'unknown' outside git."""
    commit, dirty = git_state(root)
    return f"{commit}-dirty" if dirty else commit


def git_state(root: Path) -> tuple[str, list[str]]:
    """(HEAD's commit or 'unknown', the tracked paths changed since it).

    ``*.dvc`` files are left out: they hold the data's version, which a run records on its
    own (its DVC hash), and the loop rewrites data.dvc at every retrain.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=no")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", []
    paths = [line[3:].split(" -> ")[-1] for line in status.splitlines() if line.strip()]
    return commit, [p for p in paths if not p.endswith(".dvc")]


def restore_version(root: Path, dir_md5: str, dest: Path, remote_dir: Path | None = None) -> Path:
    """Materialise the ``data/`` of DVC version ``dir_md5`` (a ``.dir`` hash) under ``dest``.

    How monitoring finds the data a model was trained on from the run's lineage tag,
    whatever ``data/`` holds today. Objects come from the local DVC cache, else from
    the embedded local-directory remote. Files are copied once; a later call reuses them.
    """
    import json
    import shutil

    if not dir_md5.endswith(".dir"):
        raise ValueError(f"{dir_md5!r} is not a DVC directory hash (ends with '.dir')")
    stores = [root / ".dvc" / "cache" / "files" / "md5"]
    if remote_dir is not None:
        stores.append(remote_dir / "files" / "md5")

    def find(md5: str) -> Path:
        for store in stores:
            path = store / md5[:2] / md5[2:]
            if path.exists():
                return path
        raise FileNotFoundError(
            f"DVC object {md5} is in neither the cache nor the local remote "
            f"({', '.join(map(str, stores))}); run `dvc fetch` for that version first"
        )

    done = dest / ".complete"
    if done.exists():
        return dest
    for entry in json.loads(find(dir_md5).read_text()):
        target = dest / entry["relpath"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(find(entry["md5"]), target)
    done.write_text(dir_md5)
    return dest
