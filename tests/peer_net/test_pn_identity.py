"""NodeKey on disk and the Hello payload."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agora.errors import LocalError, RemoteError
from agora.peer_net.identity import (
    STATIC_DOMAIN,
    Hello,
    NodeKey,
    PeerInfo,
    encode_hello,
    make_hello,
    verify_hello,
)


def test_save_and_load(tmp_path: Path) -> None:
    key = NodeKey.from_seed(bytes(range(32)))
    path = tmp_path / "node_key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == bytes(range(32)).hex()
    back = NodeKey.load(path)
    assert back.node_id == key.node_id and len(key.node_id) == 32
    assert key.hex == key.node_id.hex() and key.short == key.hex[:8] and len(key.short) == 8
    # The well-known Ed25519 public key of the seed 000102..1f.
    assert key.hex == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def test_save_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "node_key"
    path.write_text("old")
    path.chmod(0o644)
    NodeKey.generate().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["zz", "00" * 31, ""])
def test_load_bad_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "node_key"
    path.write_text(content)
    with pytest.raises(LocalError) as err:
        NodeKey.load(path)
    assert err.value.code == "bad_key_file"


def test_hello_round_trip_and_signature() -> None:
    key = NodeKey.generate()
    static = bytes(range(32))
    hello = make_hello(key, static, 1, "agora-main", "192.0.2.1:26656")
    payload = encode_hello(hello)
    # msgpack array: [identity_key, signature, version, network, listen]
    assert payload[0] == 0x95 and payload[1:3] == b"\xc4\x20"
    peer = verify_hello(payload, static)
    assert peer == PeerInfo(key.node_id, "192.0.2.1:26656", 1, "agora-main")
    assert peer.short == key.short
    with pytest.raises(RemoteError) as err:
        verify_hello(payload, bytes(32))  # a different static key
    assert err.value.code == "bad_identity_signature"


def test_signature_is_domain_separated() -> None:
    key = NodeKey.generate()
    static = bytes(range(32))
    bare = Hello(key.node_id, key.sign(static), 1, "n", "")
    with pytest.raises(RemoteError) as err:
        verify_hello(encode_hello(bare), static)
    assert err.value.code == "bad_identity_signature"
    ok = Hello(key.node_id, key.sign(STATIC_DOMAIN + static), 1, "n", "")
    assert verify_hello(encode_hello(ok), static).identity_key == key.node_id


def test_identity_key_not_on_the_curve() -> None:
    key = NodeKey.generate()
    static = bytes(32)
    sig = key.sign(STATIC_DOMAIN + static)
    bogus = Hello(b"\xff" * 32, sig, 1, "n", "")
    with pytest.raises(RemoteError) as err:
        verify_hello(encode_hello(bogus), static)
    assert err.value.code == "bad_identity_signature"
