"""A block of the largest size a genesis allows fits in one peer frame, as a PROPOSAL
and in a BLOCKS_RESPONSE with its commit; a genesis or a config that breaks that is refused."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from agora import PROTOCOL_VERSION
from agora.blockchain.genesis import MAX_BLOCK_BYTES, Params, check_genesis, make_dev_genesis
from agora.blockchain.votes import Commit, CommitSig
from agora.blockchain.wire import SyncedBlock, encode_blocks_response
from agora.codec import encode
from agora.config import load_config, save_config
from agora.consensus_client.types import Proposal
from agora.errors import LocalError, RemoteError
from agora.node import Node
from agora.node_home import HomeSpec, init_home
from agora.peer_net.connection import Connection
from agora.peer_net.events import PacketReceived
from agora.peer_net.handlers import AppCode
from agora.peer_net.handlers.switcher import check_inbound
from agora.peer_net.header import DEFAULT_MAX_FRAME
from agora.peer_net.identity import NodeKey


def _pair() -> tuple[Connection, Connection]:
    a = Connection("initiator", NodeKey.generate(), "agora-frame", PROTOCOL_VERSION, "a:1")
    b = Connection("responder", NodeKey.generate(), "agora-frame", PROTOCOL_VERSION, "b:1")
    a.start()
    b.start()
    for _ in range(10):
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                dst.receive_data(data)
    return a, b


def _deliver(code: int, body: bytes, *, is_response: bool = False) -> bytes:
    """Send one packet across a real encrypted pair; the body that came out."""
    a, b = _pair()
    check_inbound(code, is_request=False, is_response=is_response, body_len=len(body))
    assert a.send_packet(code, body, msg_id=3 if is_response else 0, is_response=is_response)
    got = [e for e in b.receive_data(a.data_to_send()) if isinstance(e, PacketReceived)]
    assert len(got) == 1 and got[0].code == code
    return bytes(got[0].body)


def test_the_largest_block_fits_a_frame_as_a_proposal_and_with_a_big_commit() -> None:
    block = bytes(range(256)) * (MAX_BLOCK_BYTES // 256)
    assert len(block) == MAX_BLOCK_BYTES
    prop = Proposal("agora-frame", 2**40, 2**20, 2**20, b"\x01" * 32, block, b"\x02" * 32,
                    b"\x03" * 64)  # fmt: skip
    body = encode(prop)
    assert len(body) < DEFAULT_MAX_FRAME
    assert _deliver(AppCode.PROPOSAL, body) == body
    sigs = [CommitSig(i.to_bytes(32, "big"), b"\x04" * 64) for i in range(1000)]
    commit = Commit(2**40, 2**20, b"\x01" * 32, sigs)
    resp = encode_blocks_response(2**40, [SyncedBlock(block, commit)])
    assert len(resp) < DEFAULT_MAX_FRAME
    assert _deliver(AppCode.BLOCKS_RESPONSE, resp, is_response=True) == resp


def test_a_genesis_whose_blocks_do_not_fit_is_refused() -> None:
    assert Params().max_block_bytes == 2 * 1024 * 1024
    keys = [NodeKey.generate().node_id]
    ok = make_dev_genesis("agora-frame", keys, params=Params(max_block_bytes=MAX_BLOCK_BYTES))
    assert check_genesis(ok) is ok
    big = msgspec.structs.replace(ok, params=Params(max_block_bytes=MAX_BLOCK_BYTES + 1))
    with pytest.raises(RemoteError) as e:
        check_genesis(big)
    assert e.value.code == "bad_genesis" and "max_block_bytes" in e.value.message


def test_a_node_whose_frames_are_too_small_for_the_blocks_will_not_start(tmp_path: Path) -> None:
    init_home(tmp_path / "n", HomeSpec(name="n", p2p="127.0.0.1:0", rpc="127.0.0.1:0"))
    cfg = load_config(tmp_path / "n" / "config.toml")
    cfg.p2p.max_frame = 2 * 1024 * 1024  # the default blocks are 2 MiB: no room left
    save_config(cfg, tmp_path / "n" / "config.toml")
    with pytest.raises(LocalError) as e:
        Node(tmp_path / "n")
    assert e.value.code == "bad_config" and "max_frame" in e.value.message
