from collections.abc import Iterator

import nacl.signing
import pytest

from agora.blockchain.chain import Chain
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Genesis, Params
from agora.blockchain.tx import Tx, make_tx
from agora.codec import encode

CHAIN = "agora-test"
PARAMS = Params(min_fee=1, fee_per_byte=0, quota_base=5, quota_balance_step=100_000, quota_max=20)


def transfer(
    key: nacl.signing.SigningKey, nonce: int, to: bytes, amount: int = 1, fee: int = 1, **kw: int
) -> Tx:
    return make_tx(key, CHAIN, nonce, "transfer", encode(Transfer(to, amount)), fee=fee, **kw)


@pytest.fixture
def vals() -> list[nacl.signing.SigningKey]:
    return dev_keys("val", 4)


@pytest.fixture
def users() -> list[nacl.signing.SigningKey]:
    return dev_keys("user", 6)


@pytest.fixture
def genesis(vals: list[nacl.signing.SigningKey], users: list[nacl.signing.SigningKey]) -> Genesis:
    return dev_genesis(vals, users[:4], params=PARAMS)


@pytest.fixture
def chain(genesis: Genesis) -> Iterator[Chain]:
    c = Chain.open(":memory:", genesis)
    yield c
    c.close()


@pytest.fixture
def driver(chain: Chain, vals: list[nacl.signing.SigningKey]) -> Driver:
    return Driver(chain, vals)
