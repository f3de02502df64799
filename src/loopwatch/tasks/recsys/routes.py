"""Top-k recommendations over HTTP: a router the main service can include, or its own app.

``GET /recommend/{user_id}?k=10`` answers the collab champion's slate for a MovieLens
user: item ids, titles, predicted ratings, and each item's propensity with the exploration
flag (ε-greedy, as in the loop simulation), so logged consumption can be IPS-weighted
later. ``recommend_router(source, writer)`` is injected with a model holder (hot reload,
like every task's) and the prediction log's writer; nothing is global.

Every shown item is one prediction-log row, committed before the answer: ``inputs`` hold
user, item and rank, ``prediction`` the item id, ``score`` the predicted rating, and
``decision`` is ``shown``. The response gives each item its ``prediction_id``; the user's
rating comes back through ``POST /feedback`` (label "1".."5", origin ``model-selected`` or
``exploration``), which is what ``loopwatch recsys monitor`` reads (``recsys.live``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request

from loopwatch.config import ServingParams
from loopwatch.serving.app import Mount, create_app
from loopwatch.serving.champion import LoadedModel, NoChampion, loader_requiring
from loopwatch.serving.http import logged_rows
from loopwatch.serving.jsonio import dumps
from loopwatch.serving.openapi import Described, answers
from loopwatch.serving.rows import new_id, new_ids, utc_now
from loopwatch.serving.writer import GroupCommitWriter
from loopwatch.tasks.recsys.params import RecsysParams

SHOWN = "shown"  # the decision logged for every item of a served slate


# The recommender champion: the loaded model (lineage + CollabPredictor).
RecsysChampion = LoadedModel
load_recsys_version = loader_requiring("slate", "recommender")


def champion_source(settings, model_name: str | None = None, poll: bool = True):
    """A hot-reloading holder of ``models:/NAME@champion``; a missing one says what to run."""
    from loopwatch.serving.server import holder_for

    name = model_name or RecsysParams.from_settings(settings).model_name
    try:
        return holder_for(settings, name, load_recsys_version, poll=poll)
    except NoChampion as exc:
        raise NoChampion(f"no champion for {name!r}: run `loopwatch recsys train` first "
                         f"({exc})") from None


def slate_rows(champion: RecsysChampion, user_id: int, slate: pd.DataFrame, request_id: str,
               meta: dict | None = None, now=None) -> list[dict]:
    """One prediction-log row per shown item (the shape ``rows.build_rows`` writes)."""
    now = now or utc_now()
    ids = new_ids(len(slate))
    meta_json = dumps(meta) if meta else None
    info = champion.info
    return [{"id": pid, "ts": now, "model_name": info.name, "model_version": info.version,
             "source": "http", "request_id": request_id, "position": int(r.rank) - 1,
             "inputs": dumps({"user_id": int(user_id), "item_id": int(r.item_id),
                              "rank": int(r.rank)}),
             "prediction": str(int(r.item_id)), "score": float(r.score),
             "probabilities": "{}",  # a rating model: no class distribution to log
             "decision": SHOWN, "propensity": float(r.propensity),
             "explored": bool(r.exploration), "sensitive": {},
             "request_meta": meta_json if i == 0 else None}  # once per request
            for i, (pid, r) in enumerate(zip(ids, slate.itertuples(), strict=True))]


def slate_answer(champion: RecsysChampion, request_id: str, user_id: int, items: list[dict],
                 version: str | None = None) -> dict:
    """The answer; with the logged ``version`` of a replayed slate, marked as a replay."""
    answer = {"model": {"name": champion.info.name, "version": version or champion.info.version},
              "request_id": request_id, "user_id": user_id,
              "known_user": champion.predictor.knows(user_id), "items": items}
    return {**answer, "replayed": True} if version else answer


def recommend_router(source, writer: GroupCommitWriter, epsilon: float = 0.0,
                     rng: np.random.Generator | None = None, max_k: int = 100) -> APIRouter:
    """``GET /recommend/{user_id}``: every shown item is logged before the answer."""
    router = APIRouter()
    rng = rng if rng is not None else np.random.default_rng()

    # async with the work inline (scoring 1,682 items is ~0.1 ms): it runs on the event loop
    # thread, so the shared generator is never used from two threads at once.
    @router.get("/recommend/{user_id}")
    async def recommend(request: Request, user_id: int = Path(ge=0, lt=2**63),
                        k: int = Query(10, ge=1, le=max_k)) -> dict:
        champion = source.current()  # this request's snapshot, whatever swaps meanwhile
        predictor = champion.predictor
        if k > len(predictor.items.ids):
            raise HTTPException(422, f"k={k} exceeds the catalogue")
        request_id, logged = await logged_rows(request, writer.store, champion.info.name)
        if logged:  # a retry: the slate shown then, logged once
            items = [{"prediction_id": row["id"], "item_id": row["inputs"]["item_id"],
                      "title": predictor.titles.get(row["inputs"]["item_id"], ""),
                      "score": row["score"], "rank": row["inputs"]["rank"],
                      "propensity": row["propensity"], "exploration": row["explored"]}
                     for row in logged]
            return slate_answer(champion, request_id, logged[0]["inputs"]["user_id"], items,
                                version=logged[0]["model_version"])
        slate = predictor.slate(user_id, k, epsilon, rng)
        request_id = request_id or new_id()
        meta = {"client": request.client.host if request.client else None,
                "kind": "recommendation", "k": k}
        rows = slate_rows(champion, user_id, slate, request_id, meta)
        await writer.write(rows)  # durable before we answer
        return slate_answer(champion, request_id, user_id, [
            {"prediction_id": row["id"], "item_id": int(r.item_id), "title": r.title,
             "score": float(r.score), "rank": int(r.rank), "propensity": float(r.propensity),
             "exploration": bool(r.exploration)}
            for row, r in zip(rows, slate.itertuples(), strict=True)])

    return router


def describe_recommend() -> Described:
    """``GET /recommend/{user_id}``'s answer: the slate, each item with its propensity."""
    item = {"type": "object",
            "required": ["prediction_id", "item_id", "title", "score", "rank", "propensity",
                         "exploration"],
            "properties": {"prediction_id": {"type": "string"}, "item_id": {"type": "integer"},
                           "title": {"type": "string"}, "score": {"type": "number"},
                           "rank": {"type": "integer", "minimum": 1},
                           "propensity": {"type": "number", "minimum": 0, "maximum": 1},
                           "exploration": {"type": "boolean"}}}
    slate = {"type": "object",
             "required": ["model", "request_id", "user_id", "known_user", "items"],
             "properties": {"model": {"type": "object"}, "request_id": {"type": "string"},
                            "user_id": {"type": "integer"}, "known_user": {"type": "boolean"},
                            "items": {"type": "array", "items": item},
                            "replayed": {"type": "boolean"}}}
    return {"/recommend/{user_id}": {"get": {"responses": answers(slate, 400, 401, 422, 503)}}}


def recsys_mount(source, *, epsilon: float = 0.0, seed: int | None = None) -> Mount:
    rng = np.random.default_rng(seed)
    return Mount("recsys", source, lambda writer: recommend_router(source, writer, epsilon, rng),
                 describe_recommend)


def create_recommend_app(source, store, *, seed: int | None = None, epsilon: float = 0.0,
                         params: ServingParams | None = None) -> FastAPI:
    """A service that only recommends (``loopwatch recsys serve``), with /feedback."""
    return create_app([recsys_mount(source, epsilon=epsilon, seed=seed)], store, params)
