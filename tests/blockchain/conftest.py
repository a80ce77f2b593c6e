from collections.abc import Iterator

import nacl.signing
import pytest
from bc_util import CHAIN, PARAMS, transfer  # noqa: F401  (re-exported)

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Genesis


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
