"""Helpers of the dashboard tests: reading pages, signing in."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from collector.runtime import Runtime
from collector.services import Service

JANUARY = "from=2026-01-01&to=2026-01-31"


class Tables(HTMLParser):
    """Every table's rows as lists of cell texts, and every <h1>'s text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._in_h1 = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h1":
            self._in_h1 = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_h1:
            self.headings[-1] += data


def figure(html: str, name: str) -> str:
    match = re.search(rf"<dt>{re.escape(name)}</dt><dd>([^<]*)</dd>", html)
    assert match, f"no figure {name!r}"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/dashboard/sign-in", data={"token": token, "next": "/dashboard"})


async def signed_in(
    client: httpx.AsyncClient, runtime: Runtime, tenant: str = "demo", role: str = "analyst"
) -> httpx.AsyncClient:
    token = runtime.analyst_tokens.issue(tenant, role=role)  # type: ignore[arg-type]
    assert (await sign_in(client, token)).status_code == 303
    return client


async def add_services(runtime: Runtime, *services: Service) -> None:
    await runtime.storage.save_tenant("other", "Other agency")
    for service in services:
        await runtime.storage.save_service(service)
    await runtime.reload_services()


def cookie_header(response: httpx.Response) -> str:
    [header] = response.headers.get_list("set-cookie")
    return header
