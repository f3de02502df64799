"""Request validation from the model's input schema, with errors that name the field.

The schema comes from the MLflow signature (types, and whether null is allowed)
cross-checked with the model's ``TabularSpec`` (which columns are inputs and
which are sensitive attributes). Sensitive attributes are usually not model
inputs, but requests may carry them so that monitoring can slice by them: they
are allowed as extra fields and logged, and any other unknown field is an error
(a typo in a client must not be silently dropped).

Every input key must be present; ``null`` is accepted where the signature marks
the column optional (the model maps missing values to an "unknown" slot).
NaN and ±Infinity are never accepted: JSON has no such values, and a client
that sends them has a bug — ``null`` is how to say "missing".

We validate ourselves instead of letting pyfunc enforce its schema: one pass
over plain dicts costs microseconds, and the messages say which record and
which field is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loopwatch.serving.openapi import signature_columns
from loopwatch.serving.requests import RequestError, loads

KIND_LABELS = {"string": "a string", "double": "a number", "long": "an integer",
               "boolean": "true or false"}
BODY_KEYS = ("records", "metadata", "model")
_TEXT = frozenset({str, type(None)})
_NUMBER = frozenset({int, float, type(None)})


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | double | long | boolean
    nullable: bool = True

    def accepts(self) -> Callable[[Any], bool]:
        """A fast type test for one value (exact types: bool is not a number here)."""
        nullable = self.nullable
        if self.kind == "string":
            return lambda v: type(v) is str or (v is None and nullable)
        if self.kind == "double":
            return lambda v: (type(v) is int or (type(v) is float and math.isfinite(v))
                              or (v is None and nullable))
        if self.kind == "long":
            return lambda v: type(v) is int or (v is None and nullable)
        if self.kind == "boolean":
            return lambda v: type(v) is bool or (v is None and nullable)
        raise ValueError(f"unsupported column type {self.kind!r} for field {self.name!r}")

    def describe_error(self, value: Any) -> str:
        if value is None:
            return "is required (null is not allowed for this field)"
        if type(value) is float and not math.isfinite(value):
            hint = "; send null for a missing value" if self.nullable else ""
            return f"{value} is not allowed{hint}"
        shown = json.dumps(value)[:60] if _jsonable(value) else repr(value)[:60]
        got = f"{type(value).__name__} {shown}"
        return f"expected {KIND_LABELS[self.kind]} ({self.kind}), got {got}"


@dataclass(frozen=True)
class ParsedRequest:
    inputs: list[dict[str, Any]]  # exactly the model's input fields, per record
    sensitive: list[dict[str, Any]]  # the sensitive attributes sent (missing ones as None)
    metadata: dict[str, Any]
    model: str | None


class InputSchema:
    """What one record must look like for one model."""

    def __init__(self, inputs: Sequence[Field], sensitive: Sequence[Field] = ()):
        self.inputs = tuple(inputs)
        self.sensitive = tuple(sensitive)
        self.input_names = tuple(f.name for f in self.inputs)
        self.sensitive_names = tuple(f.name for f in self.sensitive)
        self._required = frozenset(self.input_names)
        self._allowed = frozenset(self.input_names) | frozenset(self.sensitive_names)
        extra = [f for f in self.sensitive if f.name not in self._required]
        self._checks = [(f, f.accepts()) for f in (*self.inputs, *extra)]
        # The common kinds are checked column by column (see validate_records).
        self._text = tuple(f.name for f in self.inputs if (f.kind, f.nullable) == ("string", True))
        self._number = tuple(f.name for f in self.inputs
                             if (f.kind, f.nullable) == ("double", True))
        self._other = [(f, ok) for f, ok in self._checks
                       if f.name not in self._text and f.name not in self._number]
        self._checks_by_name = [(f.name, ok) for f, ok in self._checks]

    @classmethod
    def from_model(cls, spec, signature=None) -> InputSchema:
        """Inputs and their types from the signature when it has columns, else from the spec."""
        typed = {name: Field(name, {"float": "double", "integer": "long"}.get(kind, kind),
                             nullable) for name, kind, nullable in signature_columns(signature)}

        def field(name: str) -> Field:
            return typed.get(name) or Field(
                name, "string" if name in spec.categorical else "double", nullable=True)

        inputs = [field(name) for name in spec.inputs]
        # Sensitive attributes are optional keys: a request may or may not carry them.
        sensitive = [Field(name, field(name).kind, nullable=True) for name in spec.sensitive]
        return cls(inputs, sensitive)

    def validate_records(self, records: Any, max_rows: int) -> tuple[list[dict], list[dict]]:
        if not isinstance(records, list):
            raise RequestError(422, "'records' must be a list of objects (one per row)",
                               field="records")
        if not records:
            raise RequestError(422, "empty batch: 'records' holds no rows", field="records")
        if len(records) > max_rows:
            raise RequestError(413, f"batch of {len(records)} records exceeds the limit of "
                               f"{max_rows} (serving.max_batch_rows)", field="records")
        required, allowed, n_inputs = self._required, self._allowed, len(self._required)
        text, number, other = self._text, self._number, self._other
        names, sens = self.input_names, self.sensitive_names
        for i, rec in enumerate(records):
            if type(rec) is not dict:
                raise RequestError(422, f"records[{i}] must be an object, got "
                                   f"{type(rec).__name__}", field="records", record=i)
            keys = rec.keys()
            if not (keys >= required and keys <= allowed):
                self._key_error(i, keys)
        # Types column by column: the set of types seen in a column is one quick pass,
        # and only a column that fails is searched for its first bad record.
        for name in text:
            if not {type(rec[name]) for rec in records} <= _TEXT:
                self._first_bad(records, name)
        for name in number:
            column = [rec[name] for rec in records]
            kinds = set(map(type, column))
            if not kinds <= _NUMBER or (float in kinds and not all(
                    map(math.isfinite, [v for v in column if type(v) is float]))):
                self._first_bad(records, name)
        for f, _ok in other:
            self._first_bad(records, f.name, only_if_bad=True)
        # Records holding exactly the inputs are passed on as they are (no copy).
        inputs = [rec if len(rec) == n_inputs else {k: rec[k] for k in names} for rec in records]
        sensitive = ([{k: rec.get(k) for k in sens} for rec in records] if sens
                     else [{}] * len(records))
        return inputs, sensitive

    def _first_bad(self, records: list[dict], name: str, only_if_bad: bool = False) -> None:
        """Raise for the first record whose ``name`` value the field does not accept."""
        f = next(f for f in (*self.inputs, *self.sensitive) if f.name == name)
        ok = dict(self._checks_by_name)[name]
        for i, rec in enumerate(records):
            value = rec.get(name)
            if not ok(value):
                raise RequestError(422, f"records[{i}].{name}: {f.describe_error(value)}",
                                   field=name, record=i)
        if not only_if_bad:  # pragma: no cover - the fast check and accepts() disagree
            raise AssertionError(f"column {name} failed its type check but no value did")

    def _key_error(self, i: int, keys) -> None:
        missing = [n for n in self.input_names if n not in keys]
        if missing:
            raise RequestError(422, f"records[{i}]: missing field '{missing[0]}' (the model "
                               f"needs {list(self.input_names)}; send null for an unknown value)",
                               field=missing[0], record=i)
        extra = sorted(k for k in keys if k not in self._allowed)
        raise RequestError(422, f"records[{i}]: unknown field '{extra[0]}'; allowed are the "
                           f"model inputs {list(self.input_names)} and the sensitive attributes "
                           f"{list(self.sensitive_names)}", field=extra[0], record=i)

    def parse_body(self, body: bytes, max_rows: int) -> ParsedRequest:
        """A request body: ``{"records": [...], "metadata": {...}, "model": "NAME"}`` or a list."""
        payload = loads(body)
        metadata, model = {}, None
        if isinstance(payload, dict):
            unknown = sorted(set(payload) - set(BODY_KEYS))
            if unknown:
                raise RequestError(422, f"unknown top-level field '{unknown[0]}'; expected "
                                   f"{list(BODY_KEYS)}", field=unknown[0])
            if "records" not in payload:
                raise RequestError(422, "missing field 'records' (a list of row objects)",
                                   field="records")
            records, metadata, model = (payload["records"], payload.get("metadata") or {},
                                        payload.get("model"))
            if not isinstance(metadata, dict):
                raise RequestError(422, "'metadata' must be an object", field="metadata")
            if model is not None and not isinstance(model, str):
                raise RequestError(422, "'model' must be a string", field="model")
        elif isinstance(payload, list):
            records = payload
        else:
            raise RequestError(422, "the body must be a JSON object with 'records' or a list "
                               "of records", field="records")
        inputs, sensitive = self.validate_records(records, max_rows)
        return ParsedRequest(inputs, sensitive, metadata, model)


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict)
