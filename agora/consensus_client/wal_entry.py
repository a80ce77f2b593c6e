"""What the write-ahead log records, and what replaying it yields.

One entry per signed vote or proposal, written (and fsynced) before it is
sent. Each entry also carries the lock state at that moment; the entry that
changes the lock carries the locked block and the +2/3 prevotes that justify
it, so that a restarted validator can still re-propose its locked block.
"""

from __future__ import annotations

from collections.abc import Iterable

from agora.blockchain.votes import NIL, Vote
from agora.codec import Canonical
from agora.consensus_client.types import Proposal, SignedKind
from agora.errors import LocalError


class WalEntry(Canonical, frozen=True):
    height: int
    round: int
    kind: int  # SignedKind
    block_id: bytes
    vote: Vote | None
    proposal: Proposal | None
    locked_round: int
    locked_id: bytes
    valid_round: int
    valid_id: bytes
    locked_block: bytes = b""  # set only by the entry that changes the lock
    pol: list[Vote] = []  # msgspec copies mutable defaults


class HeightRecord:
    """What this validator signed at one height, and its last lock state there."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.signed: dict[tuple[int, int], Vote | Proposal] = {}
        self.max_round = 0
        self.locked_round = -1
        self.locked_id = NIL
        self.locked_block = b""
        self.pol: list[Vote] = []
        self.valid_round = -1
        self.valid_id = NIL

    def apply(self, e: WalEntry) -> None:
        slot = (e.round, e.kind)
        msg: Vote | Proposal | None = e.vote if e.kind != SignedKind.PROPOSAL else e.proposal
        where = (msg.height, msg.round) if msg is not None else None
        if msg is None or msg.block_id != e.block_id or where != (e.height, e.round):
            raise LocalError(f"WAL entry at height {e.height} is inconsistent", code="wal_corrupt")
        old = self.signed.get(slot)
        if old is not None and old.block_id != e.block_id:
            raise LocalError(
                f"WAL holds two different signatures for height {e.height} round {e.round} "
                f"kind {e.kind}: this validator has equivocated",
                code="wal_conflict",
            )
        self.signed[slot] = msg
        self.max_round = max(self.max_round, e.round)
        if e.locked_id != self.locked_id or e.locked_round != self.locked_round:
            self.locked_block = e.locked_block
            self.pol = list(e.pol)
        self.locked_round, self.locked_id = e.locked_round, e.locked_id
        self.valid_round, self.valid_id = e.valid_round, e.valid_id


class WalState:
    """The WAL replayed: a record per height it still holds."""

    def __init__(self, entries: Iterable[WalEntry] = ()) -> None:
        self.heights: dict[int, HeightRecord] = {}
        for e in entries:
            self.apply(e)

    def apply(self, e: WalEntry) -> None:
        rec = self.heights.get(e.height)
        if rec is None:
            rec = self.heights[e.height] = HeightRecord(e.height)
        rec.apply(e)

    def at(self, height: int) -> HeightRecord | None:
        return self.heights.get(height)

    @property
    def last_height(self) -> int:
        return max(self.heights, default=0)
