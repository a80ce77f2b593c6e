"""Everything the core knows about the height it is working on.

Proposals by round (at most two distinct ones per round are kept: the second
is proof of a proposer's equivocation and may be the block others lock on),
the blocks they carried and whether the application found them valid, the
votes, the lock and valid values (paper: lockedValue/lockedRound and
validValue/validRound, kept as block ids), and what this node signed.
"""

from __future__ import annotations

from agora.blockchain.votes import NIL, ValidatorSet, Vote, VoteType
from agora.consensus_client.types import Proposal, SignedKind
from agora.consensus_client.votes_set import HeightVoteSet
from agora.consensus_client.wal_entry import HeightRecord, WalEntry

MAX_PROPOSALS_PER_ROUND = 2


class HeightState:
    def __init__(self, height: int, valset: ValidatorSet) -> None:
        self.height = height
        self.valset = valset
        self.votes = HeightVoteSet(height, valset)
        self.proposals: dict[int, dict[bytes, Proposal]] = {}
        self.first: dict[int, Proposal] = {}  # the proposal a round's prevote is about
        self.blocks: dict[bytes, bytes] = {}
        self.valid: dict[bytes, bool | None] = {}  # None: CheckBlock pending
        self.signed: dict[tuple[int, int], Vote | Proposal] = {}
        self.locked_round = -1
        self.locked_id = NIL
        self.valid_round = -1
        self.valid_id = NIL
        self.resume_round = 0

    def restore(self, rec: HeightRecord) -> None:
        """Take back what the WAL says this node signed and was locked on."""
        self.signed = dict(rec.signed)
        self.resume_round = rec.max_round
        self.votes.current_round = rec.max_round
        self.locked_round, self.locked_id = rec.locked_round, rec.locked_id
        # The valid value is not logged unless it is the lock; fall back to the lock.
        self.valid_round, self.valid_id = rec.locked_round, rec.locked_id
        if rec.locked_round >= 0 and rec.locked_block:
            self.blocks[rec.locked_id] = rec.locked_block
            self.valid[rec.locked_id] = True
        for v in rec.pol:
            self.votes.add(v)
        for msg in rec.signed.values():
            if isinstance(msg, Vote):
                self.votes.add(msg)
            else:
                self.valid[msg.block_id] = True
                self.add_proposal(msg)

    def add_proposal(self, p: Proposal) -> tuple[bool, bool]:
        """Keep a proposal; returns (kept, conflicting with one already kept)."""
        by_id = self.proposals.setdefault(p.round, {})
        if p.block_id in by_id or len(by_id) >= MAX_PROPOSALS_PER_ROUND:
            return False, False
        conflict = bool(by_id)
        by_id[p.block_id] = p
        self.first.setdefault(p.round, p)
        self.blocks.setdefault(p.block_id, p.block)
        return True, conflict

    def proposed_in(self, round: int, block_id: bytes) -> bool:
        return block_id in self.proposals.get(round, {})

    def rounds_proposing(self, block_id: bytes) -> list[int]:
        return sorted(r for r, by_id in self.proposals.items() if block_id in by_id)

    def proposer_of(self, block_id: bytes) -> bytes | None:
        for by_id in self.proposals.values():
            p = by_id.get(block_id)
            if p is not None:
                return p.proposer
        return None

    def wal_entry(self, round: int, kind: SignedKind, msg: Vote | Proposal) -> WalEntry:
        """The WAL record for `msg`, with the lock state as it is now."""
        vote = msg if isinstance(msg, Vote) else None
        proposal = msg if isinstance(msg, Proposal) else None
        locked_block = b""
        pol: list[Vote] = []
        if kind == SignedKind.PRECOMMIT and self.locked_round == round and msg.block_id != NIL:
            # This precommit is the one that locks: make the lock survive a restart.
            locked_block = self.blocks.get(self.locked_id, b"")
            pol = self.votes.votes_for(round, VoteType.PREVOTE, self.locked_id)
        return WalEntry(
            self.height,
            round,
            int(kind),
            msg.block_id,
            vote,
            proposal,
            self.locked_round,
            self.locked_id,
            self.valid_round,
            self.valid_id,
            locked_block,
            pol,
        )
