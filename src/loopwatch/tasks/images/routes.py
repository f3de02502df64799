"""Image predictions over HTTP: ``POST /predict/image`` takes PNG or JPEG uploads.

Three ways to send images, one request each:
    curl --data-binary @shirt.png -H 'content-type: image/png' .../predict/image
    curl -F file=@shirt.png -F file=@boot.jpg .../predict/image        (multipart)
    {"images": ["<base64>", ...]}                                    (JSON)

A corrupt file is a 422, a file that is not PNG/JPEG a 415, too many bytes or pixels
a 413 — and a rejected request logs nothing. Every accepted image is committed to
the prediction log before the answer, like tabular predictions: inputs hold the
file's sha256, size, format, brightness/contrast/sharpness and the backbone
embedding (never the pixels), which is what image drift monitoring reads.

``images_mount`` adds the routes to the one service (``serving.app.create_app``);
``create_image_app`` is a service for an image model alone. The decode + forward
pass runs in a worker thread: a backbone takes tens of ms per image, too long to
hold the event loop.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopwatch.config import ServingParams
from loopwatch.serving.app import Mount, create_app
from loopwatch.serving.champion import LoadedModel, loader_requiring
from loopwatch.serving.http import earlier_answer, json_response, prediction_item, read_body
from loopwatch.serving.openapi import Described, answers, predictions
from loopwatch.serving.policy import ClassPolicy, Decisions
from loopwatch.serving.requests import RequestError, loads
from loopwatch.serving.rows import build_rows, new_id
from loopwatch.serving.writer import GroupCommitWriter

IMAGE_TYPES = ("image/png", "image/jpeg")


# The image champion: the loaded model (lineage + ImagePredictor) of ``serving.champion``.
ImageChampion = LoadedModel
load_image_version = loader_requiring("predict_pixels", "image model")


async def read_uploads(request: Request, params: ServingParams) -> list[bytes]:
    """The uploaded files' bytes, whichever of the three request forms was used."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in IMAGE_TYPES:
        return [await read_body(request, params.max_body_bytes)]
    if ctype == "multipart/form-data":
        # Read through the bounded reader first: a chunked upload (no content-length) would
        # otherwise be parsed whole, past the limit.
        body = await read_body(request, params.max_body_bytes)

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=params.max_batch_rows,
                                                         max_fields=10)
        files = [await v.read() for _, v in form.multi_items() if hasattr(v, "read")]
        if not files:
            raise RequestError(422, "multipart body has no file part", field="file")
        return files
    if ctype == "application/json":
        payload = loads(await read_body(request, params.max_body_bytes), field="images")
        images = payload.get("images") if isinstance(payload, dict) else None
        if not isinstance(images, list) or not images:
            raise RequestError(422, 'expected {"images": ["<base64 PNG/JPEG>", ...]}',
                               field="images")
        try:
            return [base64.b64decode(s, validate=True) for s in images]
        except (binascii.Error, TypeError, ValueError):
            raise RequestError(422, "images must be base64 strings", field="images") from None
    raise RequestError(415, f"content-type {ctype or 'none'!r} is not accepted: send "
                       "image/png, image/jpeg, multipart/form-data or application/json")


def decode_uploads(predictor, blobs: list[bytes], max_pixels: int):
    """Pixels at the model's size, original sizes and formats; the first bad file -> 4xx."""
    from loopwatch.tasks.images.decode import ImageError, decode, to_array

    pixels, sizes, formats = [], [], []
    for i, blob in enumerate(blobs):
        try:
            image = decode(blob, max_pixels=max_pixels)
        except ImageError as exc:
            text = str(exc)
            status = (413 if "exceed" in text else 415 if "not an image" in text
                      or "not accepted" in text else 422)
            raise RequestError(status, f"image {i}: {text}", field="image", record=i) from None
        sizes.append(image.size)
        formats.append(image.format)
        pixels.append(to_array(image, predictor.raw_size, predictor.channels))
    return np.stack(pixels), sizes, formats


def image_rows(champion: ImageChampion, proba: np.ndarray, inputs: list[dict], source: str,
               request_id: str, meta: dict | None = None, *, policy: ClassPolicy | None = None,
               decisions: Decisions | None = None) -> tuple[list[dict], list[dict]]:
    """Prediction-log rows and response items for scored images (``rows.build_rows``); the
    score is P(predicted class): there is no "positive" class here. Without ``decisions``
    the greedy ones (the predicted class, propensity 1)."""
    policy = policy or ClassPolicy(tuple(champion.predictor.classes))
    decisions = decisions if decisions is not None else policy.decide(proba, None)
    rows, items = build_rows(
        model_name=champion.info.name, model_version=champion.info.version,
        classes=champion.predictor.classes, inputs=inputs, sensitive=[], proba=proba,
        decisions=decisions, policy=policy, source=source, request_id=request_id,
        metadata=meta)
    for row, item, p in zip(rows, items, proba.max(axis=1).tolist(), strict=True):
        row["score"] = p
        item["probability"] = p
    return rows, items


def image_router(source, writer: GroupCommitWriter, params: ServingParams,
                 epsilon: float = 0.0, rng: np.random.Generator | None = None,
                 max_pixels: int = 40_000_000) -> APIRouter:
    router = APIRouter()
    rng = rng if rng is not None else np.random.default_rng()

    def score(champion: ImageChampion, blobs: list[bytes]):
        from loopwatch.tasks.images.monitor_frame import log_inputs

        pixels, sizes, formats = decode_uploads(champion.predictor, blobs, max_pixels)
        pred = champion.predictor.predict_pixels(pixels)
        return pred, log_inputs(blobs, pixels, pred.embeddings, sizes, formats)

    @router.post("/predict/image")
    async def predict_image(request: Request) -> Response:
        blobs = await read_uploads(request, params)
        if len(blobs) > params.max_batch_rows:
            raise RequestError(413, f"{len(blobs)} images exceed the limit of "
                               f"{params.max_batch_rows} (serving.max_batch_rows)")
        champion = source.current()  # this request's snapshot, whatever swaps meanwhile
        replay = await earlier_answer(request, writer.store, champion.info.name,
                                      lambda row: {**prediction_item(row),
                                                   "probability": row["score"]})
        if replay is not None:
            return replay
        pred, inputs = await run_in_threadpool(score, champion, blobs)
        policy = ClassPolicy(tuple(champion.predictor.classes), epsilon)
        decisions = policy.decide(pred.proba, rng)  # on the event loop thread only
        request_id = (request.headers.get("x-request-id") or new_id())[:64]
        meta = {"client": request.client.host if request.client else None,
                "user_agent": request.headers.get("user-agent"), "n_records": len(blobs),
                "kind": "image"}
        rows, items = image_rows(champion, pred.proba, inputs, "http", request_id, meta,
                                 policy=policy, decisions=decisions)
        await writer.write(rows)  # durable before we answer
        model = {"name": champion.info.name, "version": champion.info.version}
        return json_response({"model": model, "request_id": request_id, "predictions": items})

    @router.get("/model/image")
    async def image_model() -> Response:
        champion = source.current()
        p = champion.predictor
        return json_response({**champion.info.__dict__, "classes": list(p.classes),
                              "arch": p.config.arch, "input_size": p.config.input_size,
                              "raw_size": p.raw_size, "accepts": list(IMAGE_TYPES),
                              "epsilon": epsilon})

    return router


def describe_images(params: ServingParams) -> Described:
    """``POST /predict/image``'s three request forms and its answer."""
    binary = {"type": "string", "format": "binary"}
    files = {"type": "object", "required": ["file"], "properties": {"file": {
        "type": "array", "items": binary, "minItems": 1, "maxItems": params.max_batch_rows}}}
    images = {"type": "object", "required": ["images"], "properties": {"images": {
        "type": "array", "items": {"type": "string", "format": "byte"}, "minItems": 1,
        "maxItems": params.max_batch_rows}}}
    content = {**{kind: {"schema": binary} for kind in IMAGE_TYPES},
               "multipart/form-data": {"schema": files},
               "application/json": {"schema": images}}
    answer = predictions({"probability": {"type": "number"}})
    return {"/predict/image": {"post": {
        "requestBody": {"required": True, "content": content},
        "responses": answers(answer, 400, 401, 413, 415, 422, 503)}}}


def images_mount(source, params: ServingParams, *, epsilon: float = 0.0,
                 seed: int | None = None) -> Mount:
    rng = np.random.default_rng(seed)
    return Mount("images", source,
                 lambda writer: image_router(source, writer, params, epsilon, rng),
                 lambda: describe_images(params))


def create_image_app(source, store, params: ServingParams | None = None, *,
                     epsilon: float = 0.0, seed: int | None = None) -> FastAPI:
    """A service for one image model: /predict/image, /model/image, /feedback, /health."""
    params = params or ServingParams()
    return create_app([images_mount(source, params, epsilon=epsilon, seed=seed)], store, params)
