"""Every social query over the JSON-RPC dispatcher with arbitrary params: each answer is a
result or a client error with a stable code, never an internal error (hypothesis)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from social_util import Net

from agora.rpc.codes import INTERNAL_ERROR
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.methods import Registry, Services
from agora.social import bodies as b
from agora.social.rpc import register
from agora.social.service import SocialReader

METHODS = [
    "social_getInfo", "social_getAccount", "social_getTxResult", "social_getFeed",
    "social_getPosts", "social_getThread", "social_getPost", "social_getProfile",
    "social_getFollowers", "social_getFollowing", "social_getNotifications",
    "social_searchPosts", "social_searchProfiles", "social_searchHashtags",
    "social_getHashtag", "social_getTrending",
]  # fmt: skip
HANDLES = ["ali", "bob"]
NAMES = ["account", "viewer", "cursor", "limit", "post", "query", "prefix", "tag", "hash", "x"]


class _Session:
    transport = "http"
    peer = ("127.0.0.1", 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dispatcher, list[str]]]:
    n = Net(tmp_path_factory.mktemp("soc_rpc_fuzz") / "chain.sqlite")
    n.block(*(n.tx(i, "handle_register", b.HandleRegister(h)) for i, h in enumerate(HANDLES)))
    n.target(1, "follow", 0)
    p = n.post(0, "hello #fuzz @bob")
    r = n.post(1, "a reply", reply_to=p)
    reader = SocialReader.open(n.path, n.genesis)
    reg = Registry()
    register(reg, reader)
    with ThreadPoolExecutor(2) as pool:
        # Values that reach past the decoders: real ids, handles and cursor shapes.
        known = [p.hex(), r.hex(), n.key(0).hex(), "@bob", "bob", "ali", "fuzz", "#fuzz"]
        yield Dispatcher(reg, Services(executor=pool)), known
    reader.close()
    n.close()


def _values(known: list[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.sampled_from(known),
        st.text(max_size=80),
        st.from_regex(r"-?[0-9]{0,24}(\.[0-9]{0,24}){0,2}", fullmatch=True),
        st.from_regex(r"@?[A-Za-z0-9_]{0,25}", fullmatch=True),
        st.from_regex(r"[0-9a-fA-F]{60,68}", fullmatch=True),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        st.booleans(),
        st.none(),
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=4)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_social_queries_answer_any_params_cleanly(
    world: tuple[Dispatcher, list[str]], data: st.DataObject
) -> None:
    disp, known = world
    method = data.draw(st.sampled_from(METHODS))
    values = _values(known)
    params = data.draw(
        st.one_of(
            st.dictionaries(st.sampled_from(NAMES), values, max_size=4),
            st.lists(values, max_size=4),
            st.none(),
        )
    )
    doc: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        doc["params"] = params
    try:
        raw = msgspec.json.encode(doc)
    except (TypeError, ValueError, OverflowError):
        return  # not JSON (NaN is, in msgspec; huge ints are not): nothing to send
    out = disp.dispatch(raw, _Session())
    if not isinstance(out, bytes | None):
        out = asyncio.run(out)
    assert out is not None
    answer = msgspec.json.decode(out)
    if "error" in answer:
        err = answer["error"]
        assert err["code"] != INTERNAL_ERROR, (method, params, err)
        assert isinstance(err.get("data", {}).get("code"), str), (method, params, err)
    else:
        assert "result" in answer
