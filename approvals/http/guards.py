"""What every request to the app passes through before Streamlit or a route sees it: security headers on every
answer, Streamlit's metrics endpoint behind a reviewer's API token, and a client address that only a proxy named
in configuration may vouch for.

Pure ASGI middleware (no response buffering), mounted by `app.py` in front of everything `st.App` serves.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from functools import lru_cache

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from approvals.identity.facade import Identity

SECURITY_HEADERS = [
    # No page may be framed by another site: one-click Approve and the A key must not be clickjacked.
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Console URLs name threads: other sites learn nothing from a link followed out of the app.
    (b"referrer-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")
"""API answers, sign-in hand-offs and emailed action pages carry approvals and cookies: no cache may keep them."""
NO_STORE_PATHS = ("/api/", "/auth/", "/email/", "/slack/")
METRICS_PATH = "/_stcore/metrics"


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP answer (Streamlit's pages, static files and the API), and
    `Cache-Control: no-store` to those under NO_STORE_PATHS."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [*SECURITY_HEADERS, *([NO_STORE] if scope["path"].startswith(NO_STORE_PATHS) else [])]
        replaced = {name for name, _ in added}

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                message = {**message, "headers": [*kept, *added]}
            await send(message)

        await self.app(scope, receive, send_guarded)


class MetricsGuardMiddleware:
    """Streamlit's `/_stcore/metrics` (sessions, memory, cache sizes) only for a reviewer's API token; anyone
    else gets the 404 an unknown path gets, so the endpoint is not advertised."""

    def __init__(self, app: ASGIApp, identity: Callable[[], Identity]):
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == METRICS_PATH and not await run_in_threadpool(
                self._reviewer, scope):
            await JSONResponse({"error": "not_found", "detail": "Not found."}, 404)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _reviewer(self, scope: Scope) -> bool:
        scheme, _, secret = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return False
        actor = self.identity().actor_for_token(secret.strip())
        return actor is not None and actor.is_reviewer


# -- the client's address ----------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SERVER_DEFAULT_PROXIES = "127.0.0.1,::1"
"""Whom the server (uvicorn) believes X-Forwarded-For from before our middleware runs, unless FORWARDED_ALLOW_IPS
says otherwise: any local process, so any client of a local proxy could name its own address."""
NO_ADDRESS = ("127.0.0.1", 0)
"""Where the address is not known (a proxy nobody named): what `st.context.ip_address` reads as no address, so
the sign-in throttle counts per account, never in one bucket with every such client."""


@lru_cache(maxsize=4)
def _networks(spec: str, name: str) -> tuple[Network, ...]:
    networks = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as error:
            raise ValueError(f"{name}: {part!r} is not an IP address or CIDR range ({error}).") from error
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    """The proxies whose X-Forwarded-For is believed (env APPROVAL_TRUSTED_PROXIES: addresses and CIDR ranges,
    comma-separated; default none)."""
    return _networks(os.environ.get("APPROVAL_TRUSTED_PROXIES", ""), "APPROVAL_TRUSTED_PROXIES")


def _server_trusted() -> tuple[Network, ...]:
    return _networks(os.environ.get("FORWARDED_ALLOW_IPS") or SERVER_DEFAULT_PROXIES, "FORWARDED_ALLOW_IPS")


def _within(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _host_port(entry: str) -> tuple[str, int]:
    """An X-Forwarded-For entry as the server parses it: `host`, `host:port` or `[v6]:port`."""
    if entry.startswith("[") and "]" in entry:
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else 0
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return (host, int(port)) if port.isdigit() else (entry, 0)
    return entry, 0


def forwarded_client(chain: list[str], proxies: tuple[Network, ...]) -> tuple[str, int]:
    """The client a chain of proxies names: the last entry that is not one of them (each proxy appends)."""
    for entry in reversed(chain):
        if not _within(_host_port(entry)[0], proxies):
            return _host_port(entry)
    return _host_port(chain[0])


def _named(network: Network, proxies: tuple[Network, ...]) -> bool:
    """Whether `network` is among the named proxies; 127.0.0.1 and ::1 both mean this host."""
    if network.is_loopback and any(named.is_loopback for named in proxies):
        return True
    return any(named.version == network.version and network.subnet_of(named)  # type: ignore[arg-type]
               for named in proxies)


def client_address(client: tuple[str, int] | None, chain: list[str]) -> tuple[str, int] | None:
    """The connection's client when it carries X-Forwarded-For `chain`, believing it only from a named proxy.

    The server has already replaced the peer with the chain's client when the peer was one it trusts by default
    (any local process); that is recognised by the client it picked, and then the chain counts only if every
    address the server trusts is named in APPROVAL_TRUSTED_PROXIES too.
    """
    proxies = trusted_proxies()
    if client is not None and client == forwarded_client(chain, _server_trusted()):
        peer_named = all(_named(network, proxies) for network in _server_trusted())
        return forwarded_client(chain, proxies) if peer_named else NO_ADDRESS
    if client is not None and _within(client[0], proxies):
        return forwarded_client(chain, proxies)
    return client


class ClientAddressMiddleware:
    """Sets the ASGI client of requests and websockets that carry X-Forwarded-For to the address believed (see
    `client_address`); Streamlit's `st.context.ip_address` reads it from the websocket."""

    def __init__(self, app: ASGIApp):
        self.app = app
        trusted_proxies()  # a bad APPROVAL_TRUSTED_PROXIES stops the app at start, with the reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            chain = [entry.strip() for name, value in scope.get("headers", []) if name == b"x-forwarded-for"
                     for entry in value.decode("latin-1").split(",") if entry.strip()]
            if chain:
                client = scope.get("client")
                scope = {**scope, "client": client_address(tuple(client) if client else None, chain)}
        await self.app(scope, receive, send)
