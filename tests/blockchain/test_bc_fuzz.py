"""Fuzzed decoders and entry checks: bad input gets a RemoteError with a code, nothing else."""

from functools import cache

import msgspec
from bc_util import CHAIN, PARAMS, transfer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agora.blockchain.block import Block, decode_block, encode_block
from agora.blockchain.chain import Chain
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.tx import Envelope, Tx, TxError, decode_tx, encode_tx, make_tx
from agora.codec import encode, sha256
from agora.errors import RemoteError

VALS = dev_keys("val", 4)
USERS = dev_keys("user", 3)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def driver() -> Driver:
    c = Chain.open(":memory:", dev_genesis(VALS, USERS, params=PARAMS))
    d = Driver(c, VALS)
    d.step([transfer(USERS[0], 1, bytes(USERS[1].verify_key))])
    c.mempool.add(transfer(USERS[0], 2, bytes(USERS[1].verify_key)))
    return d


@cache
def sample_tx() -> bytes:
    return encode_tx(transfer(USERS[0], 3, bytes(USERS[2].verify_key), 7, fee=2, expiry=99))


@cache
def sample_block() -> bytes:
    return encode_block(driver().propose())


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        b[pos % len(b)] = val
    return bytes(b)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4)


@FUZZ
@given(st.binary(max_size=600))
def test_decode_tx_arbitrary_bytes(data: bytes) -> None:
    try:
        tx = decode_tx(data)
    except RemoteError as e:
        assert e.code in ("undecodable", "invalid_value", "non_canonical", "oversize")
    else:
        assert encode_tx(tx) == data


@FUZZ
@given(edits, st.binary(max_size=8))
def test_decode_tx_mutated(e: list[tuple[int, int]], tail: bytes) -> None:
    data = mutate(sample_tx(), e) + tail
    try:
        tx = decode_tx(data)
    except RemoteError as err:
        assert err.code
    else:
        assert encode_tx(tx) == data


@FUZZ
@given(edits)
def test_decode_block_mutated(e: list[tuple[int, int]]) -> None:
    data = mutate(sample_block(), e)
    try:
        block = decode_block(data)
    except RemoteError as err:
        assert err.code
        return
    assert encode_block(block) == data
    # A block that decodes but was tampered with is refused by validation, with a code.
    d = driver()
    before = (d.chain.height, d.chain.state_root, len(d.chain.mempool))
    if data != sample_block():
        try:
            d.chain.validate_block(block)
        except RemoteError as err:
            assert err.code
    assert (d.chain.height, d.chain.state_root, len(d.chain.mempool)) == before


@FUZZ
@given(st.binary(max_size=400))
def test_decode_block_arbitrary_bytes(data: bytes) -> None:
    try:
        decode_block(data)
    except RemoteError as e:
        assert e.code


envelopes = st.builds(
    Envelope,
    chain_id=st.sampled_from([CHAIN, "other"]),
    sender=st.sampled_from([bytes(k.verify_key) for k in USERS] + [b"\x05" * 32]),
    nonce=st.integers(0, 5),
    kind=st.sampled_from(["transfer", "post", "x"]),
    body_hash=st.sampled_from([b"\x00" * 32]),
    fee=st.integers(0, 2_000_000),
    expiry=st.integers(0, 3),
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=80),
    st.builds(
        lambda to, amount: encode(Transfer(to, amount)),
        st.sampled_from([bytes(k.verify_key) for k in USERS]),
        st.integers(1, 2_000_000),
    ),
)


@FUZZ
@given(envelopes, bodies, st.booleans(), st.booleans())
def test_entry_checks_refuse_with_a_code_and_change_nothing(
    env: Envelope, body: bytes | None, fix_hash: bool, sign: bool
) -> None:
    if fix_hash and body is not None:
        env = msgspec.structs.replace(env, body_hash=sha256(body))
    key = {bytes(k.verify_key): k for k in USERS}.get(env.sender)
    if sign and key is not None:
        from agora.blockchain.tx import TX_DOMAIN

        tx = Tx(env, key.sign(TX_DOMAIN + encode(env)).signature, body)
    else:
        tx = Tx(env, b"\x07" * 64, body)
    d = driver()
    m = d.chain.mempool
    before = (len(m), m.bytes, d.chain.state_root, [e.hash for e in m.ordered()])
    try:
        h = m.add(tx)
    except TxError as e:
        assert e.code and e.penalty == 0
        assert (len(m), m.bytes, d.chain.state_root, [e.hash for e in m.ordered()]) == before
    else:
        assert h in m
        m.update([h])  # take it out again so that examples stay independent
        assert len(m) == before[0]


def test_a_valid_signed_tx_passes_the_fuzz_harness() -> None:
    body = encode(Transfer(bytes(USERS[2].verify_key), 1))
    tx = make_tx(USERS[1], CHAIN, 1, "transfer", body, fee=1)
    m = driver().chain.mempool
    h = m.add(tx)
    m.update([h])
    assert isinstance(driver().propose(), Block)
