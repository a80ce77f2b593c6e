"""Fuzzing the WAL file on disk (test_cs_wal.py fuzzes `parse` with truncation and
garbage): a flipped byte in any record, truncation then reopen, and arbitrary bytes
opened by FileWal. The rule (wal.py): a torn last record is cut off and the log goes
on; corruption before the end is LocalError `wal_corrupt`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.votes import NIL, sign_vote
from agora.codec import sha256
from agora.consensus_client.wal import FileWal, frame, parse
from agora.consensus_client.wal_entry import WalEntry
from agora.errors import LocalError

CHAIN = "agora-wal-fuzz"
KEY = nacl.signing.SigningKey(sha256(b"wal-fuzz"))
CODES = {"wal_corrupt", "wal_conflict"}


def entry(height: int, round: int, type: int = 1, block_id: bytes = NIL) -> WalEntry:
    v = sign_vote(KEY, CHAIN, height, round, type, block_id)
    return WalEntry(height, round, type, block_id, v, None, -1, NIL, -1, NIL)


ES = [entry(7, r, t, sha256(b"%d" % r) if t == 1 else NIL) for r in range(3) for t in (1, 2)]
FRAMES = [frame(e) for e in ES]
DATA = b"".join(FRAMES)
STARTS = [sum(map(len, FRAMES[:i])) for i in range(len(FRAMES))]


def _record_of(pos: int) -> int:
    return max(i for i, s in enumerate(STARTS) if s <= pos)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(DATA) - 1), st.integers(1, 255))
def test_a_flipped_byte_is_cut_if_last_else_wal_corrupt(pos: int, xor: int) -> None:
    data = bytearray(DATA)
    data[pos] ^= xor
    i = _record_of(pos)
    last = i == len(FRAMES) - 1
    try:
        got, good = parse(bytes(data))
    except LocalError as e:
        assert e.code == "wal_corrupt"
        assert last or "not the last" in e.message
        return
    # the checksum catches every single-byte change: only a cut is possible
    assert last and got == ES[:-1] and good == STARTS[-1]


@pytest.mark.parametrize("record", range(len(FRAMES) - 1))
def test_a_damaged_length_before_the_end_is_wal_corrupt(record: int) -> None:
    data = bytearray(DATA)
    data[STARTS[record]] ^= 0x01  # the length's top byte: now 16 MiB more
    with pytest.raises(LocalError) as e:
        parse(bytes(data))
    assert e.value.code == "wal_corrupt"


def _open(path: Path) -> FileWal | None:
    try:
        return FileWal(path)
    except LocalError as e:
        assert e.code in CODES, e
        return None


def _goes_on(path: Path, wal: FileWal) -> None:
    """A log that opened takes a new record, and a reopen reads it back after the rest."""
    before = list(wal.entries)
    new = entry(10**6, 0)
    wal.append(new)
    wal.close()
    again = FileWal(path)
    assert again.entries == [e for e in before if e.height >= new.height - 1] + [new]
    again.close()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(DATA)))
def test_any_truncation_reopens_with_the_whole_records_and_goes_on(cut: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "wal"
        path.write_bytes(DATA[:cut])
        wal = FileWal(path)
        whole = sum(1 for s, f in zip(STARTS, FRAMES, strict=True) if s + len(f) <= cut)
        assert wal.entries == ES[:whole]
        assert path.stat().st_size == sum(map(len, FRAMES[:whole]))
        _goes_on(path, wal)


chunks = st.lists(
    st.sampled_from(FRAMES)
    | st.binary(max_size=40)
    | st.sampled_from(FRAMES).flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n]))
    | st.sampled_from([bytes(64), frame(entry(7, 0, 1, sha256(b"other")))]),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(chunks)
def test_filewal_opens_anything_or_says_wal_corrupt(parts: list[bytes]) -> None:
    data = b"".join(parts)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "wal"
        path.write_bytes(data)
        try:
            expect, good = parse(data)
        except LocalError as e:
            assert e.code == "wal_corrupt"
            with pytest.raises(LocalError):
                FileWal(path)
            assert path.read_bytes() == data  # refused, and nothing was cut
            return
        wal = _open(path)
        if wal is None:  # good frames that contradict each other
            assert path.read_bytes() == data[:good] or path.read_bytes() == data
            return
        assert path.read_bytes() == data[:good]
        top = max((e.height for e in expect), default=0)
        assert wal.entries == [e for e in expect if e.height >= top - 1]
        _goes_on(path, wal)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_open_or_are_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "wal"
        path.write_bytes(data)
        wal = _open(path)
        if wal is None:
            assert path.read_bytes() == data
        else:
            assert wal.entries == [] and path.read_bytes() == data[: parse(data)[1]]
            _goes_on(path, wal)


def test_two_signatures_for_one_slot_are_wal_conflict(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    data = frame(entry(7, 0, 1, sha256(b"a"))) + frame(entry(7, 0, 1, sha256(b"b")))
    path.write_bytes(data + b"\x00\x00\x01")  # and a torn tail
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(LocalError) as e:
        FileWal(path)
    assert e.value.code == "wal_conflict"
    assert path.read_bytes() == data + b"\x00\x00\x01"  # refused before anything is cut
    assert len(os.listdir("/proc/self/fd")) == fds  # and no descriptor left open
