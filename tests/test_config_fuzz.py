"""Fuzzing config.toml: whatever the file holds, `load_config` gives a Config that
`save_config` writes back the same, or a LocalError `no_config` / `bad_config` /
`bad_address` (never a ValueError, RecursionError or UnicodeDecodeError)."""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.config import Config, load_config, parse_addr, save_config
from agora.errors import LocalError

CODES = {"bad_config", "bad_address"}
DEFAULT: dict[str, Any] = msgspec.to_builtins(Config())
FIELDS = [(sec, key) for sec, body in DEFAULT.items() for key in body]

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
toml_scalars = (
    st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | text
    | st.datetimes()
    | st.dates()
    | st.times()
)
toml_values = st.recursive(
    toml_scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
    max_leaves=12,
)


def _load(data: bytes) -> Config | None:
    """The config in a file holding `data`, round-tripped; None after a documented refusal."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.toml"
        path.write_bytes(data)
        try:
            c = load_config(path)
        except LocalError as e:
            assert e.code in CODES, e
            return None
        assert isinstance(c, Config)
        save_config(c, path)
        assert load_config(path) == c
        return c


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    c = _load(data)
    assert c is None or c == msgspec.convert(_toml(data), Config)


def _toml(data: bytes) -> Any:
    return tomllib.loads(data.decode())


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(text | st.sampled_from(list(DEFAULT)), toml_values, max_size=4))
def test_arbitrary_toml_documents(doc: dict[str, Any]) -> None:
    c = _load(tomli_w.dumps(doc).encode())
    if c is not None:  # only known sections, each a table of known keys
        assert set(doc) <= set(DEFAULT)
        assert all(isinstance(v, dict) and set(v) <= set(DEFAULT[k]) for k, v in doc.items())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIELDS), toml_values)
def test_one_key_set_to_anything(field: tuple[str, str], value: Any) -> None:
    sec, key = field
    c = _load(tomli_w.dumps({sec: {key: value}}).encode())
    if c is not None:
        got = getattr(getattr(c, sec), key)
        assert got == value
        assert type(got) is type(DEFAULT[sec][key])  # an int where a float goes is a float


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(DEFAULT)), text, toml_values)
def test_an_unknown_key_is_bad_config(sec: str, key: str, value: Any) -> None:
    if key in DEFAULT[sec]:
        return
    docs: list[dict[str, Any]] = [{sec: {key: value}}, {key + "_x": {}}]  # no section ends _x
    for doc in docs:
        with pytest.raises(LocalError) as e:
            _load_strict(tomli_w.dumps(doc).encode())
        assert e.value.code == "bad_config"


def _load_strict(data: bytes) -> Config:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "config.toml").write_bytes(data)
        return load_config(Path(d) / "config.toml")


OUT_OF_RANGE: list[tuple[str, str, Any]] = [
    ("p2p", "max_inbound", -1),
    ("p2p", "max_outbound", 2**63),
    ("p2p", "max_frame", 100),
    ("p2p", "max_frame", 2**40),
    ("p2p", "in_budget", -5),
    ("p2p", "handshake_timeout_s", 0.0),
    ("p2p", "handshake_timeout_s", float("nan")),
    ("p2p", "request_timeout_s", float("inf")),
    ("p2p", "pex_interval_s", -1.0),
    ("p2p", "ban_seconds", 0),
    ("rpc", "max_connections_per_ip", 0),
    ("rpc", "calls_per_s_per_ip", float("-inf")),
    ("rpc", "call_burst_per_ip", 10**30),
    ("consensus", "block_interval_ms", -1),
    ("consensus", "block_interval_ms", 10**12),
    ("node", "log_level", "loud"),
    ("node", "log_level", "info\n"),
    ("node", "name", 5),
    ("rpc", "enabled", 1),
    ("p2p", "bootstrap", "127.0.0.1:1"),
    ("p2p", "max_inbound", 1.0),
]


@pytest.mark.parametrize(("sec", "key", "value"), OUT_OF_RANGE)
def test_a_value_out_of_range_or_of_the_wrong_type_is_bad_config(
    sec: str, key: str, value: Any
) -> None:
    with pytest.raises(LocalError) as e:
        _load_strict(tomli_w.dumps({sec: {key: value}}).encode())
    assert e.value.code == "bad_config"


@pytest.mark.parametrize(
    "addr", ["h:\u00b2", "h:\u0661", "h:" + "1" * 5000, "h:", ":1", "nohost", "h:65536", "h: 1"]
)
@pytest.mark.parametrize("where", ["p2p.listen", "rpc.listen", "p2p.bootstrap"])
def test_a_bad_address_is_bad_address(addr: str, where: str) -> None:
    sec, key = where.split(".")
    value: Any = [addr] if key == "bootstrap" else addr
    with pytest.raises(LocalError) as e:
        _load_strict(tomli_w.dumps({sec: {key: value}}).encode())
    assert e.value.code == "bad_address"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_parse_addr_is_a_tuple_or_bad_address(addr: str) -> None:
    try:
        host, port = parse_addr(addr)
    except LocalError as e:
        assert e.code == "bad_address"
    else:
        digits = addr.rpartition(":")[2]
        assert host and digits.isascii() and int(digits) == port and 0 <= port <= 65535


@pytest.mark.parametrize(
    "data",
    [
        b"a = " + b"[" * 5000 + b"]" * 5000,
        b"a = " + b"{b=" * 3000 + b"1" + b"}" * 3000,
        b'[node]\nname = "\xff"\n',
        b"\xef\xbb\xbf[node]\n",
        b'[node]\nname = "a"\r[p2p]\n',
    ],
)
def test_hostile_files_are_bad_config(data: bytes) -> None:
    with pytest.raises(LocalError) as e:
        _load_strict(data)
    assert e.value.code == "bad_config"


def test_no_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LocalError) as e:
        load_config(tmp_path / "config.toml")
    assert e.value.code == "no_config"
    with pytest.raises(LocalError) as e:
        load_config(tmp_path)
    assert e.value.code == "bad_config"


addrs = st.builds(
    lambda h, p: f"{h}:{p}",
    st.sampled_from(["127.0.0.1", "[::1]", "node.example.org", "192.0.2.7"]),
    st.integers(0, 65535),
)
seconds = st.floats(min_value=1e-3, max_value=1e7)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    c = Config()
    c.node.name = draw(text)
    c.node.log_level = draw(st.sampled_from(["debug", "INFO", "Warning", "error", "critical"]))
    c.p2p.listen, c.rpc.listen = draw(addrs), draw(addrs)
    c.p2p.external = draw(text)
    c.p2p.bootstrap = draw(st.lists(addrs, max_size=3))
    c.p2p.max_inbound = draw(st.integers(0, 1_000_000))
    c.p2p.max_frame = draw(st.integers(1024, 2**31))
    c.p2p.in_budget = draw(st.integers(0, 2**40))
    c.p2p.handshake_timeout_s = draw(seconds)
    c.p2p.ban_seconds = draw(seconds)
    c.rpc.enabled = draw(st.booleans())
    c.rpc.calls_per_s_per_ip = draw(st.floats(0, 1e9))
    c.rpc.call_burst_per_ip = draw(st.integers(1, 10**9))
    c.consensus.validator = draw(st.booleans())
    c.consensus.block_interval_ms = draw(st.integers(0, 3_600_000))
    return c


@settings(max_examples=100, deadline=None)  # each save fsyncs twice
@given(configs())
def test_a_good_config_round_trips(c: Config) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.toml"
        save_config(c, path)
        assert load_config(path) == c
