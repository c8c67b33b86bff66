"""The visitor cookie middleware (issue 11 item 1), called as an ASGI app with real messages.
The browser side (the first page load's session uses the cookie, a reload and a second tab
keep it) is tests/e2e/test_e2e_models.py."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ui.visitor import (
    VISITOR_COOKIE,
    VisitorCookie,
    is_visitor_id,
    new_visitor_id,
    visitor_id,
)


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # A thread of its own: the e2e tests' Playwright (sync API) keeps an event loop running in
    # the main thread for the whole session, and asyncio.run refuses to start inside one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, VisitorCookie(_inner)(scope, receive, send)).result()
    return sent


def _set_cookies(sent: list[dict[str, Any]]) -> list[str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [v.decode() for k, v in start["headers"] if k == b"set-cookie"]


def _http(cookie: str | None = None, scheme: str = "http") -> dict[str, Any]:
    headers = [(b"cookie", cookie.encode())] if cookie is not None else []
    return {"type": "http", "scheme": scheme, "path": "/", "headers": headers}


def test_a_browser_without_the_cookie_gets_a_random_http_only_lax_one() -> None:
    [first] = _set_cookies(_call(_http()))
    [second] = _set_cookies(_call(_http()))
    value = first.split(";")[0].removeprefix(f"{VISITOR_COOKIE}=")
    assert is_visitor_id(value) and len(value) == 32
    assert value != second.split(";")[0].removeprefix(f"{VISITOR_COOKIE}=")  # random
    attributes = [a.strip() for a in first.split(";")[1:]]
    assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert "Secure" not in attributes  # plain HTTP (localhost) would drop a Secure cookie
    [secure] = _set_cookies(_call(_http(scheme="https")))
    assert "Secure" in [a.strip() for a in secure.split(";")]
    # Behind a TLS-terminating proxy (Streamlit Community Cloud) the server sees plain HTTP.
    proxied = _http()
    proxied["headers"].append((b"x-forwarded-proto", b"https"))
    [behind_proxy] = _set_cookies(_call(proxied))
    assert "Secure" in [a.strip() for a in behind_proxy.split(";")]


def test_a_browser_with_a_valid_cookie_keeps_it() -> None:
    mine = new_visitor_id()
    assert _set_cookies(_call(_http(f"other=1; {VISITOR_COOKIE}={mine}"))) == []


@pytest.mark.parametrize(
    "value", ["", "abc", "0" * 31, "G" * 32, "../../etc", "0123456789ABCDEF0123456789ABCDEF"]
)
def test_a_malformed_cookie_is_replaced_and_never_used(value: str) -> None:
    assert visitor_id({VISITOR_COOKIE: value}) is None
    [fresh] = _set_cookies(_call(_http(f"{VISITOR_COOKIE}={value}")))
    assert is_visitor_id(fresh.split(";")[0].removeprefix(f"{VISITOR_COOKIE}="))


def test_websockets_pass_through_untouched() -> None:
    assert _call({"type": "websocket", "path": "/_stcore/stream", "headers": []}) == []
    assert _call({"type": "lifespan"}) == []


def test_visitor_id_reads_only_its_own_cookie() -> None:
    mine = new_visitor_id()
    assert visitor_id({VISITOR_COOKIE: mine, "x": "y"}) == mine
    assert visitor_id({}) is None
