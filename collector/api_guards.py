"""What every API request passes before Litestar parses any of it.

Litestar decodes a handler's body, query and path parameters before the handler
runs, so a handler that checks the token itself answers schema errors, and spends
the work of decoding, for callers without one. Guards run first: this one refuses a
request under /api/ without a valid token (one with the admin role under
/api/v1/admin/) with a 401 or 403 naming nothing of the schema; then, for an
authenticated caller, it reads the body (at most MAXIMUM_BODY_BYTES, or 413) and
refuses JSON nested deeper than MAXIMUM_JSON_DEPTH (400), which would otherwise
exhaust the decoder's recursion (a 500), and a body that is no JSON (400).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from collector.api_schema import API_PREFIX, BODY_METHODS
from collector.errors import BadRequest, Forbidden

if TYPE_CHECKING:
    from collector.runtime import Runtime

ADMIN_PREFIX = "/api/v1/admin/"
# The largest body any route takes (a service with every name and question text in
# six languages) is under 20 KB; the dashboard's sign-in form under 7 KB.
MAXIMUM_BODY_BYTES = 64 * 1024
# Our deepest body, config.question_texts.LANGUAGE.QUESTION, is 4 levels.
MAXIMUM_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_OPENING = frozenset(b"[{")
_JSON_CHECK = msgspec.json.Decoder()


def json_depth_exceeds(body: bytes, maximum: int) -> bool:
    """Whether arrays and objects nest deeper than the maximum (outside strings)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            if depth > maximum:
                return True
        else:
            depth -= 1
    return False


async def authenticate_first(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A Litestar guard for every route; only /api/ routes are guarded."""
    path = connection.scope["path"]
    if not path.startswith(API_PREFIX):
        return
    runtime: Runtime = connection.app.state.runtime
    claims = runtime.analyst_tokens.verify_header(connection.headers.get("authorization"))
    if path.startswith(ADMIN_PREFIX) and claims.role not in ("admin", "platform"):
        raise Forbidden("this needs a token with the admin role")
    if isinstance(connection, Request) and connection.method in BODY_METHODS:
        body = await connection.body()  # kept for the handler; 413 beyond the limit
        if json_depth_exceeds(body, MAXIMUM_JSON_DEPTH):
            raise BadRequest(
                f"the JSON body nests arrays or objects deeper than {MAXIMUM_JSON_DEPTH} levels"
            )
        if body:
            try:
                _JSON_CHECK.decode(body)  # Litestar's own message names no problem
            except msgspec.DecodeError as error:
                raise BadRequest(f"the body is not valid JSON: {error}") from None
