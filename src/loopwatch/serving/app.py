"""The HTTP service: ``create_app(mounts, store, params)`` builds it; nothing is global.

Each task that serves brings a ``Mount``: its champion source (a ``ChampionHolder`` with
hot reload) and a router factory that gets the prediction log's writer (the tabular
task's ``POST /predict``, the image task's ``POST /predict/image``, the recommender's
``GET /recommend/{user}``). The app adds what every task shares:

    POST /feedback       delayed labels for prediction ids (see ``feedback``)
    GET  /health         200 while every mounted task has a model loaded
    POST /admin/reload   re-check every champion alias now (the pollers do it every
                         ``reload_interval_s`` anyway)

Every prediction is committed to the log before its response is sent (group commit,
``writer``); a rejected request (4xx) writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from loopwatch.config import ServingParams
from loopwatch.serving.access import Access, AccessMiddleware
from loopwatch.serving.champion import NoChampion, PredictorSource
from loopwatch.serving.http import (
    add_error_handlers,
    describe_shared,
    feedback_router,
    json_response,
)
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.openapi import Described, publish
from loopwatch.serving.writer import GroupCommitWriter


@dataclass(frozen=True)
class Mount:
    """One task in the service: its name, its model source, its routes."""

    task: str
    source: PredictorSource
    routes: Callable[[GroupCommitWriter], APIRouter]
    # The routes' request and response schemas for the OpenAPI document (``openapi.py``),
    # read from the champion served when the document is asked for.
    describe: Callable[[], Described] | None = None


def create_app(mounts: Sequence[Mount], store: LogStore,
               params: ServingParams | None = None, access: Access | None = None) -> FastAPI:
    """The service over the mounted tasks and a log store; ``params`` bring the limits,
    ``access`` who may call it (``access.py``; the served app always has one)."""
    if not mounts:
        raise ValueError("nothing to serve: no task is mounted")
    params = params or ServingParams()
    writer = GroupCommitWriter(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer.start()
        for mount in mounts:
            mount.source.start()
        try:
            yield
        finally:  # uvicorn has drained in-flight requests by now: flush, then stop
            for mount in mounts:
                mount.source.stop()
            await writer.aclose()

    app = FastAPI(title="loopwatch", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    # The first mount is the primary model (`loopwatch serve` logs it; tests inspect it).
    app.state.writer, app.state.store, app.state.source = writer, store, mounts[0].source
    app.state.mounts = {mount.task: mount for mount in mounts}
    add_error_handlers(app)
    if access is not None:
        app.add_middleware(AccessMiddleware, access=access)
    for mount in mounts:
        app.include_router(mount.routes(writer))
    app.include_router(feedback_router(store, params))

    @app.get("/health")
    async def health() -> Response:
        models, problems = {}, {}
        for mount in mounts:
            try:
                models[mount.task] = mount.source.current().info.version
            except NoChampion as exc:
                models[mount.task], problems[mount.task] = None, str(exc)
        primary = mounts[0]
        body = {"status": "ok" if not problems else "no-model", "models": models,
                "model_version": models[primary.task],
                "last_reload_error": getattr(primary.source, "last_error", None)}
        if problems:
            body["detail"] = "; ".join(f"{task}: {why}" for task, why in problems.items())
        return json_response(body, 503 if problems else 200)

    @app.post("/admin/reload")
    async def reload() -> Response:
        from starlette.concurrency import run_in_threadpool

        changed = {}
        for mount in mounts:
            try:
                changed[mount.task] = await run_in_threadpool(mount.source.refresh)
            except Exception as exc:  # the registry is unreachable or the new model broken:
                # the current model keeps serving; say why.
                return json_response({"detail": f"reload of {mount.task} failed, still "
                                      f"serving the current model: {type(exc).__name__}: "
                                      f"{exc}"}, 503)
        primary = mounts[0]
        return json_response({"changed": changed[primary.task],
                              "version": primary.source.current().info.version})

    publish(app, [*(m.describe for m in mounts if m.describe), lambda: describe_shared(params)])
    return app
