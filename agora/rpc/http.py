"""HTTP/1.1 (h11) for the generic server: JSON-RPC on POST, health, metrics, files.

One request is handled at a time per connection; pipelined requests wait in
h11's buffer while the socket is not read. Limits: a body over `max_body`
gets 413 before it is read, a head over `max_header` gets 431, a request that
is not whole `request_timeout` after its first byte gets 408, an idle
keep-alive connection is closed, and a client that does not read its
responses stops being read and is dropped after `send_timeout`.
"""

from __future__ import annotations

import http
import math
import time
from collections.abc import Coroutine
from typing import Any

import h11
import msgspec
from wsproto.utilities import RemoteProtocolError as WsHandshakeError

from agora.errors import AgoraError, RemoteError
from agora.logs import Log
from agora.rpc.app import App
from agora.rpc.metrics import CONTENT_TYPE as METRICS_TYPE
from agora.rpc.ws import WsSession
from agora.server import BaseHandler, Link, Timer

_log = Log("agora.rpc.http")
_enc = msgspec.json.Encoder()
_JSON = "application/json"
_RPC_PATHS = (b"/", b"/rpc")
_WS_PATHS = (b"/", b"/ws")
_TOO_MANY_TEXT = b"too many connections from your address\n"
_TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 429 Too Many Requests\r\nserver: agora\r\nconnection: close\r\n"
    b"content-type: text/plain; charset=utf-8\r\nretry-after: 10\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TOO_MANY_TEXT), _TOO_MANY_TEXT)
)


def _header(req: h11.Request, name: bytes) -> bytes | None:
    for k, v in req.headers:
        if k == name:
            return bytes(v)
    return None


def _wants_websocket(req: h11.Request) -> bool:
    upgrade = _header(req, b"upgrade")
    return upgrade is not None and upgrade.lower() == b"websocket"


class HttpHandler(BaseHandler):
    transport = "http"

    def __init__(self, app: App) -> None:
        self.app = app
        self.cfg = app.config
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.cfg.max_header)
        self.ws: WsSession | None = None
        self.peer: tuple[str, int] = ("", 0)
        self._req: h11.Request | None = None
        self._body = bytearray()
        self._busy = False  # a response is being computed
        self._write_paused = False
        self._timer: Timer | None = None
        self._timer_kind = ""
        self._send_timer: Timer | None = None
        self._counted = False  # by the per-IP connection limit

    # --- the generic server's callbacks ---

    def connection_made(self, link: Link) -> None:
        self.link = link
        self.peer = link.addr
        self.app.metrics.rpc_connections.inc()
        clients = self.app.clients
        if clients is not None:
            if not clients.connect(self.peer[0]):
                _log.info("rpc_too_many_connections", peer=self.peer)
                self.link.write(_TOO_MANY_CONNECTIONS)  # h11 answers only a request it has read
                self.link.close("too_many_connections")
                return
            self._counted = True
        self._arm("idle", self.cfg.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if not data:
            return  # h11 would take b"" for the end of the stream
        if self.ws is not None:
            self.ws.data_received(data)
            return
        if self._timer_kind == "idle":
            self._arm("request", self.cfg.request_timeout)  # the clock runs from the first byte
        self.conn.receive_data(data)
        err = self._pump()
        if err is not None:
            raise err

    def eof_received(self) -> None:
        if self.ws is None:
            self.conn.receive_data(b"")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.app.metrics.rpc_connections.dec()
        if self._counted and self.app.clients is not None:
            self._counted = False
            self.app.clients.disconnect(self.peer[0])
        self._disarm()
        if self._send_timer is not None:
            self._send_timer.cancel()
        if self.ws is not None:
            self.ws.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.ws is not None:
            self.ws.pause_writing()
        self._write_paused = True
        self.link.pause_reading()
        server = self.app.server
        if server is not None and self._send_timer is None:
            self._send_timer = server.call_later(self.cfg.send_timeout, self._send_stalled)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if self.ws is not None:
            self.ws.resume_writing()
        elif not self._busy:
            self.link.resume_reading()
            err = self._pump()  # pipelined requests that waited for the client to read
            if err is not None:
                raise err

    # --- timers ---

    def _arm(self, kind: str, delay: float) -> None:
        self._disarm()
        server = self.app.server
        if server is not None:
            self._timer_kind = kind
            self._timer = server.call_later(delay, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_kind = ""

    def _timed_out(self) -> None:
        if self._timer_kind == "idle" and self._write_paused:
            self._arm("idle", self.cfg.idle_timeout)  # still sending: the send timer watches that
            return
        kind, self._timer, self._timer_kind = self._timer_kind, None, ""
        if kind == "request" and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self._simple(408, b"request not received in time\n", close=True)
        self.link.close(f"http_{kind}_timeout")

    def _send_stalled(self) -> None:
        self._send_timer = None
        _log.info("rpc_client_not_reading", peer=self.peer)
        self.link.abort("http_send_timeout")

    # --- requests ---

    def _pump(self) -> RemoteError | None:
        """Handle what h11 has buffered; the error is for `data_received` to raise."""
        while not (self._busy or self._write_paused or self.ws or self.link.closing):
            try:
                ev = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                return self._refuse(status, f"bad HTTP request: {exc}", "bad_http")
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return None
            if isinstance(ev, h11.Request):
                err = self._request(ev)
                if err is not None:
                    return err
            elif isinstance(ev, h11.Data):
                self._body += ev.data
                if len(self._body) > self.cfg.max_body:
                    return self._refuse(413, "request body too large", "body_too_large")
            elif isinstance(ev, h11.EndOfMessage):
                err = self._complete()
                if err is not None:
                    return err
            else:  # ConnectionClosed
                return None
        return None

    def _request(self, req: h11.Request) -> RemoteError | None:
        self._req = req
        self._body = bytearray()
        length = _header(req, b"content-length")
        if length is not None and (len(length) > 15 or int(length) > self.cfg.max_body):
            return self._refuse(413, "request body too large", "body_too_large")
        return None

    def _complete(self) -> RemoteError | None:
        req, self._req = self._req, None
        assert req is not None
        self._disarm()
        method = req.method
        path = bytes(req.target).split(b"?", 1)[0]
        if method == b"GET" and _wants_websocket(req) and path in _WS_PATHS:
            return self._upgrade(req)
        if method == b"POST":
            if path not in _RPC_PATHS:
                self._simple(404, b"not found\n")
                return None
            self._rpc(bytes(self._body))
        elif method == b"OPTIONS":
            self._preflight(req)
        elif method in (b"GET", b"HEAD"):
            wait = self._admit()
            if wait > 0:
                retry = "60" if wait == float("inf") else str(max(1, math.ceil(wait)))
                self._simple(429, b"rate limited\n", [("retry-after", retry)])
            else:
                self._get(path, req, head=method == b"HEAD")
        else:
            self._simple(405, b"method not allowed\n", [("allow", "GET, HEAD, POST, OPTIONS")])
        return None

    def _admit(self) -> float:
        clients = self.app.clients
        return 0.0 if clients is None else clients.take(self.peer[0], 1, time.monotonic())

    def _rpc(self, body: bytes) -> None:
        reply = self.app.dispatcher.dispatch(body, self)
        if isinstance(reply, Coroutine):
            self._busy = True
            self.link.pause_reading()
            server = self.app.server
            assert server is not None
            server.spawn(self._finish(reply))
        else:
            self._json(reply)

    async def _finish(self, coro: Coroutine[Any, Any, bytes | None]) -> None:
        try:
            reply = await coro
        except Exception as exc:  # the dispatcher answers every error itself: a bug
            _log.error("rpc_http_call_failed", error=repr(exc))
            self.link.close("internal")
            return
        self._busy = False
        if self.link.closing:
            return
        self._json(reply)
        if not self._write_paused:
            self.link.resume_reading()
        err: AgoraError | None
        try:
            err = self._pump()  # pipelined requests that arrived meanwhile
        except AgoraError as exc:  # a bad upgrade among them; must not reach the server's tasks
            err = exc
        if err is not None:
            _log.debug("rpc_bad_request", peer=self.peer, code=err.code)
            self.link.close(err.code)

    def _json(self, reply: bytes | None) -> None:
        cors = [("access-control-allow-origin", self.cfg.cors_origin)]
        if reply is None:
            self._respond(204, b"", None, cors)  # only notifications: nothing to say
        else:
            self._respond(200, reply, _JSON, cors)

    def _preflight(self, req: h11.Request) -> None:
        asked = _header(req, b"access-control-request-headers")
        headers = [
            ("access-control-allow-origin", self.cfg.cors_origin),
            ("access-control-allow-methods", "POST, GET, OPTIONS"),
            ("access-control-allow-headers", asked.decode("latin-1") if asked else "content-type"),
            ("access-control-max-age", "86400"),
        ]
        self._respond(204, b"", None, headers)

    def _get(self, path: bytes, req: h11.Request, head: bool) -> None:
        if path == b"/health":
            doc = self.app.health()
            status = 200 if doc.get("ok", True) else 503
            nocache = [("cache-control", "no-store")]
            self._respond(status, _enc.encode(doc), _JSON, nocache, head=head)
        elif path == b"/metrics":
            self._respond(200, self.app.metrics.render(), METRICS_TYPE, head=head)
        else:
            f = self.app.static.lookup(path)
            if f is None:
                self._simple(404, b"not found\n", head=head)
            elif _header(req, b"if-none-match") == f.etag.encode():
                self._respond(304, b"", None, [("etag", f.etag)], head=True)
            else:
                headers = [("cache-control", f.cache_control), ("etag", f.etag)]
                headers.append(("x-content-type-options", "nosniff"))
                self._respond(200, f.body, f.content_type, headers, head=head)

    def _upgrade(self, req: h11.Request) -> RemoteError | None:
        leftover, _ = self.conn.trailing_data
        ws = WsSession(self.app, self.link)
        try:
            ws.accept(req.headers, req.target, b"")
        except WsHandshakeError as exc:
            return self._refuse(400, f"bad WebSocket handshake: {exc}", "bad_ws_handshake")
        self.ws = ws
        if self._write_paused:
            ws.pause_writing()
        if leftover:
            ws.data_received(leftover)
        return None

    # --- responses ---

    def _respond(
        self,
        status: int,
        body: bytes,
        ctype: str | None,
        headers: list[tuple[str, str]] | None = None,
        *,
        head: bool = False,
        close: bool = False,
    ) -> None:
        hs = [("server", "agora"), *(headers or ())]
        if ctype is not None:
            hs.append(("content-type", ctype))
        if status >= 200 and status not in (204, 304):
            hs.append(("content-length", str(len(body))))
        if close:
            hs.append(("connection", "close"))
        reason = http.HTTPStatus(status).phrase.encode()
        try:
            out = self.conn.send(h11.Response(status_code=status, headers=hs, reason=reason))
            if body and not head:
                out += self.conn.send(h11.Data(data=body)) or b""
            out += self.conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            _log.debug("rpc_cannot_respond", peer=self.peer, error=str(exc))
            self.link.close("http_error")
            return
        self.link.write(out or b"")
        self._next_cycle()

    def _simple(
        self,
        status: int,
        text: bytes,
        headers: list[tuple[str, str]] | None = None,
        *,
        head: bool = False,
        close: bool = False,
    ) -> None:
        self._respond(status, text, "text/plain; charset=utf-8", headers, head=head, close=close)

    def _refuse(self, status: int, message: str, code: str) -> RemoteError:
        """Answer `status` if we still may, close, and return the client's error."""
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self._simple(status, message.encode()[:200] + b"\n", close=True)
        self.link.close(code)
        return RemoteError(message[:300], code=code)

    def _next_cycle(self) -> None:
        conn = self.conn
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
            self.link.close("http_done")
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            self.link.close("http_done")
            return
        self._arm("idle", self.cfg.idle_timeout)


def handler_factory(app: App) -> Any:
    """The generic server's `handler_factory` for this app."""

    def make(link: Link) -> HttpHandler:
        return HttpHandler(app)

    return make
