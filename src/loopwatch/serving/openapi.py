"""The published OpenAPI document: FastAPI's, plus every route's real request and response
schemas.

The prediction routes read their bodies themselves (their parser names the record and the
field in its errors, and costs microseconds where a pydantic model per request would cost
more), so FastAPI sees no body model and would publish none. Each mount describes its
routes instead, from the champion it serves at that moment: the tabular inputs and their
types come from the model's signature, so the document changes when a new champion with
other inputs is promoted. Client generators and fuzzers read it at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from loopwatch.serving.champion import NoChampion

Schema = dict[str, Any]
# path -> method -> {"requestBody": ..., "responses": ...} (merged into FastAPI's operation)
Described = dict[str, dict[str, dict[str, Any]]]

ERROR: Schema = {
    "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string"}, "field": {"type": "string"},
                   "record": {"type": "integer"}}}
_ERROR_WHY = {400: "malformed body (JSON, Unicode, nesting, 64-bit integers, a repeated key)"
              " or a Host that is not this service's",
              401: "a bearer token is needed (LOOPWATCH_API_TOKEN is set)",
              404: "unknown model or id", 409: "conflicting label",
              413: "body, batch or image beyond the limits",
              415: "content type not accepted", 422: "a field or record is invalid",
              503: "no model loaded, the log unavailable, or shutting down"}
_JSON_TYPES = {"string": "string", "double": "number", "float": "number", "long": "integer",
               "integer": "integer", "boolean": "boolean"}


def json_body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def answers(ok: Schema | None, *errors: int, ok_status: int = 200) -> dict[str, Any]:
    """Responses: the success schema and the documented error statuses."""
    out: dict[str, Any] = {}
    if ok is not None:
        out[str(ok_status)] = {"description": "OK",
                               "content": {"application/json": {"schema": ok}}}
    for status in errors:
        out[str(status)] = {"description": _ERROR_WHY[status],
                            "content": {"application/json": {"schema": ERROR}}}
    return out


def value_schema(kind: str, nullable: bool) -> Schema:
    """One input column: a signature type (string, double, long, boolean...) as JSON."""
    json_type = _JSON_TYPES.get(kind, "string")
    return {"type": [json_type, "null"] if nullable else json_type}


def records_body(columns: Iterable[tuple[str, str, bool]], optional: Iterable[str] = (),
                 max_rows: int | None = None, extra: Mapping[str, Schema] | None = None
                 ) -> Schema:
    """``{"records": [{column: value, ...}, ...], ...extra}``: ``columns`` are the required
    (name, kind, nullable) inputs, ``optional`` the keys a record may carry too (sensitive
    attributes, logged for fairness monitoring)."""
    columns = list(columns)
    names = [name for name, _, _ in columns]
    properties = {name: value_schema(kind, nullable) for name, kind, nullable in columns}
    properties.update({name: {"type": ["string", "number", "boolean", "null"]}
                       for name in optional if name not in properties})
    record = {"type": "object", "required": names, "properties": properties,
              "additionalProperties": False}
    records: Schema = {"type": "array", "items": record, "minItems": 1}
    if max_rows is not None:
        records["maxItems"] = max_rows
    return {"type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": records, **(extra or {})}}


def signature_columns(signature) -> list[tuple[str, str, bool]]:
    """(name, kind, nullable) per input column of an MLflow signature (none for tensors)."""
    out = []
    for col in getattr(getattr(signature, "inputs", None), "inputs", None) or []:
        name, dtype = getattr(col, "name", None), getattr(col, "type", None)
        if name is not None and dtype is not None:
            out.append((name, dtype.name, not getattr(col, "required", False)))
    return out


def predictions(item_extra: Mapping[str, Schema] | None = None) -> Schema:
    """What every prediction route answers: the model, the request id, one item a record."""
    item = {"type": "object",
            "required": ["prediction_id", "label", "probabilities", "decision", "propensity",
                         "explored", "model_version"],
            "properties": {"prediction_id": {"type": "string"}, "label": {"type": "string"},
                           "probabilities": {"type": "object",
                                             "additionalProperties": {"type": "number"}},
                           "decision": {"type": "string"},
                           "propensity": {"type": "number", "minimum": 0, "maximum": 1},
                           "explored": {"type": "boolean"}, "model_version": {"type": "string"},
                           **(item_extra or {})}}
    return {"type": "object", "required": ["model", "request_id", "predictions"],
            "properties": {"model": _MODEL, "request_id": {"type": "string"},
                           "predictions": {"type": "array", "items": item},
                           "replayed": {"type": "boolean"}}}


_MODEL: Schema = {"type": "object", "required": ["name", "version"],
                  "properties": {"name": {"type": "string"}, "version": {"type": "string"}}}


def publish(app: FastAPI, describers: Iterable[Callable[[], Described]]) -> None:
    """Serve FastAPI's document with each describer's operations merged in; rebuilt per
    call (a few ms) because the champion, and so the inputs, can change at any time."""
    describers = list(describers)

    def document() -> dict[str, Any]:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for describe in describers:
            try:
                described = describe()
            except NoChampion:  # none loaded yet: the route stays documented as FastAPI has it
                continue
            for path, methods in described.items():
                for method, operation in methods.items():
                    doc["paths"].setdefault(path, {}).setdefault(method, {}).update(operation)
        return doc

    app.openapi = document  # type: ignore[method-assign]
