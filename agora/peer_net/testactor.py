"""The test actor: owns the TEST_* codes, for the loopback tests and a fresh node.

It is an ordinary actor on peer_net's channels. It decodes each TEST_GOSSIP
item, keeps it in a bounded log and relays it once (`Broadcast` with the
sender excluded: peer_net's seen-cache drops the echoes); it answers each
TEST_REQUEST with a TEST_RESPONSE; it logs each TEST_DIRECT item (point to
point, never relayed); an undecodable body is reported with
`Penalize(undecodable_body)`, which bans the sender. `request()` asks a peer
and waits for the `Response` or `RequestFailed`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import msgspec

from agora.logs import Log
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import (
    Broadcast,
    Inbound,
    NetCommand,
    NetEvent,
    PeerDown,
    PeerUp,
    Penalize,
    Request,
    RequestFailed,
    Respond,
    Response,
    SendTo,
)
from agora.spsc import ChannelClosed, EndOfChannel, Receiver, Sender

UNDECODABLE = "undecodable_body"
UNDECODABLE_PENALTY = 100
_log = Log("agora.peer_net.testactor")


class TestItem(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    text: str
    data: bytes = b""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(TestItem)


def encode_item(item: TestItem) -> bytes:
    return _encoder.encode(item)


class TestActor:
    __test__ = False  # not a pytest class
    name = "test"

    def __init__(
        self,
        events: Receiver[NetEvent],
        commands: Sender[NetCommand],
        *,
        answer_requests: bool = True,
        relay: bool = True,
        log_size: int = 10_000,
    ) -> None:
        self.events = events
        self.commands = commands
        self.answer_requests = answer_requests
        self.relay = relay
        self.gossip_log: deque[tuple[bytes, str]] = deque(maxlen=log_size)  # (from, text)
        self.direct_log: deque[tuple[bytes, str]] = deque(maxlen=log_size)  # TEST_DIRECT
        self.answered = 0
        self.undecodable = 0
        self.connected: dict[bytes, PeerUp] = {}
        self._waiting: dict[int, asyncio.Future[Response | RequestFailed]] = {}
        self._next_req = 1

    # --- running ---

    async def run(self) -> None:
        """Until peer_net ends the event channel, or `stop()`."""
        try:
            while True:
                for ev in await self.events.receive_many(256):
                    await self._on_event(ev)
        except (EndOfChannel, ChannelClosed):
            pass
        finally:
            for fut in self._waiting.values():
                fut.cancel()
            self.commands.close()

    def stop(self) -> None:
        self.events.close()

    async def _on_event(self, ev: NetEvent) -> None:
        if isinstance(ev, Inbound):
            await self._inbound(ev)
        elif isinstance(ev, Response | RequestFailed):
            fut = self._waiting.pop(ev.req_id, None)
            if fut is not None and not fut.done():
                fut.set_result(ev)
        elif isinstance(ev, PeerUp):
            self.connected[ev.peer_id] = ev
        elif isinstance(ev, PeerDown):
            self.connected.pop(ev.peer_id, None)

    async def _inbound(self, ev: Inbound) -> None:
        try:
            item = _decoder.decode(ev.body)
        except msgspec.DecodeError:  # ValidationError is one too
            self.undecodable += 1
            await self.commands.send(Penalize(ev.peer_id, UNDECODABLE, UNDECODABLE_PENALTY))
            return
        if ev.code == AppCode.TEST_GOSSIP:
            self.gossip_log.append((ev.peer_id, item.text))
            if self.relay:
                await self.commands.send(Broadcast(ev.code, ev.body, exclude=ev.peer_id))
        elif ev.code == AppCode.TEST_DIRECT:
            self.direct_log.append((ev.peer_id, item.text))
        elif ev.code == AppCode.TEST_REQUEST and ev.is_request and self.answer_requests:
            answer = encode_item(TestItem("re:" + item.text, item.data))
            await self.commands.send(Respond(ev.peer_id, ev.msg_id, AppCode.TEST_RESPONSE, answer))
            self.answered += 1

    # --- asking ---

    async def gossip(self, text: str, data: bytes = b"") -> None:
        body = encode_item(TestItem(text, data))
        await self.commands.send(Broadcast(AppCode.TEST_GOSSIP, body))

    async def send_to(self, peer_id: bytes, text: str, data: bytes = b"") -> None:
        body = encode_item(TestItem(text, data))
        await self.commands.send(SendTo(peer_id, AppCode.TEST_DIRECT, body))

    async def request(
        self, peer_id: bytes | None, text: str, timeout_s: float = 5.0
    ) -> Response | RequestFailed:
        """Ask `peer_id` (None: any peer) and wait for the answer or the failure."""
        req_id, self._next_req = self._next_req, self._next_req + 1
        fut: asyncio.Future[Response | RequestFailed] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = fut
        body = encode_item(TestItem(text))
        await self.commands.send(Request(req_id, peer_id, AppCode.TEST_REQUEST, body, timeout_s))
        return await fut

    @staticmethod
    def decode(body: bytes) -> TestItem:
        return _decoder.decode(body)

    def deliveries(self, text: str) -> int:
        return sum(1 for _, t in self.gossip_log if t == text)

    def status(self) -> dict[str, Any]:
        return {
            "test": {
                "gossip_received": len(self.gossip_log),
                "requests_answered": self.answered,
                "undecodable": self.undecodable,
            }
        }
