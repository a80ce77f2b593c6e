"""The blockchain actor's packet bodies: tx batches, status, block ranges, header ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.block import encode_block
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.wire import (
    MAX_GOSSIP_BYTES,
    batch_txs,
    blocks_codec,
    decode_blocks_request,
    decode_status,
    decode_tx_batch,
    encode_blocks_request,
    encode_status,
    header_id,
    split_header,
)
from agora.errors import RemoteError

VALS = dev_keys("wire", 4)


def test_header_id_is_the_block_id_and_needs_a_canonical_header() -> None:
    chain = Chain.open(":memory:", dev_genesis(VALS, chain_id="agora-wire"))
    driver = Driver(chain, VALS)
    driver.step()
    block = driver.propose()
    data = encode_block(block)
    assert header_id(data) == block.id()
    assert split_header(data)[1] == block.header
    for bad, code in [
        (data + b"\x00", "undecodable"),
        (b"\x91\x01", "invalid_value"),
        (b"", "undecodable"),
    ]:
        with pytest.raises(RemoteError) as e:
            header_id(bad)
        assert e.value.code == code
    chain.close()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_refuse_garbage_with_a_remote_error(data: bytes) -> None:
    for decode in (
        header_id,
        decode_status,
        decode_blocks_request,
        decode_tx_batch,
        blocks_codec(1 << 20).decode,
    ):
        try:
            decode(data)
        except RemoteError as e:
            assert e.code in ("undecodable", "invalid_value", "non_canonical", "oversize")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=9000), max_size=40))
def test_tx_batches_keep_order_and_stay_under_the_limit(txs: list[bytes]) -> None:
    bodies = batch_txs(txs)
    assert [tx for b in bodies for tx in decode_tx_batch(b)] == txs
    assert all(len(b) <= MAX_GOSSIP_BYTES + 16 for b in bodies)
    assert (not txs) == (not bodies)


def test_status_and_range_requests_round_trip_and_check_their_bounds() -> None:
    st_ = decode_status(encode_status(7, b"\x01" * 32))
    assert (st_.height, st_.block_id) == (7, b"\x01" * 32)
    r = decode_blocks_request(encode_blocks_request(5, 64))
    assert (r.start, r.count) == (5, 64)
    for start, count in [(0, 1), (1, 0), (1, 65)]:
        with pytest.raises(RemoteError) as e:
            decode_blocks_request(encode_blocks_request(start, count))
        assert e.value.code == "invalid_value"
