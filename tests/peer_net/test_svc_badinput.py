"""Bad input on a live node's P2P port: the offender is cut off, the node serves on.

Each case runs against a node `n` that already has a healthy peer `p`. A raw
client (a sans-IO Connection on a socket) misbehaves; the test checks that
its connection is closed, that the reason is logged, that it is banned when it
broke the protocol after the handshake (loopback IPs are never banned, so
garbage before any handshake only costs a score), and that `n` still gossips
with `p` and answers its requests afterwards.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from raw_peer import RawPeer
from svc_util import TNode, arun, records, running, until

from agora.peer_net import batch
from agora.peer_net.codes import PacketCode
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Response
from agora.peer_net.testactor import TestItem as Item
from agora.peer_net.testactor import encode_item

GOOD = encode_item(Item("fine"))
Case = Callable[[RawPeer, str], Awaitable[None]]


async def garbage_before_handshake(raw: RawPeer, addr: str) -> None:
    await raw.open(addr)
    raw.write(b"\xff\xff" + b"not noise at all" * 8)


async def garbage_after_handshake(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(bytes(range(7, 250, 3)) * 3)


async def truncated_frame(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(raw.seal(AppCode.TEST_GOSSIP, GOOD)[:-5])
    assert raw.writer is not None
    raw.writer.write_eof()


async def oversize_length(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(struct.pack(">I", 2**31) + bytes(31))


async def wrong_tag(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    frame = bytearray(raw.seal(AppCode.TEST_GOSSIP, GOOD))
    frame[20] ^= 1  # inside the tag
    raw.write(bytes(frame))


async def replayed_nonce(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    frame = raw.seal(AppCode.TEST_GOSSIP, GOOD)
    raw.write(frame + frame)


async def skipped_nonce(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.seal(AppCode.TEST_GOSSIP, GOOD)  # nonce 0 never sent
    raw.write(raw.seal(AppCode.TEST_GOSSIP, encode_item(Item("late"))))


async def unknown_code(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(raw.seal(999, b""))


async def undecodable_body(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(raw.seal(AppCode.TEST_GOSSIP, b"\xc1 is never msgpack"))


async def undecodable_disconnect(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    raw.write(raw.seal(PacketCode.DISCONNECT, b"\x93garbage"))


async def undecodable_pex(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    # an answer to nothing: the node asked us for addresses (PEX) with msg_id 1 at most
    raw.write(raw.seal(PacketCode.PEX_RESPONSE, b"\x91\x91\xc1", flags=2, msg_id=77))


async def bad_batch(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    whole = batch.encode([(AppCode.TEST_GOSSIP, 0, 0, GOOD), (AppCode.TEST_GOSSIP, 0, 0, GOOD)])
    raw.write(raw.seal(PacketCode.BATCH, whole[:-3]))  # the second packet cut short


async def unknown_code_in_batch(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    body = batch.encode([(AppCode.TEST_GOSSIP, 0, 0, GOOD), (999, 0, 0, b"")])
    raw.write(raw.seal(PacketCode.BATCH, body))


async def oversize_in_batch(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    body = batch.encode([(AppCode.TEST_DIRECT, 0, 0, GOOD), (AppCode.VOTE, 0, 0, bytes(1025))])
    raw.write(raw.seal(PacketCode.BATCH, body))


async def unsolicited_response_in_batch(raw: RawPeer, addr: str) -> None:
    await raw.handshake(addr)
    body = batch.encode([(AppCode.TEST_RESPONSE, 2, 4242, GOOD)])
    raw.write(raw.seal(PacketCode.BATCH, body))


# case, the logged reason, banned?
CASES: list[tuple[Case, str, bool]] = [
    (garbage_before_handshake, "handshake_message_too_long", False),
    (garbage_after_handshake, "frame_oversize", True),
    (truncated_frame, "frame_truncated", False),
    (oversize_length, "frame_oversize", True),
    (wrong_tag, "bad_tag", True),
    (replayed_nonce, "nonce_replay", True),
    (skipped_nonce, "nonce_skip", True),
    (unknown_code, "unknown_code", True),
    (undecodable_body, "undecodable_body", True),
    (undecodable_disconnect, "bad_disconnect", True),
    (undecodable_pex, "unsolicited_response", True),
    (bad_batch, "bad_batch", True),
    (unknown_code_in_batch, "unknown_code", True),
    (oversize_in_batch, "body_oversize", True),
    (unsolicited_response_in_batch, "unsolicited_response", True),
]


@pytest.mark.parametrize(("case", "reason", "banned"), CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_is_cut_off_and_the_node_serves_on(
    tmp_path: Path, case: Case, reason: str, banned: bool
) -> None:
    async def main() -> None:
        with records() as log:
            n = TNode(tmp_path / "n")
            async with running(n):
                p = TNode(tmp_path / "p", bootstrap=(n.addr,))
                async with running(p):
                    await until(lambda: n.peer_ids() == {p.id}, 10)
                    raw = RawPeer()
                    await case(raw, n.addr)
                    assert await raw.closed_by_node(5.0), "the node kept the connection open"
                    raw.close()
                    await until(lambda: bool(log.find("peer_misbehaved", reason=reason)), 5)
                    hit = log.find("peer_misbehaved", reason=reason)[0]
                    assert hit["node"] == n.key.short
                    assert n.net.peers.is_banned(raw.id, now=n.net.clock()) is banned
                    if banned:
                        assert hit["peer"] == raw.id.hex() and hit["banned"]
                        goodbye = raw.goodbye()
                        assert goodbye is not None and goodbye.code == reason
                    # the node still serves its healthy peer, both ways
                    await p.actor.gossip(f"after {reason}")
                    await until(lambda: n.actor.deliveries(f"after {reason}") == 1, 5)
                    r = await n.actor.request(p.id, "still there?")
                    assert isinstance(r, Response)
                    assert n.peer_ids() == {p.id}
        closes = log.find("peer_disconnected", node=n.key.short, reason=reason)
        assert closes, f"no disconnect logged with reason {reason}"

    arun(main())
