"""The evidence pool: verified double-vote evidence waiting to be put into a block.

Consensus verifies evidence before it comes here (its own finding, or gossip
checked with `DuplicateVoteEvidence.verify`). A block may carry evidence only
from an earlier height and only once (`validate.check_evidence`), so the pool
offers what is below the height being built and forgets what a committed block
carried.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from agora.blockchain.validate import MAX_EVIDENCE
from agora.blockchain.votes import DuplicateVoteEvidence

if TYPE_CHECKING:
    from agora.blockchain.block import Block
    from agora.blockchain.chain import Chain

MAX_PENDING = 1000


class EvidencePool:
    def __init__(self, chain: Chain, max_pending: int = MAX_PENDING) -> None:
        self.chain = chain
        self.max_pending = max_pending
        self.pending: OrderedDict[bytes, DuplicateVoteEvidence] = OrderedDict()
        self.included = 0  # pieces of evidence in blocks committed by this node

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, ev: DuplicateVoteEvidence) -> bool:
        """Keep `ev` for a later block; False if known or already in a block."""
        h = ev.hash()
        if h in self.pending or self.chain.store.has_evidence(h):
            return False
        self.pending[h] = ev
        while len(self.pending) > self.max_pending:
            self.pending.popitem(last=False)
        return True

    def for_block(self, height: int) -> list[DuplicateVoteEvidence]:
        out = [ev for ev in self.pending.values() if ev.vote_a.height < height]
        return out[:MAX_EVIDENCE]

    def committed(self, block: Block) -> None:
        for ev in block.evidence:
            self.pending.pop(ev.hash(), None)
            self.included += 1
