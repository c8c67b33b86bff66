"""Who a visitor is: a random id in a cookie, so their runs survive reloads and new tabs.

Streamlit gives every browser tab (and every reload) a new session, and its session state dies
with it; a visitor's trained and uploaded models live under their owner id, so that id must
outlive sessions. `VisitorCookie`, an ASGI middleware that `app.py` gives its `st.App`, sets
a cookie holding a random, unguessable id (128 bits from `secrets`) on any HTTP response to a
browser that has none; the page's websocket, opened after the HTML has loaded, carries it,
and `visitor_id` reads it back through `st.context.cookies`. The cookie is HttpOnly (no script
of a page can read it) and SameSite=Lax (not sent with requests other sites make), and the id
never appears in a URL, so it cannot be shared by a link. Another browser, or a private
window, gets another id and does not see these models.

Keep this module light: `app.py` imports it while the server starts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

__all__ = [
    "VISITOR_COOKIE",
    "VISITOR_COOKIE_MAX_AGE_S",
    "VisitorCookie",
    "is_visitor_id",
    "new_visitor_id",
    "visitor_id",
]

VISITOR_COOKIE = "mnist_playground_visitor"
# How long a browser keeps the cookie: 400 days, the most Chromium accepts. The models stay on
# the server longer than that (until deleted), but a cookie needs an expiry to outlive the
# browser's own session.
VISITOR_COOKIE_MAX_AGE_S = 400 * 24 * 3600
# 32 lower-case hex digits (secrets.token_hex(16)): also a valid owner folder name for the store.
_ID_RE = re.compile(r"[0-9a-f]{32}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_visitor_id() -> str:
    """A fresh random visitor id (128 bits, as 32 hex digits)."""
    return secrets.token_hex(16)


def is_visitor_id(value: object) -> bool:
    """True for a string of the form `new_visitor_id` makes; anything else a browser sends
    in the cookie (edited, truncated, another app's) is not used."""
    return isinstance(value, str) and bool(_ID_RE.fullmatch(value))


def visitor_id(cookies: Mapping[str, str]) -> str | None:
    """The visitor id in `cookies` (e.g. `st.context.cookies`), None when absent or malformed."""
    try:
        value = cookies.get(VISITOR_COOKIE)
    except Exception:  # a cookie jar that cannot be read is a visitor without a cookie
        return None
    return value if is_visitor_id(value) else None


def _request_cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: treat it as no cookie
                continue
    return {key: morsel.value for key, morsel in jar.items()}


def _served_over_https(scope: Scope) -> bool:
    """HTTPS to the browser: the request's own scheme, or the scheme a TLS-terminating proxy in
    front of the server reports (Streamlit Community Cloud serves apps that way)."""
    if scope.get("scheme") == "https":
        return True
    forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
    return forwarded.split(b",")[0].strip().lower() == b"https"


def _set_cookie_header(value: str, secure: bool) -> bytes:
    parts = [
        f"{VISITOR_COOKIE}={value}",
        "Path=/",
        f"Max-Age={VISITOR_COOKIE_MAX_AGE_S}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if secure:  # only over HTTPS: a Secure cookie set over plain HTTP would be dropped
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


class VisitorCookie:
    """ASGI middleware: give every browser without a valid visitor cookie a new one.

    Only HTTP responses set it (a websocket handshake cannot); the first page load is an HTTP
    request for the page's HTML, so the websocket the page opens next already has the cookie.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the ASGI application `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or visitor_id(_request_cookies(scope)) is not None:
            await self.app(scope, receive, send)
            return
        header = _set_cookie_header(new_visitor_id(), _served_over_https(scope))

        async def send_with_cookie(message: Message) -> None:
            if message.get("type") == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
