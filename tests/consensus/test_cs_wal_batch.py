"""The WAL's batched fsyncs and its lazy compaction, and the shell's order: fsync, then send."""

from __future__ import annotations

import os
from pathlib import Path

import nacl.signing
import pytest

from agora.blockchain.votes import NIL, DuplicateVoteEvidence, Validator, ValidatorSet, sign_vote
from agora.codec import sha256
from agora.consensus_client import actions as act
from agora.consensus_client import wal as wal_mod
from agora.consensus_client.core import Core
from agora.consensus_client.shell import CoreShell
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import EvidenceMsg, Proposal, VoteMsg
from agora.consensus_client.wal import FileWal, parse
from agora.consensus_client.wal_entry import WalEntry

CHAIN = "agora-wal-batch-test"
KEYS = [nacl.signing.SigningKey(sha256(b"wal-batch-%d" % i)) for i in range(4)]
VALSET = ValidatorSet(Validator(bytes(k.verify_key), 1) for k in KEYS)


def entry(height: int, round: int, type: int = 1) -> WalEntry:
    v = sign_vote(KEYS[0], CHAIN, height, round, type, NIL)
    return WalEntry(height, round, type, NIL, v, None, -1, NIL, -1, NIL)


class Fsyncs:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = os.fsync

        def fsync(fd: int) -> None:
            self.n += 1
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def test_unsynced_appends_are_written_and_synced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wal"
    wal = FileWal(path)
    fs = Fsyncs(monkeypatch)
    es = [entry(1, 0), entry(1, 0, 2), entry(1, 1)]
    for e in es:
        wal.append(e, sync=False)
    assert fs.n == 0
    assert parse(path.read_bytes())[0] == es  # written at once, durable at the sync
    wal.sync()
    assert fs.n == 1
    wal.sync()  # nothing new: no fsync
    assert fs.n == 1
    wal.append(entry(1, 2))
    assert fs.n == 2
    wal.close()
    assert FileWal(path).entries == [*es, entry(1, 2)]


def test_old_heights_stay_in_the_file_until_they_are_big(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wal"
    wal = FileWal(path)
    fs = Fsyncs(monkeypatch)
    for h in (1, 2, 3, 4):
        wal.append(entry(h, 0))
        wal.append(entry(h, 1))
    assert fs.n == 8  # one per append: no rewrite, no directory fsync
    assert [e.height for e in wal.entries] == [3, 3, 4, 4]
    assert sorted(wal.state.heights) == [3, 4]
    assert [e.height for e in parse(path.read_bytes())[0]] == [1, 1, 2, 2, 3, 3, 4, 4]
    wal.close()
    again = FileWal(path)  # reopened: the old heights are dropped as it reads
    assert [e.height for e in again.entries] == [3, 3, 4, 4]
    assert sorted(again.state.heights) == [3, 4]
    again.close()


def test_old_heights_are_rewritten_away_past_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wal"
    one = len(wal_mod.frame(entry(1, 0)))
    monkeypatch.setattr(wal_mod, "REWRITE_BYTES", 3 * one)
    wal = FileWal(path)
    for h in (1, 2, 3):
        wal.append(entry(h, 0))
        wal.append(entry(h, 1))
    # at height 3, height 1's two records (2 * one bytes) were below the threshold
    assert [e.height for e in parse(path.read_bytes())[0]] == [1, 1, 2, 2, 3, 3]
    wal.append(entry(4, 0))  # height 2 dropped too: 4 records' worth, rewritten
    assert [e.height for e in parse(path.read_bytes())[0]] == [3, 3, 4]
    assert not (tmp_path / "wal.tmp").exists()
    wal.append(entry(4, 1))  # appends go on in the new file
    wal.close()
    assert [(e.height, e.round) for e in FileWal(path).entries] == [(3, 0), (3, 1), (4, 0), (4, 1)]


class Recorder:
    """A shell's outputs, and its WAL's writes and syncs, in one timeline."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def broadcast(self, code: int, msg: Proposal | VoteMsg | EvidenceMsg) -> None:
        assert isinstance(msg, VoteMsg)
        self.events.append(f"send {msg.vote.height}/{msg.vote.round}")

    def build(self, a: act.BuildBlock) -> None: ...
    def check(self, a: act.CheckBlock) -> None: ...
    def commit(self, a: act.CommitBlock) -> None: ...
    def evidence(self, ev: DuplicateVoteEvidence) -> None: ...
    def misbehaviour(self, validator: bytes, code: str) -> None: ...
    def catch_up(self, height: int) -> None: ...


class RecordingWal(FileWal):
    def __init__(self, path: Path, events: list[str]) -> None:
        self.events = events
        super().__init__(path)

    def _write(self, entry: WalEntry) -> None:
        super()._write(entry)
        self.events.append(f"write {entry.height}/{entry.round}")

    def sync(self) -> None:
        if self._dirty:
            self.events.append("sync")
        super().sync()


def test_the_shell_syncs_once_before_what_it_sends(tmp_path: Path) -> None:
    events: list[str] = []
    wal = RecordingWal(tmp_path / "wal", events)
    core = Core(CHAIN, VALSET, KEYS[0], 1, ConsensusParams(), wal.state, sha256, 0)
    shell = CoreShell(core, wal, Recorder(events), lambda: 0, lambda s, t: None)
    e1, e2, e3 = entry(1, 0), entry(1, 0, 2), entry(1, 1)
    assert e1.vote is not None and e2.vote is not None and e3.vote is not None
    shell._run(
        [
            act.PersistSigned(e1),
            act.PersistSigned(e2),
            act.Broadcast(VoteMsg(e1.vote)),
            act.Broadcast(VoteMsg(e2.vote)),
            act.PersistSigned(e3),
        ]
    )
    assert events == ["write 1/0", "write 1/0", "sync", "send 1/0", "send 1/0", "write 1/1", "sync"]
    assert not wal._dirty  # nothing left unsynced when the run ends
    shell.close()
    wal.close()


def test_a_timeout_only_run_syncs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = FileWal(tmp_path / "wal")
    fs = Fsyncs(monkeypatch)
    core = Core(CHAIN, VALSET, KEYS[0], 1, ConsensusParams(), wal.state, sha256, 0)
    shell = CoreShell(core, wal, Recorder([]), lambda: 0, lambda s, t: None)
    shell._run([act.Broadcast(VoteMsg(sign_vote(KEYS[1], CHAIN, 1, 0, 1, NIL)))])
    assert fs.n == 0
    shell.close()
    wal.close()
