"""Fuzzing the files `agora devnet` reads: nodes.json (a clear `bad_devnet`, or the
manifest) and each node's status.json (a NodeView with the right types, or None), and
the devnet view fed with what was read: never a traceback."""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fuzz_values import json_values
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from agora.cli import main
from agora.cli.devnet_view import View
from agora.devnet import NodeEntry, NodeView, load_nodes, read_status, save_nodes
from agora.errors import LocalError
from agora.home_lock import HomeLock
from agora.node_home import HomeSpec, init_home

GOOD_STATUS: dict[str, Any] = {
    "node_id": "ab" * 32,
    "validator": True,
    "validator_key": "cd" * 32,
    "height": 12,
    "last_block": {"height": 12, "id": "ef" * 32, "time": 1, "txs": 3},
    "peers": [{"id": "01" * 32, "addr": "127.0.0.1:1", "inbound": True}],
    "sync": {"peers": {"01" * 32: 12}},
}
ENTRIES = [
    NodeEntry("node0", "/tmp/d/node0", "127.0.0.1:26656", "127.0.0.1:26657", 0),
    NodeEntry("node1", "/tmp/d/node1", "127.0.0.1:26666", "127.0.0.1:26667", 4242),
]
GOOD_NODES = json.dumps([asdict(n) for n in ENTRIES]).encode()


def _mutations(good: Any) -> st.SearchStrategy[bytes]:
    """`good` with one value anywhere in it replaced by any JSON value."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, at: tuple[Any, ...]) -> None:
        for k, v in node.items() if isinstance(node, dict) else enumerate(node):
            paths.append((*at, k))
            if isinstance(v, dict | list):
                walk(v, (*at, k))

    walk(good, ())

    def put(path: tuple[Any, ...], value: Any) -> bytes:
        copy = json.loads(json.dumps(good))
        node = copy
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return json.dumps(copy).encode()

    values = json_values | st.integers(-(2**70), 2**70)
    return st.builds(put, st.sampled_from(paths), values)


def _files(good: bytes, doc: Any) -> st.SearchStrategy[bytes]:
    return (
        st.binary(max_size=300)
        | json_values.map(lambda v: json.dumps(v).encode())
        | _mutations(doc)
        | st.integers(0, len(good)).map(lambda n: good[:n])  # being replaced
        | st.integers(0, len(good) - 1).map(lambda i: good[:i] + b"\xff" + good[i + 1 :])
    )


def _status_view(data: bytes) -> NodeView | None:
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "status.json").write_bytes(data)
        return read_status(home)


@settings(max_examples=200, deadline=None)
@given(_files(json.dumps(GOOD_STATUS).encode(), GOOD_STATUS))
def test_status_json_anything(data: bytes) -> None:
    v = _status_view(data)
    if v is None:
        return
    assert isinstance(v.height, int) and 0 <= v.height < 2**63
    assert isinstance(v.peers, list) and all(isinstance(p, str) for p in v.peers)
    assert isinstance(v.node_id, str) and isinstance(v.validator_key, str)
    assert isinstance(v.last_block, dict)
    # and the devnet's view prints it (here with no chain store to read)
    out = io.StringIO()
    view = View(ENTRIES[:1], Console(file=out, width=120))
    view.poll({"node0": v})
    view.close()
    assert "node0" in out.getvalue()


def test_a_good_status_is_read_as_written() -> None:
    v = _status_view(json.dumps(GOOD_STATUS).encode())
    assert v == NodeView(12, ["01" * 32], "ab" * 32, GOOD_STATUS["last_block"], "cd" * 32)
    full = {"node_id": "ab" * 32, "validator_key": "", "height": 0}  # a full node at start
    assert _status_view(json.dumps(full).encode()) == NodeView(0, [], "ab" * 32, {}, "")


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"height": "x"}', b'{"height": -1}', b'{"height": 1e999}', b'{"peers": 5}',
     b'{"last_block": [1]}', b'{"peers": [{"id": 1}]}', b'{"node_id": "\xff"}', b"[]",
     b'{"last_block": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
     b'{"height": ' + str(2**63).encode() + b"}"],
)  # fmt: skip
def test_a_status_that_is_not_one_is_none(data: bytes) -> None:
    assert _status_view(data) is None


def test_no_status_yet_is_none(tmp_path: Path) -> None:
    assert read_status(str(tmp_path)) is None
    (tmp_path / "status.json").mkdir()
    assert read_status(str(tmp_path)) is None


def _load(data: bytes) -> list[NodeEntry] | None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "nodes.json"
        path.write_bytes(data)
        try:
            return load_nodes(path)
        except LocalError as e:
            assert e.code == "bad_devnet" and str(path) in e.message
            return None


@settings(max_examples=200, deadline=None)
@given(_files(GOOD_NODES, json.loads(GOOD_NODES)))
def test_nodes_json_anything(data: bytes) -> None:
    nodes = _load(data)
    if nodes is None:
        return
    for n in nodes:
        assert isinstance(n, NodeEntry)
        assert all(isinstance(x, str) for x in (n.name, n.home, n.p2p, n.rpc))
        assert isinstance(n.pid, int) and not isinstance(n.pid, bool)
    assert len({n.name for n in nodes}) == len(nodes)
    with tempfile.TemporaryDirectory() as d:  # what is read is saved and read back the same
        save_nodes(Path(d) / "nodes.json", nodes)
        assert load_nodes(Path(d) / "nodes.json") == nodes


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b'[{"name": 1, "home": "h", "p2p": "a", "rpc": "b"}]', b'[{"name": "n"}]',
     b'[{"name": "n", "home": "h", "p2p": "a", "rpc": "b", "pid": "x"}]', b"[" * 100_000,
     b'[{"name": "\xff", "home": "h", "p2p": "a", "rpc": "b"}]',
     GOOD_NODES.replace(b"node1", b"node0")],
)  # fmt: skip
def test_a_manifest_that_is_not_one_is_bad_devnet(data: bytes) -> None:
    assert _load(data) is None


def test_a_good_manifest_round_trips(tmp_path: Path) -> None:
    save_nodes(tmp_path / "nodes.json", ENTRIES)
    assert load_nodes(tmp_path / "nodes.json") == ENTRIES
    for path in (tmp_path / "missing.json", tmp_path):
        with pytest.raises(LocalError) as e:
            load_nodes(path)
        assert e.value.code == "bad_devnet"


@pytest.mark.parametrize("data", [b"\xff{", b'[{"name": 5}]', b'{"pid": []}'])
def test_agora_devnet_says_bad_devnet_not_a_traceback(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "nodes.json").write_bytes(data)
    args = ["devnet", "--dir", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "bad_devnet" in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, LocalError)  # it became a ClickException
    assert (tmp_path / "nodes.json").read_bytes() == data  # and nothing was deleted


def test_reset_clears_a_damaged_devnet_unless_a_node_still_runs_in_it(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    init_home(root / "node0", HomeSpec(name="node0", validator=True))
    (root / "nodes.json").write_bytes(b"\xff{")
    lock = HomeLock.acquire(root / "node0")  # as a running node holds it
    args = ["devnet", "--dir", str(root), "--reset", "--nodes", "1", "--base-port", "0"]
    result = CliRunner().invoke(main, [*args, "--duration", "0"])
    assert result.exit_code == 1 and "still running: node0" in result.output, result.output
    assert (root / "nodes.json").read_bytes() == b"\xff{"
    lock.release()
    result = CliRunner().invoke(main, [*args, "--duration", "0"])
    assert result.exit_code == 0, result.output
    assert "created a devnet of 1 nodes" in result.output
    assert load_nodes(root / "nodes.json")[0].name == "node0"
