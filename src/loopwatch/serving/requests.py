"""What a bad request is, for every task's routes: a status, a message for people and the
field it concerns; and the JSON body parser whose errors are such requests (400, not 500).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

try:  # orjson ships with prefect/dvc here; parse speed matters on the request path
    import orjson
except ImportError:  # pragma: no cover - stdlib fallback keeps the library usable alone
    orjson = None


class RequestError(ValueError):
    """A client error: the HTTP status, a message for people, and where it was found."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 record: int | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.record = status, message, field, record

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.record is not None:
            out["record"] = self.record
        return out


MAX_DEPTH = 32  # records of values, metadata a few levels deep: far more is an attack
INT64 = 2**63  # the log and the JSON writer hold 64-bit integers


def loads(body: bytes, field: str = "records") -> Any:
    """Parse JSON into values every later step can store and write back.

    NaN/Infinity literals come back as floats so validation can name the field. Refused
    (400, with where): nesting deeper than ``MAX_DEPTH``, integers beyond 64 bits,
    strings that are not valid Unicode (a lone surrogate such as ``"\\ud800"``), which the
    parser accepts but no JSON writer can write back, and a key given twice in one object
    (parsers keep the last silently: the client meant one of them, we can't know which).
    """
    if not body:
        raise RequestError(400, f"empty body: send a JSON object with '{field}'", field=field)
    payload = _parse(body)
    keys = _check(payload)
    # Every key in the text has a colon after it, so when the body holds no more colons
    # than the parsed objects hold keys, no key was dropped (the common case: one count).
    if body.count(b":") > keys and _keys_in_text(body) > keys:
        _name_duplicate(body)
    return payload


def _parse(body: bytes) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # maybe NaN/Infinity (not JSON, but Python clients send them): stdlib decides
    try:
        return json.loads(body, parse_constant=float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise RequestError(400, f"JSON nested deeper than {MAX_DEPTH} levels") from None


# A JSON string token, and whether a colon follows it (then it is a key). Scanning from
# the start, each match begins at an opening quote: outside strings JSON has no quotes.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"(\s*+:)?')


def _keys_in_text(body: bytes) -> int:
    return sum(1 for m in _STRING.finditer(body) if m.group(1))


def _name_duplicate(body: bytes) -> None:
    def pairs(items: list) -> dict:
        seen = set()
        for key, _ in items:
            if key in seen:
                raise RequestError(400, f"key {key!r} appears twice in one object: send it "
                                   "once", field=key)
            seen.add(key)
        return dict(items)

    json.loads(body, object_pairs_hook=pairs, parse_constant=float)


def _check(payload: Any) -> int:
    """Depth, integer range and text, walked without recursion (depth is what is checked);
    returns how many keys the objects hold."""
    stack, keys = [(payload, "body", 0)], 0
    while stack:
        node, where, depth = stack.pop()  # depth: the containers around ``node``
        if isinstance(node, dict | list) and depth >= MAX_DEPTH:
            raise RequestError(400, f"JSON nested deeper than {MAX_DEPTH} levels at {where}",
                               field=where)
        if isinstance(node, dict):
            keys += len(node)
            for key, value in node.items():
                _text(key, f"{where} (a key)")
                stack.append((value, f"{where}.{key}", depth + 1))
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{i}]", depth + 1) for i, value in enumerate(node))
        elif isinstance(node, str):
            _text(node, where)
        elif isinstance(node, int) and not isinstance(node, bool) and not -INT64 <= node < INT64:
            raise RequestError(400, f"{where}: an integer of {len(str(abs(node)))} digits is "
                               "beyond 64 bits; send a number in range", field=where)
    return keys


def _text(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, f"{where}: text with an unpaired surrogate ({value[:20]!r}); "
                           "send valid Unicode", field=where) from None


UNSCORED = "the model cannot score these values (its probabilities are not numbers)"
UNSCORED_FIX = "send values in the range the model was trained on"


def first_unscored(proba: np.ndarray, inputs: list[dict]) -> tuple[int, str | None] | None:
    """The first record the model could not score (e.g. x1=1e308 overflows the network) and
    its most extreme numeric field, or None: logged, such a record would be a row with no
    score that no monitoring window can use."""
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if not len(bad):
        return None
    i = int(bad[0])
    numbers = {k: abs(float(v)) for k, v in inputs[i].items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    return i, max(numbers, key=numbers.get) if numbers else None


def refuse_unscored(proba: np.ndarray, inputs: list[dict]) -> None:
    """A 422 for the first record the model cannot score, naming its most extreme value."""
    found = first_unscored(proba, inputs)
    if found is not None:
        i, field = found
        worst = f"; {field}={inputs[i][field]!r} is the most extreme value" if field else ""
        raise RequestError(422, f"record {i}: {UNSCORED}{worst}: {UNSCORED_FIX}",
                           field=field, record=i)
