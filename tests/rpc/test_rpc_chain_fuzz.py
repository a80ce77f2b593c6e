"""Any params to any chain method get a result or a client error, never an internal one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpc_chain_util import World, call
from rpc_helpers import run

from agora.blockchain.tx import encode_tx

METHODS = {
    "chain_status": [],
    "chain_getBlock": ["height", "hash"],
    "chain_getCommit": ["height"],
    "tx_get": ["hash"],
    "account_get": ["address"],
    "tx_submit": ["tx"],
}
CLIENT_ERRORS = {-32602, -32004, -32010, -32005}


def hexes(n: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=n, max_size=n).map(bytes.hex)


def values(world: World) -> st.SearchStrategy[Any]:
    real = [b.block_id.hex() for b in world.blocks.values()] + [world.key(0).hex()]
    txs = [encode_tx(world.transfer(3, 0, 1, nonce=n)).hex() for n in (0, 1, 2)]
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.integers(min_value=0, max_value=8), st.floats(allow_nan=False),
        st.text(max_size=70), hexes(32), hexes(31), st.binary(max_size=200).map(bytes.hex),
        st.sampled_from(real + txs), st.sampled_from(txs).map(lambda t: t[:-2]),
        st.sampled_from(txs).map(lambda t: t[:40] + "ff" + t[42:]),
    )  # fmt: skip
    return st.one_of(scalars, st.lists(scalars, max_size=3))


def test_no_params_crash_a_method(tmp_path: Path) -> None:
    world = World(tmp_path / "chain.sqlite")
    rpc = world.rpc()  # no chain actor: a tx that decodes gets -32005
    v = values(world)

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, Any]:
        method = draw(st.sampled_from(sorted(METHODS)))
        names = METHODS[method]
        shape = draw(st.sampled_from(["none", "list", "dict"]))
        if shape == "none":
            return method, None
        if shape == "list":
            return method, draw(st.lists(v, max_size=len(names) + 1))
        keys = st.sampled_from([*names, "extra"]) if names else st.just("extra")
        return method, draw(st.dictionaries(keys, v, max_size=3))

    seen: set[int] = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(requests())
    def check(req: tuple[str, Any]) -> None:
        method, params = req
        res = run(call(rpc, method, params))
        if "error" in res:
            assert res["error"]["code"] in CLIENT_ERRORS, (method, params, res)
            assert isinstance(res["error"]["data"]["code"], str)
            seen.add(res["error"]["code"])
        else:
            seen.add(0)

    try:
        check()
        # The checker itself must see each outcome (hypothesis may not draw them all).
        for method, params in (
            ("chain_status", None),
            ("chain_getBlock", {"height": 10**6}),
            ("chain_getBlock", {"hash": "zz"}),
        ):
            check.hypothesis.inner_test((method, params))  # type: ignore[attr-defined]
    finally:
        rpc.executor.shutdown()
        world.close()
    assert {0, -32602, -32004} <= seen
