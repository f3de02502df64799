"""Wire settings to the service and run it under uvicorn (what `loopwatch serve` calls)."""

from __future__ import annotations

import logging

from loopwatch.config import Settings
from loopwatch.tasks.images.params import ImageParams
from loopwatch.tasks.tabular.params import TabularParams


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


def champion_holder(settings: Settings, model_name: str | None = None, poll: bool = True):
    """A holder for ``models:/NAME@champion`` with the first model already loaded."""
    from loopwatch.serving.predictor import ChampionHolder

    params = settings.params
    name = model_name or TabularParams.from_settings(settings).model_name
    holder = ChampionHolder(settings.tracking_uri, name,
                            poll_interval=params.serving.reload_interval_s if poll else None)
    holder.refresh()  # fail fast, with the reason, when there is no champion to serve
    return holder


def build_app(settings: Settings, model_name: str | None = None, seed: int | None = None, *,
              images: bool | None = None, recommender: bool | None = None, log=print):
    """The tabular champion's service, plus the image and recommender champions' routes.

    ``images`` / ``recommender``: True requires that champion, False leaves it out, None
    (the default) mounts it when one is registered and says so either way.
    """
    from loopwatch.serving.app import create_app

    holder = champion_holder(settings, model_name)
    image_source = _optional("image model", images, log, lambda: _image_holder(settings))
    recsys = _optional("recommender", recommender, log, lambda: _recommender(settings))
    return create_app(holder, open_store(settings), settings.params.serving, seed=seed,
                      image_source=image_source, recommender=recsys)


def _image_holder(settings: Settings):
    from loopwatch.serving.image_app import load_image_version
    from loopwatch.serving.predictor import ChampionHolder

    name = ImageParams.from_settings(settings).model_name
    holder = ChampionHolder(settings.tracking_uri, name,
                            loader=load_image_version,
                            poll_interval=settings.params.serving.reload_interval_s)
    holder.refresh()
    return holder


def _recommender(settings: Settings):
    from loopwatch.serving.recommend_app import champion_source

    return champion_source(settings)


def _optional(what: str, wanted: bool | None, log, load):
    """``load()`` unless ``wanted`` is False; a missing champion is an error only if True."""
    from loopwatch.serving.predictor import NoChampion

    if wanted is False:
        return None
    try:
        source = load()
    except (NoChampion, FileNotFoundError) as exc:
        if wanted:
            raise
        log(f"no {what} champion registered: not serving one ({exc})")
        return None
    info = source.current().info if hasattr(source, "current") else source
    log(f"also serving the {what} {info.name} v{info.version}")
    return source


def serve(settings: Settings, *, model_name: str | None = None, host: str | None = None,
          port: int | None = None, seed: int | None = None, torch_threads: int = 1,
          images: bool | None = None, recommender: bool | None = None, log=print) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish and the log is flushed first.

    ``torch_threads=1``: a forward pass over 1-100 rows is too small to split
    across cores; measured on 2 cores, 100 rows took 1.9 ms with 2 intra-op
    threads and 0.26 ms with 1. Concurrency comes from the event loop instead.
    """
    import os

    import torch
    import uvicorn

    torch.set_num_threads(torch_threads)
    # A model swap downloads the new version: no progress bar in a server's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _log_swaps()
    cfg = settings.params.serving
    host, port = host or cfg.host, port or cfg.port
    app = build_app(settings, model_name, seed, images=images, recommender=recommender,
                    log=log)
    champion = app.state.source.current().info
    log(f"serving {champion.name} v{champion.version} on http://{host}:{port} "
        f"(log: {settings.prediction_log_url}, ε={cfg.epsilon}, threshold={cfg.threshold})")
    # loop/http "auto" pick uvloop and httptools when installed; access logs cost ~10%.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=30)
