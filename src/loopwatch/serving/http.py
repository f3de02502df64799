"""What every task's HTTP routes share: JSON responses, bounded body reads, the error
handlers that turn a bad request into a 4xx (never a 500), and ``POST /feedback``.

Its own module so the app and each task's router import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from loopwatch.config import ServingParams
from loopwatch.serving.champion import NoChampion
from loopwatch.serving.feedback import FeedbackItem, FeedbackRequest
from loopwatch.serving.jsonio import dumps
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.openapi import Described, answers, json_body
from loopwatch.serving.requests import RequestError, loads
from loopwatch.serving.writer import WriterClosed


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"body of {declared} bytes exceeds the limit of {limit} "
                           "(serving.max_body_bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"body exceeds the limit of {limit} bytes "
                               "(serving.max_body_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def prediction_item(row: dict[str, Any]) -> dict[str, Any]:
    """A logged row as the prediction routes answer it."""
    return {"prediction_id": row["id"], "label": row["prediction"],
            "probabilities": row["probabilities"], "decision": row["decision"],
            "propensity": row["propensity"], "explored": row["explored"],
            "model_version": row["model_version"]}


async def logged_rows(request: Request, store: LogStore, model_name: str
                      ) -> tuple[str | None, list[dict[str, Any]]]:
    """The request's ``x-request-id`` (cut to 64) and the rows already logged for it."""
    from starlette.concurrency import run_in_threadpool

    request_id = (request.headers.get("x-request-id") or "")[:64] or None
    if request_id is None:
        return None, []
    return request_id, await run_in_threadpool(store.answered, request_id, model_name)


async def earlier_answer(request: Request, store: LogStore, model_name: str,
                         item: Callable[[dict], dict] = prediction_item) -> Response | None:
    """The logged answer to a retried request (same ``x-request-id``), or None."""
    request_id, rows = await logged_rows(request, store, model_name)
    if not rows:
        return None
    return json_response({"model": {"name": model_name, "version": rows[0]["model_version"]},
                          "request_id": request_id, "predictions": [item(r) for r in rows],
                          "replayed": True})


def parse_feedback(body: bytes, max_items: int) -> list:
    """``{"items": [...]}`` or a bare list of items; errors name the item and the field."""
    payload = loads(body, field="items")
    if isinstance(payload, list):
        payload = {"items": payload}
    try:
        request = FeedbackRequest.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise RequestError(422, f"{where}: {err['msg']}", field=where) from None
    if len(request.items) > max_items:
        raise RequestError(413, f"{len(request.items)} feedback items exceed the limit of "
                           f"{max_items} (serving.max_batch_rows)", field="items")
    return request.items


def add_error_handlers(app: FastAPI) -> None:
    """4xx for bad requests, 503 while the log, the writer or the model is unavailable."""

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Response:
        return json_response(exc.to_dict(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_parameter(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own checks (path and query parameters) in the same shape as ours.
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"][1:]) or "request"
        return json_response({"detail": f"{where}: {err['msg']}", "field": where}, 422)

    @app.exception_handler(SQLAlchemyError)
    async def _log_down(request: Request, exc: SQLAlchemyError) -> Response:
        return json_response({"detail": f"prediction log unavailable: {type(exc).__name__}"}, 503)

    @app.exception_handler(NoChampion)
    async def _no_model(request: Request, exc: NoChampion) -> Response:
        return json_response({"detail": str(exc)}, 503)

    @app.exception_handler(WriterClosed)
    async def _closing(request: Request, exc: WriterClosed) -> Response:
        return json_response({"detail": "the service is shutting down"}, 503)


def feedback_router(store: LogStore, params: ServingParams) -> APIRouter:
    """``POST /feedback``: delayed labels for logged prediction ids, one transaction."""
    router = APIRouter()

    @router.post("/feedback")
    async def feedback(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        items = parse_feedback(await read_body(request, params.max_body_bytes),
                               params.max_batch_rows)
        report = await run_in_threadpool(store.add_feedback, items)
        return json_response(report.to_dict(), report.status)

    return router


def describe_shared(params: ServingParams) -> Described:
    """The OpenAPI schemas of the routes every service has (``openapi.publish``)."""
    item = FeedbackItem.model_json_schema()
    items = {"type": "array", "items": item, "minItems": 1, "maxItems": params.max_batch_rows}
    ids = {"type": "array", "items": {"type": "string"}}
    report = {"type": "object", "required": ["ok", "accepted", "summary"],
              "properties": {"ok": {"type": "boolean"}, "accepted": ids, "duplicates": ids,
                             "unknown_ids": ids, "summary": {"type": "string"},
                             "conflicts": {"type": "array", "items": {"type": "object"}}}}
    feedback = answers(report, 400, 401, 413, 415, 422, 503)
    feedback["404"] = feedback["409"] = {  # partly stored: the report says which items
        "description": "some ids unknown (404) or labelled otherwise (409); the rest stored",
        "content": {"application/json": {"schema": report}}}
    health = {"type": "object", "required": ["status", "models"],
              "properties": {"status": {"enum": ["ok", "no-model"]},
                             "models": {"type": "object"}, "detail": {"type": "string"},
                             "model_version": {"type": ["string", "null"]},
                             "last_reload_error": {"type": ["string", "null"]}}}
    reloaded = {"type": "object", "required": ["changed", "version"],
                "properties": {"changed": {"type": "boolean"}, "version": {"type": "string"}}}
    return {
        "/feedback": {"post": {"requestBody": json_body({"oneOf": [
            {"type": "object", "required": ["items"], "additionalProperties": False,
             "properties": {"items": items}}, items]}), "responses": feedback}},
        "/health": {"get": {"responses": {
            **answers(health), "503": {"description": "a mounted task has no model",
                                       "content": {"application/json": {"schema": health}}}}}},
        "/admin/reload": {"post": {"responses": answers(reloaded, 400, 401, 503)}},
    }
