"""The tabular task over HTTP: ``POST /predict`` (records in; per record an id, label,
probabilities, decision, propensity, exploration flag and model version out) and
``GET /model`` (what the served model takes and how it decides).

The handler is ``async`` and does a small request's CPU work inline: validation and a
forward pass of a small net take ~0.3 ms for one record and ~1.5 ms for 100, less than a
thread hand-off. A big request (over ``BIG_BODY_BYTES``) is validated, scored and turned
into log rows in a thread, one big request at a time, so small ones keep being answered.
"""

from __future__ import annotations

import asyncio

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopwatch.config import ServingParams
from loopwatch.serving.app import Mount, create_app
from loopwatch.serving.champion import PredictorSource
from loopwatch.serving.http import earlier_answer, json_response, prediction_item, read_body
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.openapi import Described, answers, json_body, predictions, records_body
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.requests import RequestError, refuse_unscored
from loopwatch.serving.rows import build_rows, new_id
from loopwatch.serving.writer import GroupCommitWriter

BIG_BODY_BYTES = 32_768  # ~40 Adult records: above this, a request is scored in a thread


def tabular_router(source: PredictorSource, writer: GroupCommitWriter, params: ServingParams,
                   policy: DecisionPolicy, rng: np.random.Generator) -> APIRouter:
    router = APIRouter()
    big_turn = asyncio.Semaphore(1)

    @router.post("/predict")
    async def predict(request: Request) -> Response:
        body = await read_body(request, params.max_body_bytes)
        champion = source.current()  # this request's snapshot, whatever swaps meanwhile
        replay = await earlier_answer(
            request, writer.store, champion.info.name,
            lambda row: flagged(prediction_item(row), champion.outside_ranges([row["inputs"]])[0]))
        if replay is not None:
            return replay
        info = champion.info

        def scored():  # validation and the forward pass: CPU work proportional to the body
            parsed = champion.schema.parse_body(body, params.max_batch_rows)
            if parsed.model is not None and parsed.model != info.name:
                raise RequestError(404, f"unknown model {parsed.model!r}: this service "
                                   f"serves {info.name!r}", field="model")
            proba = champion.predict_proba(parsed.inputs)
            refuse_unscored(proba, parsed.inputs)
            return parsed, proba

        def logged(parsed, proba, decisions):  # the log rows and the answer's items
            meta = {"client": request.client.host if request.client else None,
                    "user_agent": request.headers.get("user-agent"), "n_records": len(proba)}
            if parsed.metadata:
                meta["metadata"] = parsed.metadata
            outside = champion.outside_ranges(parsed.inputs)
            if any(outside):  # how many of this request's records the model extrapolated on
                meta["outside_training_range"] = sum(1 for cols in outside if cols)
            rows, items = build_rows(
                model_name=info.name, model_version=info.version,
                classes=champion.spec.classes, inputs=parsed.inputs, sensitive=parsed.sensitive,
                proba=proba, decisions=decisions, policy=policy, source="http",
                request_id=request_id, metadata=meta)
            return rows, [flagged(item, cols) for item, cols in zip(items, outside, strict=True)]

        request_id = (request.headers.get("x-request-id") or new_id())[:64]
        # Decisions are drawn on the event loop thread only, so one generator is safe.
        if len(body) <= BIG_BODY_BYTES:  # on the loop: a thread hop would cost more
            parsed, proba = scored()
            rows, items = logged(parsed, proba, policy.decide(proba[:, -1], rng))
        else:
            # One at a time: the other big ones wait without using the CPU, and small ones
            # get the interpreter between its turns (four big requests scoring at once held
            # small ones' p99 at ~350 ms; one at a time, ~290; with serve's 1 ms switch
            # interval, ~80).
            async with big_turn:
                parsed, proba = await run_in_threadpool(scored)
                decisions = policy.decide(proba[:, -1], rng)
                rows, items = await run_in_threadpool(logged, parsed, proba, decisions)
        await writer.write(rows)  # durable before we answer
        return json_response({"model": {"name": info.name, "version": info.version},
                              "request_id": request_id, "predictions": items})

    @router.get("/model")
    async def model() -> Response:
        champion = source.current()
        return json_response({**champion.info.__dict__,
                              "inputs": list(champion.schema.input_names),
                              "sensitive": list(champion.schema.sensitive_names),
                              "classes": list(champion.spec.classes),
                              "actions": list(policy.actions), "threshold": policy.threshold,
                              "epsilon": policy.epsilon})

    return router


def flagged(item: dict, outside: list[str]) -> dict:
    """An answer's item, with the inputs outside their training range when there are any:
    the model extrapolates there, so the client may want to treat the score with care."""
    return {**item, "outside_training_range": outside} if outside else item


def describe_tabular(source: PredictorSource, params: ServingParams) -> Described:
    """``POST /predict``'s schemas from the served champion's inputs and their types."""
    schema = source.current().schema
    body = records_body([(f.name, f.kind, f.nullable) for f in schema.inputs],
                        schema.sensitive_names, params.max_batch_rows,
                        extra={"metadata": {"type": "object"}, "model": {"type": "string"}})
    return {"/predict": {"post": {
        "requestBody": json_body(body),
        "responses": answers(predictions({"outside_training_range": {
            "type": "array", "items": {"type": "string"},
            "description": "inputs outside the range seen in training"}}),
            400, 401, 404, 413, 415, 422, 503)}}}


def tabular_mount(source: PredictorSource, params: ServingParams, *, epsilon: float = 0.0,
                  policy: DecisionPolicy | None = None, rng: np.random.Generator | None = None,
                  seed: int | None = None) -> Mount:
    policy = policy or DecisionPolicy(params.threshold, epsilon)
    rng = rng if rng is not None else np.random.default_rng(seed)
    return Mount("tabular", source,
                 lambda writer: tabular_router(source, writer, params, policy, rng),
                 lambda: describe_tabular(source, params))


def create_tabular_app(source: PredictorSource, store: LogStore,
                       params: ServingParams | None = None, *, epsilon: float = 0.0,
                       policy: DecisionPolicy | None = None,
                       rng: np.random.Generator | None = None, seed: int | None = None,
                       also: tuple[Mount, ...] = ()) -> FastAPI:
    """A service whose primary model is a tabular one (plus any ``also`` mounts)."""
    params = params or ServingParams()
    mount = tabular_mount(source, params, epsilon=epsilon, policy=policy, rng=rng, seed=seed)
    return create_app([mount, *also], store, params)


def champion_holder(settings, model_name: str | None = None, poll: bool = True):
    """A hot-reloading holder of the tabular champion (``models:/NAME@champion``)."""
    from loopwatch.serving.server import holder_for
    from loopwatch.tasks.tabular.champion import load_version
    from loopwatch.tasks.tabular.params import TabularParams

    name = model_name or TabularParams.from_settings(settings).model_name
    return holder_for(settings, name, load_version, poll=poll)
