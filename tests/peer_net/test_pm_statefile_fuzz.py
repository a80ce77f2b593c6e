"""Fuzzing peer_net's state files (bans, address book): whatever the bytes, `read_json`
gives a valid object or None with the file moved aside, the loaders start from what is
valid (or from empty), and a later save is read back."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fuzz_values import json_values
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import LocalError
from agora.peer_net import statefile
from agora.peer_net.addr import normalize_addr
from agora.peer_net.addrbook import AddrBook, AddrBookFile, AddrEntry, Source
from agora.peer_net.bans import Ban, BanFile, BanList, Offence
from agora.peer_net.statefile import read_json, write_json_atomic

NOW = 1_700_000_000.0
PEER = bytes(range(32))


GOOD_BANS = msgspec.json.encode(
    BanFile(
        version=1,
        bans=[Ban("spam", NOW - 10, NOW + 100, PEER, "203.0.113.7"), Ban("old", 1.0, 2.0, PEER)],
        offences=[Offence("id:" + PEER.hex(), 2, NOW - 5)],
    )
)
GOOD_BOOK = msgspec.json.encode(
    AddrBookFile(
        version=1,
        entries=[
            AddrEntry("198.51.100.2:26656", Source.PEX, PEER, NOW, NOW - 1, NOW - 2, 1),
            AddrEntry("seed.example.org:26656", Source.BOOTSTRAP),
        ],
    )
)


@pytest.fixture
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def _mutations(good: bytes) -> st.SearchStrategy[bytes]:
    """The good file with one value anywhere in it replaced by any JSON value."""
    doc = json.loads(good)
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, at: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            paths.append((*at, k))
            if isinstance(v, dict | list):
                walk(v, (*at, k))

    walk(doc, ())

    def put(path: tuple[Any, ...], value: Any) -> bytes:
        copy = json.loads(good)
        node = copy
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return json.dumps(copy).encode()

    value = json_values | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    return st.builds(put, st.sampled_from(paths), value)


def _files(good: bytes) -> st.SearchStrategy[bytes]:
    return (
        st.binary(max_size=300)
        | json_values.map(lambda v: json.dumps(v).encode())
        | _mutations(good)
        | st.integers(0, len(good)).map(lambda n: good[:n])  # a torn write
        | st.tuples(st.integers(0, len(good) - 1), st.sampled_from([b"\xff", b"\xed\xa0\x80"])).map(
            lambda t: good[: t[0]] + t[1] + good[t[0] :]
        )
    )


def _check_read(path: Path, data: bytes, type_: type[Any]) -> Any:
    path.write_bytes(data)
    aside = path.with_name(path.name + ".corrupt")
    aside.unlink(missing_ok=True)
    got = read_json(path, type_)
    if got is None:
        assert not path.exists() and aside.read_bytes() == data
    else:
        assert isinstance(got, type_) and path.read_bytes() == data and not aside.exists()
        assert msgspec.json.decode(msgspec.json.encode(got), type=type_) == got
    return got


@settings(max_examples=100, deadline=None)
@given(_files(GOOD_BANS))
def test_ban_file_anything(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        _ban_file_anything(Path(d) / "bans.json", data)


def _ban_file_anything(path: Path, data: bytes) -> None:
    _check_read(path, data, BanFile)
    path.write_bytes(data)
    bans = BanList(path, NOW)
    assert all(b.until > NOW for b in bans.bans(NOW))
    # it goes on: a new ban is saved and read back
    ban = bans.ban(b"\x07" * 32, "198.51.100.9", "fuzz", 60.0, NOW)
    assert ban is not None
    again = BanList(path, NOW + 1)
    assert again.lookup(b"\x07" * 32, None, NOW + 1) == ban
    assert again.lookup(None, "198.51.100.9", NOW + 1) == ban
    assert again.offences(b"\x07" * 32, None, NOW + 1) >= 1


@settings(max_examples=100, deadline=None)
@given(_files(GOOD_BOOK))
def test_addr_book_file_anything(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        _addr_book_file_anything(Path(d) / "addrbook.json", data)


def _addr_book_file_anything(path: Path, data: bytes) -> None:
    _check_read(path, data, AddrBookFile)
    path.write_bytes(data)
    book = AddrBook(path, own_addrs=["127.0.0.1:26656"])
    for addr in list(book._entries):
        e = book.get(addr)
        assert e is not None and normalize_addr(e.addr) == e.addr == addr
        assert e.failures >= 0 and all(
            map(math.isfinite, (e.last_seen, e.last_attempt, e.last_success))
        )
    book.add("192.0.2.44:7000", Source.PEX, NOW)
    book.save()
    again = AddrBook(path)
    got = again.get("192.0.2.44:7000")
    assert got is not None and got.last_seen == NOW
    assert len(again) == len(book)


def test_the_good_files_are_read_as_written(home: Path) -> None:
    bans = BanList(_write(home / "bans.json", GOOD_BANS), NOW)
    assert [b.reason for b in bans.bans(NOW)] == ["spam"]
    assert bans.offences(PEER, None, NOW) == 2
    book = AddrBook(_write(home / "book.json", GOOD_BOOK))
    assert sorted(book._entries) == ["198.51.100.2:26656", "seed.example.org:26656"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        b'{"version":1,"bans":[{"reason":"\xff","since":0,"until":1}],"offences":[]}',
        b'"\xed\xa0\x80"',
    ],
)
def test_a_str_that_is_not_utf8_moves_the_file_aside(home: Path, data: bytes) -> None:
    path = _write(home / "bans.json", data)
    assert read_json(path, BanFile) is None
    assert (home / "bans.json.corrupt").read_bytes() == data


def test_an_oversized_file_is_moved_aside(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statefile, "MAX_STATE_FILE", len(GOOD_BANS) - 1)
    path = _write(home / "bans.json", GOOD_BANS)
    assert read_json(path, BanFile) is None
    assert (home / "bans.json.corrupt").read_bytes() == GOOD_BANS


def test_a_directory_in_its_place_is_unreadable_and_unwritable(home: Path) -> None:
    path = home / "bans.json"
    path.mkdir()
    with pytest.raises(LocalError) as e:
        read_json(path, BanFile)
    assert e.value.code == "state_unreadable"
    with pytest.raises(LocalError) as e:
        write_json_atomic(path, {"x": 1})
    assert e.value.code == "state_unwritable"


def test_a_missing_file_is_none_and_nothing_is_made(home: Path) -> None:
    assert read_json(home / "none.json", BanFile) is None
    assert list(home.iterdir()) == []
