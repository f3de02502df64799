"""Who may call the service, from where, with what: checked before any route runs.

- **Token**: with a token set (``LOOPWATCH_API_TOKEN``, or a file named by
  ``LOOPWATCH_API_TOKEN_FILE``; never params.yaml, which is committed), ``POST /feedback``
  and ``/admin/*`` need ``Authorization: Bearer <token>``, and so does ``/predict*`` when
  ``serving.auth_predict`` is on. Labels and reloads change what the loop learns from; a
  prediction only costs compute.
- **Host**: the ``Host`` header must name this machine (127.0.0.1, localhost, ::1), the
  served host or one of ``serving.allowed_hosts``: a web page that rebinds its own domain to
  127.0.0.1 (DNS rebinding) is refused.
- **Content type**: JSON routes take JSON (or no content type, as scripts send): a web page's
  cross-site "simple" POST (text/plain, a form) cannot store a label.

``secret_free`` masks the password of a database URL wherever one is printed.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class Access:
    token: str | None = None
    auth_predict: bool = False
    hosts: tuple[str, ...] = LOOPBACK

    def needs_token(self, path: str) -> bool:
        if self.token is None:
            return False
        return (path == "/feedback" or path.startswith("/admin/")
                or (self.auth_predict and path.startswith("/predict")))


def token_from(environ: Mapping[str, str] | None = None) -> str | None:
    """The API token from the environment or the file it names (stripped), if any."""
    environ = os.environ if environ is None else environ
    if environ.get("LOOPWATCH_API_TOKEN"):
        return environ["LOOPWATCH_API_TOKEN"].strip()
    path = environ.get("LOOPWATCH_API_TOKEN_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise ValueError(f"LOOPWATCH_API_TOKEN_FILE={path}: cannot read it ({exc})") from exc
    return None


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine without a token, unless told ``--insecure``."""
    if host not in LOOPBACK and token is None and not insecure:
        raise ValueError(f"refusing to serve on {host} without a token: set "
                         "LOOPWATCH_API_TOKEN (or LOOPWATCH_API_TOKEN_FILE), or pass "
                         "--insecure to accept that anyone who can reach it may post labels")


def secret_free(url: str) -> str:
    """A database URL with its password masked (``postgresql://u:***@h/db``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class AccessMiddleware:
    """Pure ASGI: a refused request never reaches a route, so it logs nothing."""

    def __init__(self, app: ASGIApp, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope["path"], scope["method"], headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        from loopwatch.serving.jsonio import dumps

        status, detail, extra = refusal
        body = dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), *extra]})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, path: str, method: str, headers: dict[str, str]):
        host = _hostname(headers.get("host", ""))
        if host not in self.access.hosts:
            return 400, (f"host {host!r} is not this service's: add it to "
                         "serving.allowed_hosts if it is"), []
        if self.access.needs_token(path):
            given = headers.get("authorization", "")
            expected = f"Bearer {self.access.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return 401, f"{path} needs 'Authorization: Bearer <token>'", [
                    (b"www-authenticate", b"Bearer")]
        if method == "POST" and _json_route(path):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and kind not in JSON_TYPES and not kind.endswith("+json"):
                return 415, f"{path} takes application/json, not {kind}", []
        return None


def _hostname(header: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1'; '[::1]:8000' -> '[::1]'."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _json_route(path: str) -> bool:
    return (path in ("/feedback", "/predict") or path.startswith("/admin/")
            or (path.startswith("/predict/") and path != "/predict/image"))
