"""Fuzzing the genesis file: whatever the bytes, a RemoteError with a code, or a genesis
that hashes and round-trips through `genesis_to_json` to the same hash."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fuzz_values import json_values
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.genesis import (
    MAX_BLOCK_BYTES,
    Balance,
    Genesis,
    Params,
    genesis_from_json,
    genesis_to_json,
    load_genesis,
    make_dev_genesis,
)
from agora.blockchain.schema import MAX_BLOCK_TXS
from agora.blockchain.tx import MAX_INT
from agora.blockchain.votes import Validator
from agora.errors import LocalError, RemoteError
from agora.node_home import read_genesis_file

CODES = {"bad_genesis", "undecodable"}
KEYS = [bytes([i]) * 32 for i in range(1, 5)]
BASE = json.loads(genesis_to_json(make_dev_genesis("fuzz", KEYS[:3], KEYS[3:], genesis_time=7)))


def _decode(data: bytes) -> Genesis | None:
    """The decoded genesis, or None after checking the refusal is one we document."""
    try:
        g = genesis_from_json(data)
    except RemoteError as e:
        assert e.code in CODES, e
        return None
    assert isinstance(g, Genesis)
    again = genesis_from_json(genesis_to_json(g))
    assert again == g and again.hash() == g.hash()
    return g


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    assert _decode(data) is None  # not once a genesis by chance


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_arbitrary_json_values(value: Any) -> None:
    assert _decode(json.dumps(value).encode()) is None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\x80", b"\x80"]), st.integers(0, 3))
def test_a_string_that_is_not_utf8_is_undecodable(junk: bytes, where: int) -> None:
    doc = genesis_to_json(make_dev_genesis("fuzz", KEYS[:1], genesis_time=1))
    field = [b'"fuzz"', b'"faucet"', b'"social"', b'"max_post_chars"'][where]
    if field not in doc:
        field = b'"fuzz"'
    data = doc.replace(field, field[:-1] + junk + b'"', 1)
    with pytest.raises(RemoteError) as e:
        genesis_from_json(data)
    assert e.value.code == "undecodable"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_modules_nested_too_deep_are_undecodable_not_a_crash(depth: int) -> None:
    doc = dict(BASE, modules={"m": {"x": 0}})
    data = json.dumps(doc).replace('"x": 0', '"x": ' + "[" * depth + "]" * depth).encode()
    try:
        g = genesis_from_json(data)
    except RemoteError as e:
        assert e.code in CODES
    else:
        assert genesis_from_json(genesis_to_json(g)).hash() == g.hash()


# -- one field of a good file changed --------------------------------------------------------

PATHS: list[tuple[str | int, ...]] = [
    ("chain_id",),
    ("genesis_time",),
    ("validators",),
    ("validators", 0),
    ("validators", 0, "pub_key"),
    ("validators", 0, "power"),
    ("balances",),
    ("balances", 0, "address"),
    ("balances", 0, "amount"),
    ("params",),
    *[("params", name) for name in Params.__struct_fields__],
    ("modules",),
    ("modules", "social"),
    ("modules", "social", "max_post_chars"),
]


def _set(doc: Any, path: tuple[str | int, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    at = doc
    for p in path[:-1]:
        at = at[p]
    at[path[-1]] = value
    return doc


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATHS), json_values | st.integers(min_value=-(2**80), max_value=2**80))
def test_one_field_replaced_by_anything(path: tuple[str | int, ...], value: Any) -> None:
    g = _decode(json.dumps(_set(BASE, path, value)).encode())
    if g is not None:  # then it is a genesis that can start
        assert 0 <= g.genesis_time <= MAX_INT
        assert g.valset().total_power <= MAX_INT
        assert sum(b.amount for b in g.balances) <= MAX_INT


def _refused(doc: Any) -> None:
    with pytest.raises(RemoteError) as e:
        genesis_from_json(json.dumps(doc).encode())
    assert e.value.code == "bad_genesis"


big = st.integers(min_value=MAX_INT + 1, max_value=2**200)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just(("validators", 0, "power")), st.integers(max_value=0) | big),
        st.tuples(st.just(("balances", 0, "amount")), st.integers(max_value=-1) | big),
        st.tuples(st.just(("genesis_time",)), st.integers(max_value=-1) | big),
        st.tuples(
            st.sampled_from([("params", n) for n in Params.__struct_fields__]),
            st.integers(max_value=-1) | big,
        ),
        st.tuples(st.just(("params", "max_block_txs")), st.integers(min_value=MAX_BLOCK_TXS + 1)),
        st.tuples(
            st.just(("params", "max_block_bytes")), st.integers(min_value=MAX_BLOCK_BYTES + 1)
        ),
        st.tuples(
            st.just(("modules", "social", "max_post_chars")),
            st.integers(min_value=2**64) | st.integers(max_value=-(2**63) - 1),
        ),
        st.tuples(
            st.sampled_from([("validators", 0, "pub_key"), ("balances", 0, "address")]),
            st.text(max_size=70).filter(lambda t: len(t) != 64 or t.strip() != t)
            | st.sampled_from(
                ["zz" * 32, " " + "00" * 31 + "0", "00" * 32 + "\n", "0x" + "00" * 31]
            ),
        ),
        st.tuples(
            st.just(("chain_id",)),
            st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True).map(lambda s: s + "\n")
            | st.text(min_size=65, max_size=70, alphabet="abc")
            | st.sampled_from(["", "Agora", "-x", "a b", "é"]),
        ),
        st.tuples(
            st.sampled_from([("genesis_time",), ("validators", 0, "power"), ("params", "min_fee")]),
            st.booleans()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=5)
            | st.none(),
        ),
    )
)
def test_a_field_out_of_range_is_refused(case: tuple[tuple[str | int, ...], Any]) -> None:
    path, value = case
    _refused(_set(BASE, path, value))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2), st.integers(1, 3))
def test_duplicate_validators_or_balances_are_refused(i: int, n: int) -> None:
    doc = json.loads(json.dumps(BASE))
    doc["validators"] += [dict(doc["validators"][i]) for _ in range(n)]
    _refused(doc)
    doc = json.loads(json.dumps(BASE))
    doc["balances"] += [dict(doc["balances"][0], amount=i) for _ in range(n)]
    _refused(doc)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([(), ("params",), ("validators", 0), ("balances", 0)]),
    st.text(min_size=1, max_size=10),
    json_values,
)
def test_an_unknown_key_is_refused(at: tuple[str | int, ...], key: str, value: Any) -> None:
    doc = json.loads(json.dumps(BASE))
    target = doc
    for p in at:
        target = target[p]
    if key in target:
        return
    target[key] = value
    _refused(doc)


# -- good files round-trip ---------------------------------------------------------------

keys32 = st.binary(min_size=32, max_size=32)
module_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def genesis_docs(draw: st.DrawFn) -> Genesis:
    vkeys = draw(st.lists(keys32, min_size=1, max_size=5, unique=True))
    powers = draw(st.lists(st.integers(1, MAX_INT // 8), min_size=len(vkeys), max_size=len(vkeys)))
    addrs = draw(st.lists(keys32, max_size=5, unique=True))
    amounts = draw(st.lists(st.integers(0, MAX_INT // 8), min_size=len(addrs), max_size=len(addrs)))
    params = Params(
        max_block_bytes=draw(st.integers(1, MAX_BLOCK_BYTES)),
        max_block_txs=draw(st.integers(1, MAX_BLOCK_TXS)),
        max_tx_bytes=draw(st.integers(1, MAX_INT)),
        min_fee=draw(st.integers(0, MAX_INT)),
        quota_window_ms=draw(st.integers(1, MAX_INT)),
        quota_max=draw(st.integers(0, MAX_INT)),
    )
    return Genesis(
        draw(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,63}", fullmatch=True)),
        draw(st.integers(0, MAX_INT)),
        [Validator(k, p) for k, p in zip(vkeys, powers, strict=True)],
        [Balance(a, n) for a, n in zip(addrs, amounts, strict=True)],
        params,
        draw(
            st.dictionaries(
                st.text(max_size=8),
                st.dictionaries(st.text(max_size=6), module_values, max_size=3),
                max_size=3,
            )
        ),
    )


@settings(max_examples=100, deadline=None)
@given(genesis_docs())
def test_a_good_genesis_round_trips_with_the_same_hash(g: Genesis) -> None:
    back = genesis_from_json(genesis_to_json(g))
    assert back.hash() == g.hash()
    assert back == g
    assert back.validators == g.validators and back.balances == g.balances
    assert back.params == g.params and back.chain_id == g.chain_id


# -- the files themselves ----------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_read_genesis_file_says_bad_genesis_for_any_bad_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "genesis.json"
        path.write_bytes(data)
        with pytest.raises(RemoteError) as r:
            load_genesis(path)
        assert r.value.code in CODES
        with pytest.raises(LocalError) as e:
            read_genesis_file(path)
        assert e.value.code == "bad_genesis" and str(path) in e.value.message


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_a_missing_or_unreadable_genesis_file_is_a_local_error(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "genesis.json"
    make(path)
    with pytest.raises(LocalError) as e:
        read_genesis_file(path)
    assert e.value.code == "bad_genesis"


@settings(max_examples=50, deadline=None)
@given(genesis_docs())
def test_a_good_file_is_read_back(g: Genesis) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "genesis.json"
        path.write_bytes(genesis_to_json(g))
        assert read_genesis_file(path).hash() == g.hash()
