"""In-memory pairs of Connections, pumped by hand (shared by the peer_net tests)."""

from __future__ import annotations

from typing import Any

from agora import PROTOCOL_VERSION
from agora.errors import RemoteError
from agora.peer_net.connection import Connection, Event
from agora.peer_net.identity import NodeKey

NETWORK = "agora-test"


def make(role: str, key: NodeKey | None = None, **kw: Any) -> Connection:
    kw.setdefault("network", NETWORK)
    kw.setdefault("version", PROTOCOL_VERSION)
    kw.setdefault("listen", f"127.0.0.1:{9000 if role == 'initiator' else 9001}")
    return Connection(role, key or NodeKey.generate(), **kw)  # type: ignore[arg-type]


class Pair:
    """An initiator and a responder joined by a perfect in-memory wire."""

    def __init__(self, init: Connection, resp: Connection) -> None:
        self.init = init
        self.resp = resp
        self.events: dict[str, list[Event]] = {"init": [], "resp": []}
        self.errors: dict[str, RemoteError | None] = {"init": None, "resp": None}
        self.wire: dict[str, list[bytes]] = {"init": [], "resp": []}  # bytes each one sent

    @classmethod
    def new(cls, init_kw: dict[str, Any] | None = None, **resp_kw: Any) -> Pair:
        return cls(make("initiator", **(init_kw or {})), make("responder", **resp_kw))

    def start(self) -> Pair:
        self.init.start()
        self.resp.start()
        return self

    def _feed(self, name: str, conn: Connection, data: bytes, chunk: int | None) -> None:
        step = chunk or len(data)
        for i in range(0, len(data), step):
            if self.errors[name] is not None:
                return
            try:
                self.events[name] += conn.receive_data(data[i : i + step])
            except RemoteError as e:
                self.errors[name] = e

    def pump(self, chunk: int | None = None, max_rounds: int = 20) -> Pair:
        """Move bytes both ways until nobody has anything to send."""
        for _ in range(max_rounds):
            moved = False
            for src_name, src, dst_name, dst in (
                ("init", self.init, "resp", self.resp),
                ("resp", self.resp, "init", self.init),
            ):
                data = src.data_to_send()
                if data:
                    moved = True
                    self.wire[src_name].append(data)
                    self._feed(dst_name, dst, data, chunk)
            if not moved:
                return self
        raise AssertionError("the pair kept talking")

    def connect(self, chunk: int | None = None) -> Pair:
        self.start().pump(chunk)
        assert self.errors == {"init": None, "resp": None}, self.errors
        return self

    def take(self, name: str) -> list[Event]:
        out, self.events[name] = self.events[name], []
        return out
