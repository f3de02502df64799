"""Wire settings and tasks to the one service and run it under uvicorn (`loopwatch serve`).

The tasks are handed in (the CLI finds them in the registry). Each task whose champion is
registered is served: through its own ``mount`` hook (its routes), else through the
generic ``POST /predict/<task>`` (``frames``). One without a champion is skipped with a
line saying so, unless it was asked for by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from loopwatch.config import Settings

SWITCH_INTERVAL_S = 0.001  # how long one thread may hold the interpreter (see ``run``)


def _log_swaps() -> None:
    """Show loopwatch's INFO lines (model swaps, reload errors) on stderr while serving."""
    logger = logging.getLogger("loopwatch")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def open_store(settings: Settings):
    from loopwatch.serving.log_store import LogStore

    return LogStore(settings.prediction_log_url)


def holder_for(settings: Settings, name: str, loader: Callable[..., Any] | None = None,
               poll: bool = True):
    """A holder for ``models:/NAME@champion`` with the first model already loaded (fails
    fast, with the reason, when there is none)."""
    from loopwatch.serving.champion import ChampionHolder, load_logged

    holder = ChampionHolder(settings.tracking_uri, name, loader=loader or load_logged,
                            poll_interval=settings.params.serving.reload_interval_s
                            if poll else None)
    holder.refresh()
    return holder


def mounts_for(settings: Settings, tasks: Sequence[Any], *, required: Sequence[str] = (),
               seed: int | None = None, log=print) -> list:
    """One mount per task that serves and has a champion (``required`` ones must)."""
    from loopwatch.serving.champion import NoChampion

    mounts = []
    for task in tasks:
        mount_of = getattr(task, "mount", None) or _frame_mount_of(task)
        try:
            mount = mount_of(settings, seed=seed)
        except NoChampion as exc:
            if task.name in required:
                raise
            log(f"{task.name}: no champion registered, not serving it ({exc})")
            continue
        info = mount.source.current().info
        log(f"{task.name}: serving {info.name} v{info.version}")
        mounts.append(mount)
    if not mounts:
        raise NoChampion("no task has a champion to serve: train and register one first "
                         "(`loopwatch train --task NAME`)")
    return mounts


def _frame_mount_of(task: Any):
    """A task without routes of its own is served by ``POST /predict/<task>``."""
    def mount(settings: Settings, *, seed: int | None = None):
        from loopwatch.serving.frames import frame_mount

        params = task.params_model.from_settings(settings)
        return frame_mount(task.name, holder_for(settings, params.model_name),
                           settings.params.serving, epsilon=params.epsilon,
                           sensitive=getattr(task, "sensitive", ()), seed=seed)
    return mount


def access_for(settings: Settings, host: str, token: str | None) -> Any:
    from loopwatch.serving.access import LOOPBACK, Access

    cfg = settings.params.serving
    return Access(token=token, auth_predict=cfg.auth_predict,
                  hosts=(*LOOPBACK, host, *cfg.allowed_hosts))


def build_app(settings: Settings, tasks: Sequence[Any], *, required: Sequence[str] = (),
              seed: int | None = None, log=print, access: Any = None):
    from loopwatch.serving.app import create_app

    mounts = mounts_for(settings, tasks, required=required, seed=seed, log=log)
    return create_app(mounts, open_store(settings), settings.params.serving, access)


def serve(settings: Settings, tasks: Sequence[Any], *, required: Sequence[str] = (),
          host: str | None = None, port: int | None = None, seed: int | None = None,
          torch_threads: int = 1, insecure: bool = False, log=print) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish and the log is flushed first.

    ``torch_threads=1``: a forward pass over 1-100 rows is too small to split
    across cores; measured on 2 cores, 100 rows took 1.9 ms with 2 intra-op
    threads and 0.26 ms with 1. Concurrency comes from the event loop instead.
    """
    import os
    import sys

    import torch
    import uvicorn

    torch.set_num_threads(torch_threads)
    # Big requests score in a thread, and the interpreter lets a running thread keep it up
    # to 5 ms before another may run: a small request waiting on the event loop paid that
    # at every turn. 1 ms cut small requests' p99 beside 1000-record requests from ~290
    # to ~80 ms (bench/serving.py), for ~15% fewer big records a second.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # A model swap downloads the new version: no progress bar in a server's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _log_swaps()
    from loopwatch.serving.access import check_bind, secret_free, token_from

    cfg = settings.params.serving
    host, port = host or cfg.host, port or cfg.port
    token = token_from()
    check_bind(host, token, insecure)
    app = build_app(settings, tasks, required=required, seed=seed, log=log,
                    access=access_for(settings, host, token))
    guarded = "token on /feedback, /admin/*" + (", /predict*" if cfg.auth_predict else "")
    log(f"listening on http://{host}:{port} (tasks: {', '.join(app.state.mounts)}; "
        f"log: {secret_free(settings.prediction_log_url)}; "
        f"{guarded if token else 'no token: loopback clients only'})")
    # loop/http "auto" pick uvloop and httptools when installed; access logs cost ~10%.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=30)
