from collections.abc import Iterator
from pathlib import Path

import pytest
from social_util import Net

from agora.social.bodies import HandleRegister
from agora.social.service import SocialReader

HANDLES = ["alice", "bob", "carol", "dave"]


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    n = Net(tmp_path / "chain.sqlite")
    yield n
    n.close()


@pytest.fixture
def reader(net: Net) -> Iterator[SocialReader]:
    r = SocialReader.open(net.path, net.genesis)
    yield r
    r.close()


@pytest.fixture
def people(net: Net) -> Net:
    """alice (0), bob (1), carol (2) and dave (3) with handles; users 4 and 5 without."""
    r = net.block(*(net.tx(i, "handle_register", HandleRegister(h)) for i, h in enumerate(HANDLES)))
    assert r.results == [("ok", "")] * 4
    return net
