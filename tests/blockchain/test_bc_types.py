import msgspec
import pytest
from bc_util import CHAIN, transfer

from agora.blockchain.block import Block, decode_block, encode_block, tx_proof
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import dev_keys
from agora.blockchain.kinds import tx_size
from agora.blockchain.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    leaf_hash,
    merkle_proof,
    merkle_root,
    node_hash,
    verify_proof,
)
from agora.blockchain.sigs import Verifier, verify_one
from agora.blockchain.tx import (
    TX_DOMAIN,
    Envelope,
    Tx,
    decode_tx,
    encode_tx,
    erased,
    make_tx,
    tx_hash,
)
from agora.codec import encode, sha256
from agora.errors import RemoteError

KEY = dev_keys("k", 1)[0]


def _tx(nonce: int = 1, body: bytes = b"\x92\xc4\x00\x01") -> Tx:
    return make_tx(KEY, CHAIN, nonce, "transfer", body, fee=3, expiry=10)


def test_envelope_bytes_are_a_plain_array_a_browser_can_build() -> None:
    env = Envelope("c", b"\x01" * 32, 7, "post", b"\x02" * 32, 5, 0)
    raw = encode(env)
    # [str, bin32, int, str, bin32, int, int]: no maps, no extension types.
    assert raw == (
        b"\x97\xa1c\xc4\x20" + b"\x01" * 32 + b"\x07\xa4post\xc4\x20" + b"\x02" * 32 + b"\x05\x00"
    )


def test_signature_covers_envelope_with_domain_and_hash_ignores_body() -> None:
    tx = _tx()
    assert verify_one(tx.envelope.sender, TX_DOMAIN + encode(tx.envelope), tx.signature)
    assert not verify_one(tx.envelope.sender, encode(tx.envelope), tx.signature)
    gone = erased(tx)
    assert gone.body is None and tx_hash(gone) == tx_hash(tx)
    other = _tx(nonce=2)
    assert tx_hash(other) != tx_hash(tx)


def test_tx_roundtrip_and_size_formula() -> None:
    for body in (b"", b"x" * 10, b"y" * 300, b"z" * 70_000):
        tx = make_tx(KEY, CHAIN, 1, "transfer", body)
        data = encode_tx(tx)
        assert decode_tx(data, 1 << 20) == tx
        assert tx_size(encode(tx.envelope), tx) == len(data)
    gone = erased(_tx())
    assert tx_size(encode(gone.envelope), gone) == len(encode_tx(gone))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (encode_tx(_tx()) + b"\x00", "undecodable"),  # trailing byte
        (b"\xc1", "undecodable"),
        (b"", "undecodable"),
        (encode([1, 2, 3]), "invalid_value"),
        (encode(["x", b"\x00" * 64, None]), "invalid_value"),
        # nonce encoded as uint16 although it fits a positive fixint
        (
            encode_tx(_tx()).replace(b"\x01\xa8transfer", b"\xcd\x00\x01\xa8transfer"),
            "non_canonical",
        ),
        (b"\x93" + b"\xc4\x00" * 3, "invalid_value"),
    ],
)
def test_decode_tx_refuses_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(RemoteError) as e:
        decode_tx(data)
    assert e.value.code == code


def test_decode_tx_limits_and_field_types() -> None:
    with pytest.raises(RemoteError) as e:
        decode_tx(encode_tx(make_tx(KEY, CHAIN, 1, "transfer", b"x" * 100)), max_size=50)
    assert e.value.code == "oversize"
    tx = _tx()
    bad_key = msgspec.structs.replace(tx.envelope, sender=b"\x01" * 31)
    with pytest.raises(RemoteError) as e:
        decode_tx(encode(Tx(bad_key, tx.signature, tx.body)))
    assert e.value.code == "invalid_value"
    for kind in ("Transfer", "", "a" * 33, "x-y"):
        env = msgspec.structs.replace(tx.envelope, kind=kind)
        with pytest.raises(RemoteError):
            decode_tx(encode(Tx(env, tx.signature, tx.body)))
    neg = msgspec.structs.replace(tx.envelope, fee=-1)
    with pytest.raises(RemoteError):
        decode_tx(encode(Tx(neg, tx.signature, tx.body)))


def _rfc6962(items: list[bytes]) -> bytes:
    if not items:
        return EMPTY_ROOT
    if len(items) == 1:
        return leaf_hash(items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return node_hash(_rfc6962(items[:k]), _rfc6962(items[k:]))


def test_merkle_root_matches_rfc6962_and_proofs_verify() -> None:
    for n in range(0, 34):
        items = [sha256(bytes([i])) for i in range(n)]
        root = merkle_root(items)
        assert root == _rfc6962(items)
        for i in range(n):
            proof = merkle_proof(items, i)
            assert verify_proof(root, items[i], proof)
            assert not verify_proof(root, sha256(b"other"), proof)
            if n > 1:
                wrong = MerkleProof((i + 1) % n, n, proof.path)
                assert not verify_proof(root, items[i], wrong)
                assert not verify_proof(root, items[i], MerkleProof(i, n, proof.path[:-1]))
                assert not verify_proof(root, items[i], MerkleProof(i, n, [*proof.path, root]))
    assert not verify_proof(EMPTY_ROOT, b"x", MerkleProof(0, 0, []))
    with pytest.raises(IndexError):
        merkle_proof([b"a"], 1)


def test_leaf_and_node_are_domain_separated() -> None:
    a, b = sha256(b"a"), sha256(b"b")
    # A two-leaf root must not verify as a single leaf whose item is the concatenation.
    root = merkle_root([a, b])
    assert merkle_root([leaf_hash(a) + leaf_hash(b)]) != root


def test_block_roundtrip_and_proof(driver: object) -> None:
    from agora.blockchain.devchain import Driver

    assert isinstance(driver, Driver)
    users = dev_keys("user", 2)
    to = bytes(users[1].verify_key)
    driver.chain.mempool.add(transfer(users[0], 1, to))
    driver.chain.mempool.add(transfer(users[0], 2, to))
    block = driver.propose()
    data = encode_block(block)
    assert decode_block(data) == block
    for i, h in enumerate(block.tx_hashes()):
        assert verify_proof(block.header.tx_root, h, tx_proof(block, i))
    with pytest.raises(RemoteError) as e:
        decode_block(data + b"\x00")
    assert e.value.code == "undecodable"
    with pytest.raises(RemoteError) as e:
        decode_block(data, max_size=100)
    assert e.value.code == "oversize"
    assert isinstance(block, Block)


def test_verifier_batches_and_caches() -> None:
    v = Verifier(threads=2)
    try:
        txs = [
            make_tx(KEY, CHAIN, n, "transfer", encode(Transfer(b"\x01" * 32, 1)))
            for n in range(1, 80)
        ]
        hashes = [tx_hash(t) for t in txs]
        items = [(t.envelope.sender, TX_DOMAIN + encode(t.envelope), t.signature) for t in txs]
        bad = list(items)
        bad[5] = (bad[5][0], bad[5][1], b"\x00" * 64)
        hashes_bad = list(hashes)
        assert v.verify_many(hashes_bad, bad) == [i != 5 for i in range(len(items))]
        assert v.verified == len(items)
        assert all(v.verify_many(hashes, items))
        assert v.verified == len(items) + 1  # only the one that failed before
        v.submit([b"h" * 32], [items[0]])
        assert v.verify_many([b"h" * 32], [items[0]]) == [True]
        assert v.known(b"h" * 32)
    finally:
        v.close()
