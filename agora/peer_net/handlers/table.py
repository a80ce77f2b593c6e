"""The packet-code table: for each code, who owns it and how it is handled.

Codes below 16 are negotiation (`agora.peer_net.codes.PacketCode`), handled
inside peer_net; the application codes start at 16 (`AppCode`). For each
code the table gives its owner actor, its kind (announcement: token bucket;
request: in-flight limit; response: matched by the request tracker), whether
it is gossip (relayed once with the seen-cache), the largest body accepted,
the rate limit, and its `handler` (announcements and requests) or
`handler_res` (responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType

from agora.peer_net.codes import PacketCode
from agora.peer_net.handlers import negotiation as neg
from agora.peer_net.handlers.forward import Handler, Owner, ResponseHandler, announce_to, respond_to
from agora.peer_net.header import DEFAULT_MAX_FRAME
from agora.peer_net.pex import MAX_PEX_BODY
from agora.peer_net.ratelimit import Bucket, InFlight, Limit

KiB = 1024


class AppCode(IntEnum):
    TX_GOSSIP = 16
    PROPOSAL = 17
    VOTE = 18
    EVIDENCE = 19
    BLOCKS_REQUEST = 20
    BLOCKS_RESPONSE = 21
    STATUS_REQUEST = 22
    STATUS_RESPONSE = 23
    TEST_GOSSIP = 30
    TEST_REQUEST = 31
    TEST_RESPONSE = 32
    TEST_DIRECT = 33


class Kind(StrEnum):
    ANNOUNCEMENT = "announcement"
    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class CodeSpec:
    code: int
    name: str
    owner: Owner
    kind: Kind
    max_body: int
    gossip: bool = False
    response: int | None = None  # a request's answer code
    answers: int | None = None  # a response's request code
    limit: Limit | None = None
    handler: Handler | None = None
    handler_res: ResponseHandler | None = None


def _announce(
    code: IntEnum, owner: Owner, max_body: int, rate: float, burst: float, gossip: bool = True
) -> CodeSpec:
    return CodeSpec(
        code, code.name, owner, Kind.ANNOUNCEMENT, max_body, gossip=gossip,
        limit=Bucket(rate, burst), handler=announce_to(owner),
    )  # fmt: skip


def _request(
    code: IntEnum, response: IntEnum, owner: Owner, max_body: int, in_flight: int
) -> CodeSpec:
    return CodeSpec(
        code, code.name, owner, Kind.REQUEST, max_body, response=response,
        limit=InFlight(in_flight), handler=announce_to(owner),
    )  # fmt: skip


def _response(code: IntEnum, answers: IntEnum, owner: Owner, max_body: int) -> CodeSpec:
    return CodeSpec(
        code, code.name, owner, Kind.RESPONSE, max_body, answers=answers,
        handler_res=respond_to(owner),
    )  # fmt: skip


_P, _A, _N = PacketCode, AppCode, Owner.NEGOTIATION
_CONS, _CHAIN, _TEST = Owner.CONSENSUS, Owner.BLOCKCHAIN, Owner.TEST
_SPECS = [
    # Connection consumes DISCONNECT itself; it is here so the code is known.
    CodeSpec(_P.DISCONNECT, "DISCONNECT", _N, Kind.ANNOUNCEMENT, 4 * KiB),
    # Connection unpacks BATCH frames itself; a BATCH inside a batch is `bad_batch`.
    CodeSpec(_P.BATCH, "BATCH", _N, Kind.ANNOUNCEMENT, DEFAULT_MAX_FRAME),
    CodeSpec(
        _P.PING, "PING", _N, Kind.REQUEST, neg.MAX_PING_BODY, response=_P.PONG,
        limit=InFlight(2), handler=neg.on_ping,
    ),
    CodeSpec(
        _P.PONG, "PONG", _N, Kind.RESPONSE, neg.MAX_PING_BODY, answers=_P.PING,
        handler_res=neg.on_pong,
    ),
    CodeSpec(
        _P.PEX_REQUEST, "PEX_REQUEST", _N, Kind.REQUEST, 0, response=_P.PEX_RESPONSE,
        limit=InFlight(1), handler=neg.on_pex_request,
    ),
    CodeSpec(
        _P.PEX_RESPONSE, "PEX_RESPONSE", _N, Kind.RESPONSE, MAX_PEX_BODY,
        answers=_P.PEX_REQUEST, handler_res=neg.on_pex_response,
    ),
    _announce(_A.TX_GOSSIP, _CHAIN, 64 * KiB, rate=500, burst=2000),
    _announce(_A.PROPOSAL, _CONS, DEFAULT_MAX_FRAME, rate=20, burst=100),
    _announce(_A.VOTE, _CONS, 1 * KiB, rate=1000, burst=4000),
    _announce(_A.EVIDENCE, _CONS, 16 * KiB, rate=10, burst=100),
    _request(_A.BLOCKS_REQUEST, _A.BLOCKS_RESPONSE, _CHAIN, 256, in_flight=4),
    _response(_A.BLOCKS_RESPONSE, _A.BLOCKS_REQUEST, _CHAIN, DEFAULT_MAX_FRAME),
    _request(_A.STATUS_REQUEST, _A.STATUS_RESPONSE, _CHAIN, 256, in_flight=2),
    _response(_A.STATUS_RESPONSE, _A.STATUS_REQUEST, _CHAIN, 4 * KiB),
    _announce(_A.TEST_GOSSIP, _TEST, 1024 * KiB, rate=1000, burst=2000),
    _request(_A.TEST_REQUEST, _A.TEST_RESPONSE, _TEST, 1024 * KiB, in_flight=8),
    _response(_A.TEST_RESPONSE, _A.TEST_REQUEST, _TEST, 1024 * KiB),
    # point to point (SendTo), not relayed: the transport without the seen-cache
    _announce(_A.TEST_DIRECT, _TEST, 1024 * KiB, rate=1000, burst=2000, gossip=False),
]  # fmt: skip

TABLE: Mapping[int, CodeSpec] = MappingProxyType({int(s.code): s for s in _SPECS})


def code_name(code: int) -> str:
    spec = TABLE.get(code)
    return spec.name if spec is not None else f"UNKNOWN_{code}"


# The share of a peer's announcement limit we use ourselves: what we send at
# our pace may arrive bunched (write buffers, the network), and the peer
# counts it at its own pace.
EGRESS_SHARE = 0.9


def egress_limits(overrides: Mapping[int, Limit | None] | None = None) -> dict[int, Limit]:
    """How fast we send each announcement code to one peer: a share of its `rate_limits`.

    Relaying a flood we accepted at our limit would otherwise put us at the
    next peer's limit, and its bucket would count us as the flooder.
    """
    return {
        code: Bucket(limit.rate * EGRESS_SHARE, max(1.0, limit.burst * EGRESS_SHARE))
        for code, limit in rate_limits(overrides).items()
        if isinstance(limit, Bucket)
    }


def rate_limits(overrides: Mapping[int, Limit | None] | None = None) -> dict[int, Limit]:
    """The `RateLimiter` table: each code's limit, with `overrides` (None: unlimited)."""
    limits = {code: s.limit for code, s in TABLE.items() if s.limit is not None}
    for code, limit in (overrides or {}).items():
        if limit is None:
            limits.pop(code, None)
        else:
            limits[code] = limit
    return limits
