import dataclasses

import msgspec
import pytest

from agora.peer_net.messages import (
    Broadcast,
    Disconnect,
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

P = b"\x07" * 32
COMMANDS = [
    Broadcast(18, b"vote", exclude=P),
    Broadcast(16, b"tx"),
    SendTo(P, 30, b"x"),
    Request(1, None, 20, b"from=5", 2.5),
    Request(2, P, 22, b""),
    Respond(P, 9, 21, b"blocks"),
    Penalize(P, "bad_vote_signature", 100),
    Disconnect(P, "operator"),
]
EVENTS = [
    Inbound(P, 18, b"vote"),
    Inbound(P, 20, b"from=5", msg_id=3, is_request=True),
    Response(1, P, b"blocks"),
    RequestFailed(2, "timeout"),
    PeerUp(P, "127.0.0.1:7000", True),
    PeerDown(P, "bad_tag"),
]


@pytest.mark.parametrize("msg", COMMANDS)
def test_commands_roundtrip_as_one_tagged_union(msg: object) -> None:
    data = msgspec.msgpack.encode(msg)
    assert msgspec.msgpack.decode(data, type=NetCommand) == msg
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(data, type=NetEvent)


@pytest.mark.parametrize("msg", EVENTS)
def test_events_roundtrip_as_one_tagged_union(msg: object) -> None:
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(msg), type=NetEvent) == msg


def test_messages_are_frozen_and_tagged_by_name() -> None:
    for msg in [*COMMANDS, *EVENTS]:
        with pytest.raises((AttributeError, dataclasses.FrozenInstanceError)):
            msg.peer_id = b""  # type: ignore[attr-defined,misc]
        assert msgspec.to_builtins(msg)["type"] == type(msg).__name__
    assert Request(1, None, 20, b"").timeout_s == 10.0
