"""HTTP routes for any task whose predictor answers ``predict_frame`` with a ``prediction``
and one ``prob_<class>`` column per class: ``POST /predict/<task>``.

A plugin task gets served with no serving code of its own. Records are checked against
the logged model's signature (every input present; unknown fields refused by name, except
the task's declared sensitive attributes, which are logged for fairness monitoring). The
decision is the argmax class, ε-greedy with its propensity (``policy.ClassPolicy``), and
every prediction is committed to the log before the answer, in the one row shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopwatch.config import ServingParams
from loopwatch.serving.app import Mount
from loopwatch.serving.champion import LoadedModel
from loopwatch.serving.http import earlier_answer, json_response, read_body
from loopwatch.serving.openapi import (
    Described,
    answers,
    json_body,
    predictions,
    records_body,
    signature_columns,
)
from loopwatch.serving.policy import ClassPolicy
from loopwatch.serving.requests import RequestError, loads, refuse_unscored
from loopwatch.serving.rows import build_rows, new_id


def input_names(loaded: LoadedModel) -> list[str]:
    signature = loaded.signature
    if signature is None or signature.inputs is None:
        raise TypeError(f"{loaded.info.model_uri} has no input signature to validate against")
    return list(signature.inputs.input_names())


def parse_records(body: bytes, inputs: Sequence[str], sensitive: Sequence[str],
                  max_rows: int) -> tuple[list[dict], list[dict]]:
    """``{"records": [...]}`` -> (model inputs, sensitive attributes) per record."""
    payload = loads(body)
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list) or not records:
        raise RequestError(422, 'expected {"records": [{...}, ...]}', field="records")
    if len(records) > max_rows:
        raise RequestError(413, f"{len(records)} records exceed the limit of {max_rows} "
                           "(serving.max_batch_rows)", field="records")
    known = {*inputs, *sensitive}
    model_in, groups = [], []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestError(422, f"record {i} must be an object", field="records", record=i)
        missing = [c for c in inputs if c not in record]
        unknown = sorted(set(record) - known)
        if missing or unknown:
            field = (missing or unknown)[0]
            why = "is missing" if missing else "is not an input of this model"
            raise RequestError(422, f"record {i}: field {field!r} {why} (inputs: "
                               f"{', '.join(inputs)})", field=field, record=i)
        for c in inputs:
            value = record[c]
            if isinstance(value, float) and not math.isfinite(value):
                raise RequestError(422, f"record {i}: field {c!r} is {value}: send null for a "
                                   "missing value", field=c, record=i)
        model_in.append({c: record[c] for c in inputs})
        groups.append({c: record[c] for c in sensitive if c in record})
    return model_in, groups


def frame_router(task: str, source, writer, params: ServingParams, *, epsilon: float = 0.0,
                 sensitive: Sequence[str] = (), rng: np.random.Generator | None = None
                 ) -> APIRouter:
    router = APIRouter()
    rng = rng if rng is not None else np.random.default_rng()

    @router.post(f"/predict/{task}")
    async def predict(request: Request) -> Response:
        body = await read_body(request, params.max_body_bytes)
        loaded = source.current()  # this request's snapshot, whatever swaps meanwhile
        replay = await earlier_answer(request, writer.store, loaded.info.name)
        if replay is not None:
            return replay
        inputs, groups = parse_records(body, input_names(loaded), sensitive,
                                       params.max_batch_rows)
        try:
            out = loaded.predictor.predict_frame(pd.DataFrame.from_records(inputs))
        except (ValueError, TypeError) as exc:  # a value the model cannot take: the client's
            raise RequestError(422, f"the model refused the records: {exc}") from None
        classes = tuple(c.removeprefix("prob_") for c in out.columns if c.startswith("prob_"))
        proba = out[[f"prob_{c}" for c in classes]].to_numpy(dtype=np.float64)
        refuse_unscored(proba, inputs)
        policy = ClassPolicy(classes, epsilon)
        decisions = policy.decide(proba, rng)  # on the event loop thread only
        request_id = (request.headers.get("x-request-id") or new_id())[:64]
        rows, items = build_rows(
            model_name=loaded.info.name, model_version=loaded.info.version, classes=classes,
            inputs=inputs, sensitive=groups, proba=proba, decisions=decisions, policy=policy,
            source="http", request_id=request_id, metadata={"task": task})
        for row, p in zip(rows, proba.max(axis=1).tolist(), strict=True):
            row["score"] = p  # P(predicted class): no class is "positive" in general
        await writer.write(rows)  # durable before we answer
        return json_response({"model": {"name": loaded.info.name,
                                        "version": loaded.info.version},
                              "request_id": request_id, "predictions": items})

    return router


def describe_frames(task: str, source, params: ServingParams,
                    sensitive: Sequence[str]) -> Described:
    """``POST /predict/<task>``'s schemas from the served model's signature."""
    body = records_body(signature_columns(source.current().signature), sensitive,
                        params.max_batch_rows)
    return {f"/predict/{task}": {"post": {
        "requestBody": json_body(body),
        "responses": answers(predictions(), 400, 401, 413, 415, 422, 503)}}}


def frame_mount(task: str, source, params: ServingParams, *, epsilon: float = 0.0,
                sensitive: Sequence[str] = (), seed: int | None = None) -> Mount:
    rng = np.random.default_rng(seed)
    return Mount(task, source, lambda writer: frame_router(
        task, source, writer, params, epsilon=epsilon, sensitive=sensitive, rng=rng),
        lambda: describe_frames(task, source, params, sensitive))


def read_records(path) -> pd.DataFrame:
    """A CSV or Parquet file of raw records; one clear error otherwise."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    from loopwatch.data.files import unreadable

    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{path}: give a .csv or .parquet file of records")
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ValueError as exc:
        raise unreadable(path, exc) from None


def predict_records(settings, name: str, path) -> pd.DataFrame:
    """``models:/NAME@champion``'s predictions for the records of a file, beside them."""
    from mlflow.tracking import MlflowClient

    from loopwatch.serving.champion import load_logged

    records = read_records(path)
    version = MlflowClient(settings.tracking_uri).get_model_version_by_alias(name, "champion")
    loaded = load_logged(settings.tracking_uri, name, str(version.version))
    missing = [c for c in input_names(loaded) if c not in records.columns]
    if missing:
        raise ValueError(f"{path}: column(s) {missing} missing; the model takes "
                         f"{', '.join(input_names(loaded))}")
    out = loaded.predictor.predict_frame(records[input_names(loaded)])
    return pd.concat([records.reset_index(drop=True), out], axis=1)
