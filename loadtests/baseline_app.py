"""The baseline: a raw ASGI app on the same server, doing only what HTTP needs.

GET answers the bytes of the collector's own widget page (saved to BASELINE_PAGE by
the benchmark); POST reads the whole body and answers 303, like an accepted rating
without decoding, validation or Redis. The collector's figures are divided by these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_PAGE = Path(os.environ["BASELINE_PAGE"]).read_bytes()
_GET_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(_PAGE)).encode()),
]
_POST_HEADERS = [(b"location", b"/w/demo-passport/thanks"), (b"content-length", b"0")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 303, "headers": _POST_HEADERS})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _GET_HEADERS})
    await send({"type": "http.response.body", "body": _PAGE})
