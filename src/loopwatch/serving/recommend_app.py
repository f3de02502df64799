"""Top-k recommendations over HTTP: a router the main service can include, or its own app.

``GET /recommend/{user_id}?k=10`` answers the collab champion's slate for a MovieLens
user: item ids, titles, predicted ratings, and each item's propensity with the exploration
flag (ε-greedy, as in the loop simulation), so logged consumption can be IPS-weighted
later. ``recommend_router(source, writer)`` is injected with a loaded model and the
prediction log's writer; nothing is global.

Every shown item is one prediction-log row, committed before the answer: ``inputs`` hold
user, item and rank, ``prediction`` the item id, ``score`` the predicted rating, and
``decision`` is ``shown``. The response gives each item its ``prediction_id``; the user's
rating comes back through ``POST /feedback`` (label "1".."5", origin ``model-selected`` or
``exploration``), which is what ``loopwatch recsys monitor`` reads (``recsys.live``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request

from loopwatch.serving.jsonio import dumps
from loopwatch.serving.scoring import new_id, new_ids, utc_now
from loopwatch.serving.writer import GroupCommitWriter
from loopwatch.tasks.recsys.params import RecsysParams
from loopwatch.tasks.recsys.predictor import CollabPredictor

SHOWN = "shown"  # the decision logged for every item of a served slate


@dataclass(frozen=True)
class RecommenderSource:
    name: str
    version: str
    predictor: CollabPredictor
    epsilon: float = 0.0  # share of requests answered with a uniformly random slate


def champion_source(settings, model_name: str | None = None) -> RecommenderSource:
    """Load ``models:/NAME@champion`` (the version it points to) for serving."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from loopwatch.tasks.recsys.pyfunc import load_recommender

    name = model_name or RecsysParams.from_settings(settings).model_name
    client = MlflowClient(settings.tracking_uri)
    try:
        version = client.get_model_version_by_alias(name, "champion").version
    except MlflowException as exc:
        raise FileNotFoundError(f"no champion for {name!r}: run `loopwatch recsys train` "
                                "first") from exc
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    return RecommenderSource(name, str(version), load_recommender(f"models:/{name}/{version}"),
                             RecsysParams.from_settings(settings).epsilon)


def slate_rows(source: RecommenderSource, user_id: int, slate: pd.DataFrame, request_id: str,
               meta: dict | None = None, now=None) -> list[dict]:
    """One prediction-log row per shown item (the shape ``scoring.build_rows`` writes)."""
    now = now or utc_now()
    ids = new_ids(len(slate))
    meta_json = dumps(meta) if meta else None
    return [{"id": pid, "ts": now, "model_name": source.name, "model_version": source.version,
             "source": "http", "request_id": request_id, "position": int(r.rank) - 1,
             "inputs": dumps({"user_id": int(user_id), "item_id": int(r.item_id),
                              "rank": int(r.rank)}),
             "prediction": str(int(r.item_id)), "score": float(r.score),
             "probabilities": "{}",  # a rating model: no class distribution to log
             "decision": SHOWN, "propensity": float(r.propensity),
             "explored": bool(r.exploration), "sensitive": {}, "request_meta": meta_json}
            for pid, r in zip(ids, slate.itertuples(), strict=True)]


def recommend_router(source: RecommenderSource, writer: GroupCommitWriter | None = None,
                     rng: np.random.Generator | None = None, max_k: int = 100) -> APIRouter:
    """``GET /recommend/{user_id}``; with a ``writer`` every shown item is logged first."""
    router = APIRouter()
    rng = rng if rng is not None else np.random.default_rng()

    # async with the work inline (scoring 1,682 items is ~0.1 ms): it runs on the event loop
    # thread, so the shared generator is never used from two threads at once.
    @router.get("/recommend/{user_id}")
    async def recommend(request: Request, user_id: int,
                        k: int = Query(10, ge=1, le=max_k)) -> dict:
        predictor = source.predictor
        if k > len(predictor.items.ids):
            raise HTTPException(422, f"k={k} exceeds the catalogue")
        slate = predictor.slate(user_id, k, source.epsilon, rng)
        request_id = (request.headers.get("x-request-id") or new_id())[:64]
        ids = [None] * len(slate)
        if writer is not None:
            meta = {"client": request.client.host if request.client else None,
                    "kind": "recommendation", "k": k}
            rows = slate_rows(source, user_id, slate, request_id, meta)
            await writer.write(rows)  # durable before we answer
            ids = [row["id"] for row in rows]
        return {"model": {"name": source.name, "version": source.version},
                "request_id": request_id, "user_id": user_id,
                "known_user": predictor.knows(user_id),
                "items": [{"prediction_id": pid, "item_id": int(r.item_id), "title": r.title,
                           "score": float(r.score), "rank": int(r.rank),
                           "propensity": float(r.propensity),
                           "exploration": bool(r.exploration)}
                          for pid, r in zip(ids, slate.itertuples(), strict=True)]}

    return router


def create_recommend_app(source: RecommenderSource, store=None, seed: int | None = None,
                         params=None) -> FastAPI:
    """A service that only recommends (``loopwatch recsys serve``); logs when given a store."""
    from loopwatch.config import ServingParams
    from loopwatch.serving.http import add_error_handlers, feedback_router

    writer = GroupCommitWriter(store) if store is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if writer is not None:
            writer.start()
        try:
            yield
        finally:
            if writer is not None:
                await writer.aclose()

    app = FastAPI(title="loopwatch recommender", lifespan=lifespan, docs_url="/docs",
                  redoc_url=None)
    add_error_handlers(app)
    app.include_router(recommend_router(source, writer, np.random.default_rng(seed)))
    if store is not None:
        app.include_router(feedback_router(store, params or ServingParams()))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": source.name, "version": source.version}

    return app
