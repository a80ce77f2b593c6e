"""Bytes taken from where they already are instead of encoded again."""

import nacl.signing
import pytest
from bc_util import transfer

from agora.blockchain.block import encode_block
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.tx import encode_tx, envelope_bytes, erased, make_tx
from agora.codec import encode
from agora.errors import RemoteError

Keys = list[nacl.signing.SigningKey]


@pytest.mark.parametrize("body_len", [0, 1, 255, 256, 65_535, 65_536])
def test_envelope_bytes_are_the_envelopes_encoding(body_len: int) -> None:
    key = nacl.signing.SigningKey(bytes(range(32)))
    tx = make_tx(key, "c", 7, "transfer", b"x" * body_len, fee=3)
    for t in (tx, erased(tx)):
        assert envelope_bytes(t, encode_tx(t)) == encode(t.envelope)


def test_validate_block_takes_the_callers_size(genesis: Genesis, vals: Keys, users: Keys) -> None:
    a = Chain.open(":memory:", genesis)
    a.mempool.add_batch([transfer(users[0], 1, bytes(users[1].verify_key))])
    block = Driver(a, vals).propose()
    b = Chain.open(":memory:", genesis)
    limit = genesis.params.max_block_bytes
    with pytest.raises(RemoteError) as e:
        b.validate_block(block, size=limit + 1)
    assert e.value.code == "block_too_large"
    b.validate_block(block, size=len(encode_block(block)))
    a.close()
    b.close()
