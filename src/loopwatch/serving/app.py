"""The HTTP service: ``create_app(source, store, params)`` builds it; nothing is global.

Routes:
    POST /predict        records in; per record an id, label, probabilities, decision,
                         propensity, exploration flag and model version out
    POST /feedback       delayed labels for prediction ids (see ``feedback``)
    GET  /health         200 while a model is loaded
    GET  /model          name, version, alias, run id, data hash of the served model
    POST /admin/reload   re-check the champion alias now (the poller does it every
                         ``reload_interval_s`` anyway)

Every prediction is committed to the log before its response is sent (group
commit, ``writer``); a rejected request (4xx) writes nothing. The handler is
``async`` and does its CPU work inline: validation and a forward pass of a small
net take ~0.3 ms for one record and ~1.5 ms for 100; a thread pool would only add
hand-offs (the GIL allows one of them to run at a time anyway).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

from loopwatch.config import ServingParams
from loopwatch.serving.http import add_error_handlers, feedback_router, json_response, read_body
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.predictor import NoChampion, PredictorSource
from loopwatch.serving.schemas import RequestError
from loopwatch.serving.scoring import build_rows, new_id
from loopwatch.serving.writer import GroupCommitWriter


def create_app(source: PredictorSource, store: LogStore, params: ServingParams | None = None, *,
               policy: DecisionPolicy | None = None, rng: np.random.Generator | None = None,
               seed: int | None = None, image_source: PredictorSource | None = None,
               recommender: Any = None) -> FastAPI:
    """The service over a model source and a log store; ``params`` bring limits and policy.

    ``image_source`` (an image model's holder) adds ``POST /predict/image`` (``image_app``).
    """
    params = params or ServingParams()
    policy = policy or DecisionPolicy.from_params(params)
    # Decisions are drawn on the event loop thread only, so one generator is safe.
    rng = rng if rng is not None else np.random.default_rng(seed)
    writer = GroupCommitWriter(store)
    sources = [source] if image_source is None else [source, image_source]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer.start()
        for each in sources:
            each.start()
        try:
            yield
        finally:  # uvicorn has drained in-flight requests by now: flush, then stop
            for each in sources:
                each.stop()
            await writer.aclose()

    app = FastAPI(title="loopwatch", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.writer, app.state.store, app.state.source = writer, store, source

    add_error_handlers(app)

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = await read_body(request, params.max_body_bytes)
        champion = source.current()  # this request's snapshot, whatever swaps meanwhile
        parsed = champion.schema.parse_body(body, params.max_batch_rows)
        info = champion.info
        if parsed.model is not None and parsed.model != info.name:
            raise RequestError(404, f"unknown model {parsed.model!r}: this service serves "
                               f"{info.name!r}", field="model")
        proba = champion.predict_proba(parsed.inputs)
        decisions = policy.decide(proba[:, -1], rng)
        request_id = (request.headers.get("x-request-id") or new_id())[:64]
        meta = {"client": request.client.host if request.client else None,
                "user_agent": request.headers.get("user-agent"), "n_records": len(proba)}
        if parsed.metadata:
            meta["metadata"] = parsed.metadata
        rows, items = build_rows(
            model_name=info.name, model_version=info.version, classes=champion.spec.classes,
            inputs=parsed.inputs, sensitive=parsed.sensitive, proba=proba, decisions=decisions,
            policy=policy, source="http", request_id=request_id, metadata=meta)
        await writer.write(rows)  # durable before we answer
        return json_response({"model": {"name": info.name, "version": info.version},
                      "request_id": request_id, "predictions": items})

    app.include_router(feedback_router(store, params))

    @app.get("/health")
    async def health() -> Response:
        error = getattr(source, "last_error", None)
        try:
            version = source.current().info.version
        except NoChampion as exc:
            return json_response({"status": "no-model", "detail": str(exc)}, 503)
        return json_response({"status": "ok", "model_version": version, "last_reload_error": error})

    @app.get("/model")
    async def model() -> Response:
        champion = source.current()
        return json_response({**champion.info.__dict__, "inputs": list(champion.schema.input_names),
                      "sensitive": list(champion.schema.sensitive_names),
                      "classes": list(champion.spec.classes), "actions": list(policy.actions),
                      "threshold": policy.threshold, "epsilon": policy.epsilon})

    @app.post("/admin/reload")
    async def reload() -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            changed = await run_in_threadpool(source.refresh)
        except Exception as exc:  # the registry is unreachable or the new model broken:
            # the current model keeps serving; say why.
            return json_response({"detail": f"reload failed, still serving the current model: "
                                    f"{type(exc).__name__}: {exc}"}, 503)
        return json_response({"changed": changed, "version": source.current().info.version})

    if image_source is not None:
        from loopwatch.serving.image_app import image_router

        app.include_router(image_router(image_source, writer, params))
    if recommender is not None:  # a RecommenderSource: GET /recommend/{user} (recommend_app)
        from loopwatch.serving.recommend_app import recommend_router

        app.include_router(recommend_router(recommender, writer, rng))
    return app
