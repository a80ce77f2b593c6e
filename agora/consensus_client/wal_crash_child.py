"""A validator core on a real WAL, fed random traffic until it is killed.

Used by the SIGKILL test: `python -m agora.consensus_client.wal_crash_child
DIR SEED [--no-wal]`. It is validator 0 of four fixed keys; the other three
and the application are played by a random driver (seeded by SEED, which
differs per run). Every vote or proposal it sends is printed, after the WAL
fsync, as `SIGNED height round kind block_id signature`. The application's
height is a file written atomically, like a database commit.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import nacl.signing

from agora.blockchain.votes import NIL, Validator, ValidatorSet, VoteType, sign_vote
from agora.codec import sha256
from agora.consensus_client import actions as act
from agora.consensus_client.core import Core
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import Proposal, Timeout, VoteMsg, sign_proposal
from agora.consensus_client.wal import FileWal, MemoryWal, Wal

CHAIN = "agora-wal-crash"
KEYS = [nacl.signing.SigningKey(sha256(b"wal-crash-%d" % i)) for i in range(4)]
VALSET = ValidatorSet(Validator(bytes(k.verify_key), 1) for k in KEYS)
PARAMS = ConsensusParams(block_interval_ms=0, gossip_ms=10_000)
MAX_SECONDS = 30.0


def _blocks(height: int) -> list[bytes]:
    return [b"block %d %d" % (height, i) for i in range(3)]


class Driver:
    def __init__(self, home: Path, seed: int, use_wal: bool) -> None:
        self.rng = random.Random(seed)
        self.signed: list[tuple[int, int, int, str, str]] = []  # what show() printed
        self.height_file = home / "height"
        self.wal: Wal = FileWal(home / "wal") if use_wal else MemoryWal()
        height = int(self.height_file.read_text()) if self.height_file.exists() else 0
        self.core = Core(CHAIN, VALSET, KEYS[0], height + 1, PARAMS, self.wal.state, sha256, 0)
        self.timeouts: list[Timeout] = []
        self.pending: list[act.Action] = []
        self.now = 0

    def run(self, max_steps: int | None = None, quiet: bool = False) -> None:
        self.quiet = quiet
        if not quiet:
            print("READY", flush=True)
        self.apply(self.core.start(0))
        began = time.monotonic()
        steps = 0
        while time.monotonic() - began < MAX_SECONDS and steps != max_steps:
            self.now += 10
            steps += 1
            self.step()

    def step(self) -> None:
        core, rng = self.core, self.rng
        h, r = core.height, core.round
        choice = rng.random()
        if choice < 0.25:
            proposer = core.proposers.proposer(h, r)
            key = next(k for k in KEYS if bytes(k.verify_key) == proposer)
            if key is not KEYS[0]:
                block = rng.choice(_blocks(h))
                pol = rng.choice([-1, *range(r)])
                p = sign_proposal(key, CHAIN, h, r, pol, sha256(block), block)
                self.apply(core.on_proposal(p, self.now))
        elif choice < 0.65:
            key = rng.choice(KEYS[1:])
            vtype = rng.choice([VoteType.PREVOTE, VoteType.PRECOMMIT])
            block_id = rng.choice([NIL, *(sha256(b) for b in _blocks(h))])
            vround = max(0, r + rng.choice([-1, 0, 0, 1]))
            self.apply(core.on_vote(sign_vote(key, CHAIN, h, vround, vtype, block_id), self.now))
        elif choice < 0.85 and self.timeouts:
            t = self.timeouts.pop(rng.randrange(len(self.timeouts)))
            self.apply(core.on_timeout(t, self.now))
        elif self.pending:
            self.answer(self.pending.pop(rng.randrange(len(self.pending))))

    def answer(self, a: act.Action) -> None:
        core = self.core
        if isinstance(a, act.BuildBlock):
            block = self.rng.choice(_blocks(a.height))
            self.apply(core.on_block_built(a.height, a.round, block, self.now))
        elif isinstance(a, act.CheckBlock):
            ok = self.rng.random() < 0.9
            self.apply(core.on_block_checked(a.height, a.round, a.block_id, ok, self.now))
        elif isinstance(a, act.CommitBlock):
            tmp = self.height_file.with_suffix(".tmp")
            tmp.write_text(str(a.height))
            with open(tmp) as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.height_file)
            self.apply(core.on_committed(a.height, VALSET, self.now))

    def apply(self, actions: list[act.Action]) -> None:
        for a in actions:
            if isinstance(a, act.PersistSigned):
                self.wal.append(a.entry)
            elif isinstance(a, act.Broadcast):
                self.show(a.msg)
            elif isinstance(a, act.ScheduleTimeout):
                self.timeouts.append(a.timeout)
            elif isinstance(a, act.BuildBlock | act.CheckBlock | act.CommitBlock):
                self.pending.append(a)

    def show(self, msg: object) -> None:
        me = bytes(KEYS[0].verify_key)
        if isinstance(msg, VoteMsg) and msg.vote.validator == me:
            v = msg.vote
            fields = (v.height, v.round, v.type, v.block_id.hex() or "nil", v.signature.hex())
        elif isinstance(msg, Proposal) and msg.proposer == me:
            m = msg
            fields = (m.height, m.round, 0, m.block_id.hex(), m.signature.hex())
        else:
            return
        self.signed.append(fields)
        if not self.quiet:
            print("SIGNED", *fields, flush=True)


def main(argv: list[str]) -> None:
    home = Path(argv[0])
    home.mkdir(parents=True, exist_ok=True)
    Driver(home, int(argv[1]), "--no-wal" not in argv).run()


if __name__ == "__main__":
    main(sys.argv[1:])
