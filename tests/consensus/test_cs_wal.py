"""The write-ahead log: format, torn tails, corruption, compaction, and the refusal to re-sign."""

from __future__ import annotations

from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.votes import NIL, Validator, ValidatorSet, VoteType, sign_vote
from agora.codec import sha256
from agora.consensus_client import actions as act
from agora.consensus_client.core import Core
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import Proposal, Step, Timeout, VoteMsg, sign_proposal
from agora.consensus_client.wal import FileWal, MemoryWal, frame, parse
from agora.consensus_client.wal_entry import WalEntry
from agora.errors import LocalError

CHAIN = "agora-wal-test"
KEYS = [nacl.signing.SigningKey(sha256(b"wal-test-%d" % i)) for i in range(4)]
VALSET = ValidatorSet(Validator(bytes(k.verify_key), 1) for k in KEYS)
PARAMS = ConsensusParams()


def entry(height: int, round: int, block_id: bytes = NIL, type: int = 1) -> WalEntry:
    v = sign_vote(KEYS[0], CHAIN, height, round, type, block_id)
    return WalEntry(height, round, type, block_id, v, None, -1, NIL, -1, NIL)


def test_entries_survive_a_reopen(tmp_path: Path) -> None:
    wal = FileWal(tmp_path / "wal")
    es = [entry(5, 0, sha256(b"a")), entry(5, 0, NIL, 2), entry(5, 1)]
    for e in es:
        wal.append(e)
    wal.close()
    again = FileWal(tmp_path / "wal")
    assert again.entries == es
    rec = again.state.at(5)
    assert rec is not None and rec.max_round == 1
    assert rec.signed[(0, 1)].block_id == sha256(b"a")
    again.close()


def test_a_torn_last_record_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    wal = FileWal(path)
    wal.append(entry(1, 0))
    wal.append(entry(1, 1))
    wal.close()
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(frame(entry(1, 2))[:-7])  # the crash came mid-write
    wal = FileWal(path)
    assert [e.round for e in wal.entries] == [0, 1]
    assert path.stat().st_size == good
    wal.append(entry(1, 2))  # and the log goes on from there
    wal.close()
    assert [e.round for e in FileWal(path).entries] == [0, 1, 2]


@pytest.mark.parametrize("tail", ["bad_crc", "zeros", "header_only"])
def test_other_torn_tails_are_cut(tmp_path: Path, tail: str) -> None:
    path = tmp_path / "wal"
    ok = frame(entry(1, 0))
    last = bytearray(frame(entry(1, 1)))
    if tail == "bad_crc":
        last[-1] ^= 0xFF
    elif tail == "zeros":
        last = bytearray(4096)  # a file system may leave zeros after a power cut
    else:
        last = last[:5]
    path.write_bytes(ok + bytes(last))
    wal = FileWal(path)
    assert [e.round for e in wal.entries] == [0]
    assert path.read_bytes() == ok


def test_corruption_before_the_end_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    first = bytearray(frame(entry(1, 0)))
    first[-3] ^= 0x01
    path.write_bytes(bytes(first) + frame(entry(1, 1)))
    with pytest.raises(LocalError) as e:
        FileWal(path)
    assert e.value.code == "wal_corrupt"
    assert "not the last" in e.value.message


def test_only_the_last_two_heights_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    wal = FileWal(path)
    for h in (1, 2, 3):
        wal.append(entry(h, 0))
        wal.append(entry(h, 1))
    assert sorted(wal.state.heights) == [2, 3]
    wal.close()
    assert [e.height for e in FileWal(path).entries] == [2, 2, 3, 3]
    assert not (tmp_path / "wal.tmp").exists()


def test_a_conflicting_entry_is_refused_before_it_is_written(tmp_path: Path) -> None:
    wal = FileWal(tmp_path / "wal")
    wal.append(entry(1, 0, sha256(b"a")))
    size = (tmp_path / "wal").stat().st_size
    with pytest.raises(LocalError) as e:
        wal.append(entry(1, 0, sha256(b"b")))
    assert e.value.code == "wal_conflict"
    assert (tmp_path / "wal").stat().st_size == size


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_any_truncation_keeps_the_whole_records_before_it(cut: int) -> None:
    es = [entry(1, r) for r in range(5)]
    frames = [frame(e) for e in es]
    data = b"".join(frames)[: cut % (sum(map(len, frames)) + 1)]
    got, good = parse(data)
    whole = 0
    total = 0
    for f in frames:
        if total + len(f) <= len(data):
            whole += 1
            total += len(f)
    assert got == es[:whole] and good == total


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_is_cut_or_refused_never_a_crash(data: bytes) -> None:
    try:
        entries, good = parse(data)
    except LocalError as e:
        assert e.code == "wal_corrupt"
    else:
        assert good <= len(data) and isinstance(entries, list)


# -- the core with a WAL across a restart ---------------------------------------------------


def _run(core: Core, actions: list[act.Action], wal: MemoryWal | FileWal) -> list[act.Action]:
    for a in actions:
        if isinstance(a, act.PersistSigned):
            wal.append(a.entry)
    return actions


def _non_proposer() -> int:
    p = Core(CHAIN, VALSET, KEYS[0], 1, PARAMS, None, sha256, 0).proposers.proposer(1, 0)
    return next(i for i, k in enumerate(KEYS) if bytes(k.verify_key) != p)


def _proposal(round: int, block: bytes) -> Proposal:
    probe = Core(CHAIN, VALSET, KEYS[0], 1, PARAMS, None, sha256, 0)
    key = next(k for k in KEYS if bytes(k.verify_key) == probe.proposers.proposer(1, round))
    return sign_proposal(key, CHAIN, 1, round, -1, sha256(block), block)


def _mine(actions: list[act.Action], me: bytes) -> list[tuple[int, bytes, bytes]]:
    return [
        (a.msg.vote.type, a.msg.vote.block_id, a.msg.vote.signature)
        for a in actions
        if isinstance(a, act.Broadcast)
        and isinstance(a.msg, VoteMsg)
        and a.msg.vote.validator == me
    ]


def test_restarted_validator_sends_its_earlier_vote_not_a_new_one(tmp_path: Path) -> None:
    i = _non_proposer()
    wal = FileWal(tmp_path / "wal")
    core = Core(CHAIN, VALSET, KEYS[i], 1, PARAMS, wal.state, sha256, 0)
    _run(core, core.start(0), wal)
    p = _proposal(0, b"X")
    _run(core, core.on_proposal(p, 5), wal)
    before = _mine(
        _run(core, core.on_block_checked(1, 0, p.block_id, True, 6), wal), core.me or b""
    )
    assert [(t, b) for t, b, _ in before] == [(VoteType.PREVOTE, sha256(b"X"))]
    wal.close()  # the process dies here

    wal = FileWal(tmp_path / "wal")
    core = Core(CHAIN, VALSET, KEYS[i], 1, PARAMS, wal.state, sha256, 0)
    _run(core, core.start(0), wal)
    # Without the proposal, the propose timeout would make it prevote nil ...
    out = _run(core, core.on_timeout(Timeout(1, 0, Step.PROPOSE), 3000), wal)
    # ... but it already prevoted X in this round: the same signature goes out again.
    assert _mine(out, core.me or b"") == before
    assert not [a for a in out if isinstance(a, act.PersistSigned)]


def test_restarted_validator_keeps_its_lock_and_its_locked_block(tmp_path: Path) -> None:
    i = _non_proposer()
    wal = MemoryWal()
    core = Core(CHAIN, VALSET, KEYS[i], 1, PARAMS, wal.state, sha256, 0)
    _run(core, core.start(0), wal)
    p = _proposal(0, b"X")
    _run(core, core.on_proposal(p, 5), wal)
    _run(core, core.on_block_checked(1, 0, p.block_id, True, 6), wal)
    others = [k for j, k in enumerate(KEYS) if j != i]
    for k in others[:2]:
        _run(core, core.on_vote(sign_vote(k, CHAIN, 1, 0, VoteType.PREVOTE, p.block_id), 7), wal)
    assert (core.hs.locked_round, core.hs.locked_id) == (0, p.block_id)

    core = Core(CHAIN, VALSET, KEYS[i], 1, PARAMS, wal.state, sha256, 0)  # restart
    _run(core, core.start(0), wal)
    assert (core.hs.locked_round, core.hs.locked_id) == (0, p.block_id)
    assert core.hs.blocks[p.block_id] == b"X"
    assert core.hs.votes.majority(0, VoteType.PREVOTE) == p.block_id  # the POL came back too
    out: list[act.Action] = []
    for _ in range(8):  # rounds until this validator proposes
        if core.proposers.proposer(1, core.round) == core.me:
            break
        out = _run(core, core.on_timeout(Timeout(1, core.round, Step.PRECOMMIT), 10_000), wal)
    assert core.proposers.proposer(1, core.round) == core.me
    sent = [a.msg for a in out if isinstance(a, act.Broadcast)]
    props = [m for m in sent if isinstance(m, Proposal)]
    # It re-proposes its locked block, with the POL round and the prevotes that prove it.
    assert [(m.block, m.pol_round) for m in props] == [(b"X", 0)]
    pol = [m.vote for m in sent if isinstance(m, VoteMsg) and m.vote.round == 0]
    assert sum(VALSET.power[v.validator] for v in pol) >= VALSET.quorum
    assert not [a for a in out if isinstance(a, act.BuildBlock)]
