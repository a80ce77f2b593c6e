"""Handing packets to the actor that owns their code, through its channel.

The channels are passed in (a mapping from owner to anything with
`send_nowait`), so handlers run the same against spsc channels in a node and
against plain lists in tests. A channel that is full raises whatever its
`send_nowait` raises (spsc's `WouldBlock`): the caller stops reading from the
peer until the actor catches up, which is the backpressure DESIGN asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from agora.errors import LocalError
from agora.logs import Log
from agora.peer_net.messages import Inbound, NetEvent, Response
from agora.peer_net.requests import Pending

_log = Log("agora.peer_net.handlers")


class Owner(StrEnum):
    NEGOTIATION = "negotiation"  # handled inside peer_net, never forwarded
    CONSENSUS = "consensus"
    BLOCKCHAIN = "blockchain"
    SOCIAL = "social"
    TEST = "test"  # the e2e tests' and the benchmark's actor


class Sink(Protocol):
    def send_nowait(self, item: NetEvent, /) -> None: ...


Channels = Mapping[Owner, Sink]


class NetOps(Protocol):
    """What the negotiation handlers need from the peer_net service."""

    def respond(self, peer_id: bytes, msg_id: int, code: int, body: bytes) -> None: ...

    def pex_addresses(self, peer_id: bytes) -> list[str]: ...

    def learn_addresses(self, peer_id: bytes, addrs: list[str]) -> None: ...

    def pong(self, peer_id: bytes, pending: Pending, body: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class HandlerContext:
    channels: Channels
    net: NetOps


Handler = Callable[[HandlerContext, Inbound], bool]
ResponseHandler = Callable[[HandlerContext, Inbound, Pending], bool]


def forward(owner: Owner, channels: Channels, event: NetEvent) -> bool:
    """Put `event` on `owner`'s channel; False when this node runs no such actor."""
    sink = channels.get(owner)
    if sink is None:
        _log.debug("no_channel", owner=owner.value, message=type(event).__name__)
        return False
    sink.send_nowait(event)
    return True


def forward_to_consensus(channels: Channels, event: NetEvent) -> bool:
    return forward(Owner.CONSENSUS, channels, event)


def forward_to_block_chain(channels: Channels, event: NetEvent) -> bool:
    return forward(Owner.BLOCKCHAIN, channels, event)


def forward_to_social(channels: Channels, event: NetEvent) -> bool:
    return forward(Owner.SOCIAL, channels, event)


def forward_to_test(channels: Channels, event: NetEvent) -> bool:
    return forward(Owner.TEST, channels, event)


_FORWARDERS: dict[Owner, Callable[[Channels, NetEvent], bool]] = {
    Owner.CONSENSUS: forward_to_consensus,
    Owner.BLOCKCHAIN: forward_to_block_chain,
    Owner.SOCIAL: forward_to_social,
    Owner.TEST: forward_to_test,
}


def announce_to(owner: Owner) -> Handler:
    """The handler of an announcement or request code owned by `owner`."""
    if owner not in _FORWARDERS:
        raise LocalError(f"no actor owns {owner.value} codes", code="no_handler")

    def handler(ctx: HandlerContext, msg: Inbound) -> bool:
        # `forward`, inlined: this runs for every packet an actor gets
        sink = ctx.channels.get(owner)
        if sink is None:
            return forward(owner, ctx.channels, msg)
        sink.send_nowait(msg)
        return True

    handler.__name__ = f"announce_to_{owner.value}"
    return handler


def respond_to(owner: Owner) -> ResponseHandler:
    """The handler of a response code: the asking actor gets `Response(req_id)`."""
    fwd = _FORWARDERS[owner]

    def handler_res(ctx: HandlerContext, msg: Inbound, pending: Pending) -> bool:
        if pending.req_id is None:
            return False  # peer_net asked for itself; nobody to tell
        return fwd(ctx.channels, Response(pending.req_id, msg.peer_id, msg.body))

    handler_res.__name__ = f"respond_to_{owner.value}"
    return handler_res
