import msgspec
import pytest

from agora.errors import LocalError, RemoteError
from agora.peer_net.codes import FIRST_APP_CODE, PacketCode
from agora.peer_net.handlers import (
    TABLE,
    AppCode,
    HandlerContext,
    Kind,
    Owner,
    check_inbound,
    code_name,
    code_switcher,
    forward_to_block_chain,
    forward_to_consensus,
    forward_to_social,
    rate_limits,
)
from agora.peer_net.handlers.switcher import dispatch, dispatch_response
from agora.peer_net.messages import Inbound, NetEvent, Response
from agora.peer_net.pex import encode_pex_response
from agora.peer_net.ratelimit import Bucket, InFlight
from agora.peer_net.requests import Pending

P = b"\x05" * 32


class ListSink:
    def __init__(self) -> None:
        self.items: list[NetEvent] = []

    def send_nowait(self, item: NetEvent, /) -> None:
        self.items.append(item)


class FakeNet:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, int, int, bytes]] = []
        self.learned: list[tuple[bytes, list[str]]] = []
        self.pongs: list[tuple[bytes, int, bytes]] = []

    def respond(self, peer_id: bytes, msg_id: int, code: int, body: bytes) -> None:
        self.sent.append((peer_id, msg_id, code, body))

    def pex_addresses(self, peer_id: bytes) -> list[str]:
        return ["127.0.0.1:7001", "[::1]:7002"]

    def learn_addresses(self, peer_id: bytes, addrs: list[str]) -> None:
        self.learned.append((peer_id, addrs))

    def pong(self, peer_id: bytes, pending: Pending, body: bytes) -> None:
        self.pongs.append((peer_id, pending.msg_id, body))


def _ctx(*owners: Owner) -> tuple[HandlerContext, dict[Owner, ListSink], FakeNet]:
    sinks = {o: ListSink() for o in owners}
    net = FakeNet()
    return HandlerContext(sinks, net), sinks, net


def test_table_is_consistent() -> None:
    assert {int(c) for c in PacketCode} <= set(TABLE)
    assert min(AppCode) >= FIRST_APP_CODE
    for code, spec in TABLE.items():
        assert spec.code == code and code_name(code) == spec.name
        if spec.kind is Kind.REQUEST:
            assert spec.response is not None and TABLE[spec.response].answers == code
            assert isinstance(spec.limit, InFlight) and spec.handler is not None
        elif spec.kind is Kind.RESPONSE:
            assert spec.answers is not None and TABLE[spec.answers].response == code
            assert spec.limit is None and spec.handler_res is not None
            assert TABLE[spec.answers].owner is spec.owner
        elif code not in (PacketCode.DISCONNECT, PacketCode.BATCH):  # Connection's own
            assert isinstance(spec.limit, Bucket) and spec.handler is not None
        direct = code == AppCode.TEST_DIRECT  # the one point-to-point announcement
        app_announcement = spec.kind is Kind.ANNOUNCEMENT and code >= FIRST_APP_CODE
        assert spec.gossip == (app_announcement and not direct)
    assert code_name(999) == "UNKNOWN_999"


def test_code_switcher_keeps_negotiation_and_names_the_owner() -> None:
    assert code_switcher(PacketCode.PING).local
    assert code_switcher(PacketCode.PEX_RESPONSE).local
    assert code_switcher(AppCode.VOTE).owner is Owner.CONSENSUS
    assert not code_switcher(AppCode.VOTE).local
    assert code_switcher(AppCode.TX_GOSSIP).owner is Owner.BLOCKCHAIN
    assert code_switcher(AppCode.BLOCKS_REQUEST).owner is Owner.BLOCKCHAIN
    assert code_switcher(AppCode.TEST_GOSSIP).owner is Owner.TEST
    for unknown in (0, 7, 15, 24, 29, 34, 65535):
        with pytest.raises(RemoteError) as e:
            code_switcher(unknown)
        assert (e.value.code, e.value.penalty) == ("unknown_code", 100)


@pytest.mark.parametrize(
    ("code", "req", "res", "size", "error"),
    [
        (AppCode.VOTE, False, False, 1024, None),
        (AppCode.VOTE, False, False, 1025, "body_oversize"),
        (AppCode.VOTE, True, False, 10, "wrong_kind"),
        (AppCode.BLOCKS_REQUEST, True, False, 10, None),
        (AppCode.BLOCKS_REQUEST, False, False, 10, "wrong_kind"),
        (AppCode.BLOCKS_RESPONSE, False, True, 10, None),
        (AppCode.BLOCKS_RESPONSE, True, False, 10, "wrong_kind"),
        (PacketCode.PEX_REQUEST, True, False, 1, "body_oversize"),
        (77, False, False, 0, "unknown_code"),
    ],
)
def test_check_inbound(code: int, req: bool, res: bool, size: int, error: str | None) -> None:
    if error is None:
        assert check_inbound(code, is_request=req, is_response=res, body_len=size).spec.code == code
        return
    with pytest.raises(RemoteError) as e:
        check_inbound(code, is_request=req, is_response=res, body_len=size)
    assert e.value.code == error and e.value.penalty == 100


def test_forwarders_put_on_the_owners_channel() -> None:
    ctx, sinks, _ = _ctx(Owner.CONSENSUS, Owner.BLOCKCHAIN)
    vote = Inbound(P, AppCode.VOTE, b"v")
    assert forward_to_consensus(ctx.channels, vote)
    assert forward_to_block_chain(ctx.channels, vote)
    assert not forward_to_social(ctx.channels, vote)  # no social actor on this node
    assert sinks[Owner.CONSENSUS].items == [vote] == sinks[Owner.BLOCKCHAIN].items


def test_dispatch_forwards_app_codes_and_responses() -> None:
    ctx, sinks, net = _ctx(Owner.CONSENSUS, Owner.BLOCKCHAIN)
    vote = Inbound(P, AppCode.VOTE, b"v")
    assert dispatch(ctx, code_switcher(AppCode.VOTE), vote)
    req = Inbound(P, AppCode.BLOCKS_REQUEST, b"r", msg_id=9, is_request=True)
    assert dispatch(ctx, code_switcher(AppCode.BLOCKS_REQUEST), req)
    assert sinks[Owner.CONSENSUS].items == [vote]
    assert sinks[Owner.BLOCKCHAIN].items == [req]
    res = Inbound(P, AppCode.BLOCKS_RESPONSE, b"blocks", msg_id=4)
    pending = Pending(P, 4, AppCode.BLOCKS_REQUEST, 0.0, 1.0, req_id=77)
    assert dispatch_response(ctx, code_switcher(AppCode.BLOCKS_RESPONSE), res, pending)
    assert sinks[Owner.BLOCKCHAIN].items[-1] == Response(77, P, b"blocks")
    internal = Pending(P, 5, AppCode.BLOCKS_REQUEST, 0.0, 1.0, req_id=None)
    assert not dispatch_response(ctx, code_switcher(AppCode.BLOCKS_RESPONSE), res, internal)
    assert not dispatch(ctx, code_switcher(AppCode.TEST_GOSSIP), Inbound(P, 30, b""))
    assert net.sent == []
    with pytest.raises(LocalError):
        dispatch(ctx, code_switcher(AppCode.BLOCKS_RESPONSE), res)
    with pytest.raises(LocalError):
        dispatch(ctx, code_switcher(PacketCode.DISCONNECT), Inbound(P, 1, b""))
    with pytest.raises(LocalError):
        dispatch_response(ctx, code_switcher(AppCode.VOTE), vote, pending)


def test_negotiation_is_answered_inside_peer_net() -> None:
    ctx, sinks, net = _ctx(Owner.CONSENSUS)
    ping = Inbound(P, PacketCode.PING, b"12345678", msg_id=3, is_request=True)
    assert dispatch(ctx, code_switcher(PacketCode.PING), ping)
    pex = Inbound(P, PacketCode.PEX_REQUEST, b"", msg_id=4, is_request=True)
    assert dispatch(ctx, code_switcher(PacketCode.PEX_REQUEST), pex)
    assert net.sent == [
        (P, 3, PacketCode.PONG, b"12345678"),
        (P, 4, PacketCode.PEX_RESPONSE, msgspec.msgpack.encode([["127.0.0.1:7001", "[::1]:7002"]])),
    ]
    pending = Pending(P, 8, PacketCode.PEX_REQUEST, 0.0, 1.0)
    body = encode_pex_response(["192.0.2.1:1", "Example.org:2"])
    res = Inbound(P, PacketCode.PEX_RESPONSE, body, msg_id=8)
    assert dispatch_response(ctx, code_switcher(PacketCode.PEX_RESPONSE), res, pending)
    assert net.learned == [(P, ["192.0.2.1:1", "example.org:2"])]
    bad = Inbound(P, PacketCode.PEX_RESPONSE, b"\xc1", msg_id=8)
    with pytest.raises(RemoteError) as e:
        dispatch_response(ctx, code_switcher(PacketCode.PEX_RESPONSE), bad, pending)
    assert e.value.code == "bad_pex"
    pong = Inbound(P, PacketCode.PONG, b"12345678", msg_id=3)
    ping_pending = Pending(P, 3, PacketCode.PING, 0.0, 1.0)
    assert dispatch_response(ctx, code_switcher(PacketCode.PONG), pong, ping_pending)
    assert net.pongs == [(P, 3, b"12345678")]
    assert sinks[Owner.CONSENSUS].items == []  # none of it was forwarded


def test_rate_limit_table_with_overrides() -> None:
    limits = rate_limits()
    assert limits[AppCode.VOTE] == TABLE[AppCode.VOTE].limit
    assert AppCode.BLOCKS_RESPONSE not in limits
    custom = rate_limits({AppCode.TEST_GOSSIP: None, AppCode.VOTE: Bucket(1, 1)})
    assert AppCode.TEST_GOSSIP not in custom and custom[AppCode.VOTE] == Bucket(1, 1)
