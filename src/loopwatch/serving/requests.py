"""What a bad request is, for every task's routes: a status, a message for people and the
field it concerns; and the JSON body parser whose errors are such requests (400, not 500).
"""

from __future__ import annotations

import json
from typing import Any

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


def loads(body: bytes) -> Any:
    """Parse JSON; NaN/Infinity literals come back as floats so validation can name the field."""
    if not body:
        raise RequestError(400, "empty body: send a JSON object with 'records'")
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # maybe NaN/Infinity (not JSON, but Python clients send them): stdlib decides
    try:
        return json.loads(body, parse_constant=float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
