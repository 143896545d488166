"""Who may talk to the studio: the token, the Host header and the WebSocket's Origin.

Checked for every HTTP request and every WebSocket handshake before any route runs:
1. Host (against DNS rebinding: a page on evil.example whose name is re-pointed at 127.0.0.1
   would otherwise reach a loopback server as "same origin"): the Host header's name must be
   a loopback name, the host the server is bound to, or one given with ``--allow-host``. A
   server bound to every interface (0.0.0.0, ::) has a token, which a rebinding page cannot
   know, and takes any name unless ``--allow-host`` lists them.
2. The token, when there is one: ``Authorization: Bearer T`` or ``?token=T`` (401 otherwise).
3. WebSocket only: an ``Origin`` header, when sent (browsers always send one), must be the
   page's own origin (the Host it connected to), so another site's page cannot drive the
   camera stream of a user who opened the studio.
Failures answer 403/401 with a one-line JSON reason; a refused WebSocket handshake gets the
same status where the server supports denial responses, else a plain 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import parse_qs, urlsplit

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "localhost.localdomain", "ip6-localhost"}
WILDCARDS = {"0.0.0.0", "::", ""}


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header value (no port; IPv6 without brackets), lowercased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header[1:]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    def __init__(self, token: str | None, bound_host: str, allow_hosts: tuple[str, ...] = ()) -> None:
        self.token = token or None
        allow = {h.strip().lower().strip("[]") for h in allow_hosts if h.strip()}
        if "*" in allow or (bound_host.strip("[]") in WILDCARDS and not allow):
            self.hosts: set[str] | None = None  # any name
        else:
            self.hosts = LOOPBACK_NAMES | allow | ({bound_host.strip("[]").lower()} - WILDCARDS)

    def check(self, scope: dict) -> tuple[int, str] | None:
        """(status, reason) when the request must be refused; None when it may proceed."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.hosts is not None:
            name = host_name(host)
            if name not in self.hosts and not (name.endswith(".localhost")):
                return 403, (f"host {name or '(none)'!r} is not served here (DNS rebinding protection); "
                             "start the server with --allow-host NAME to allow it")
        if self.token is not None and not self._token_ok(scope, headers):
            return 401, "a token is needed: open the URL the server printed (…/?token=…) or send Authorization: Bearer"
        if scope["type"] == "websocket":
            origin = headers.get("origin")
            if origin is not None:
                parts = urlsplit(origin)
                if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
                    return 403, f"origin {origin!r} may not open the studio's stream (only its own page may)"
        return None

    def _token_ok(self, scope: dict, headers: dict[str, str]) -> bool:
        given = ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        else:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


class GuardMiddleware:
    """ASGI middleware that applies a ``Guard`` to every request and handshake."""

    def __init__(self, app, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refused = self.guard.check(scope)
        if refused is None:
            return await self.app(scope, receive, send)
        status, reason = refused
        body = (json.dumps({"error": reason}) + "\n").encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
