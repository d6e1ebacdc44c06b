"""The HTTP side of identity: every page load leaves the browser with a live session cookie, and a sign-in
ends at HANDOFF_PATH, where the browser gets a new token (the old one dead).

A Streamlit script cannot set a cookie, but it reads `st.context.cookies` on every run. So this middleware, run by
`st.App` in front of Streamlit, checks the cookie on each page load and, when there is no live session (first
visit, signed out, expired, tampered), sets a new token, whose guest session starts on the first page run:
HttpOnly, so page scripts never see it; SameSite=Lax, so other sites cannot send it along with their requests.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from approvals.identity import sessions, throttle
from approvals.identity.facade import Identity

COOKIE_MAX_AGE_S = 400 * 24 * 3600
"""The browser may keep the cookie long (browsers cap it at 400 days); the server ends idle sessions itself."""

NOT_PAGES = ("/_stcore/", "/static/", "/media/", "/component/", "/api/", "/auth/", "/oauth2callback", "/email/",
             "/slack/")


def is_page_load(scope: Scope) -> bool:
    """A browser asking for the app's HTML: the one request after which a script run reads the cookie."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith(NOT_PAGES):
        return False
    return "text/html" in Headers(scope=scope).get("accept", "")


def is_https(scope: Scope) -> bool:
    """Served over TLS, directly or behind a proxy that says so (X-Forwarded-Proto): cookies are then Secure.

    Trusting the header is safe here: a client that lies about it only makes its own cookie https-only.
    """
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def session_cookie(token: str, secure: bool) -> str:
    """The Set-Cookie header value for a session token."""
    response = Response()
    response.set_cookie(
        sessions.COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="lax", secure=secure
    )
    return response.headers["set-cookie"]


def device_cookie(value: str, secure: bool) -> str:
    """The Set-Cookie header value for the known-device cookie (see approvals.identity.throttle)."""
    response = Response()
    response.set_cookie(throttle.DEVICE_COOKIE, value, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True,
                        samesite="lax", secure=secure)
    return response.headers["set-cookie"]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//elsewhere` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/console"
    return target


def _finish_sign_in(identity: Callable[[], Identity], scope: Scope) -> Response:
    """The hand-off: a sign-in code plus the old cookie become a new session cookie (and the device cookie)."""
    request_cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    response = RedirectResponse(safe_next(query.get("next")), status_code=303)
    traded = identity().finish_sign_in(request_cookies.get(sessions.COOKIE), query.get("code", ""),
                                       request_cookies.get(throttle.DEVICE_COOKIE))
    if traded is not None:
        response.headers.append("set-cookie", session_cookie(traded[0], is_https(scope)))
        response.headers.append("set-cookie", device_cookie(traded[1], is_https(scope)))
    return response


def _live_or_new(identity: Callable[[], Identity], token: str | None) -> str | None:
    """None when `token` may stay (live, or not started yet); otherwise a new token, written nowhere yet: the
    session row comes with the browser's first page run (sessions.actor_or_start), so bare GETs cost no write."""
    return sessions.new_token() if identity().needs_new_token(token) else None


class BrowserSessionMiddleware:
    """Pure ASGI (no response buffering): page loads get a session cookie when they lack a live one."""

    def __init__(self, app: ASGIApp, identity: Callable[[], Identity]):
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == sessions.HANDOFF_PATH:
            response = await run_in_threadpool(_finish_sign_in, self.identity, scope)
            await response(scope, receive, send)
            return
        if not is_page_load(scope):
            await self.app(scope, receive, send)
            return
        token = cookie_parser(Headers(scope=scope).get("cookie", "")).get(sessions.COOKIE)
        new_token = await run_in_threadpool(_live_or_new, self.identity, token)
        if new_token is None:
            await self.app(scope, receive, send)
            return
        cookie = session_cookie(new_token, secure=is_https(scope))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
