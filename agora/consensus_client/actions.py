"""What the core asks its shell to do. The shell runs actions in the order given.

`PersistSigned` must be durable (written and fsynced) before any later action
runs: the `Broadcast` of the vote or proposal it records always follows it.
"""

from __future__ import annotations

import msgspec

from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.consensus_client.types import ConsensusMsg, Timeout
from agora.consensus_client.wal_entry import WalEntry


class Broadcast(msgspec.Struct, frozen=True):
    """Send to every peer (gossip). Re-sends of the same message are deliberate."""

    msg: ConsensusMsg


class ScheduleTimeout(msgspec.Struct, frozen=True):
    """Call `Core.on_timeout(timeout)` after `delay_ms` (stale ones are ignored by the core)."""

    timeout: Timeout
    delay_ms: int


class PersistSigned(msgspec.Struct, frozen=True):
    entry: WalEntry


class BuildBlock(msgspec.Struct, frozen=True):
    """Answer with `Core.on_block_built`. `last_commit` is None at height 1, or after a
    restart if the core was not given it: then use the stored commit of height - 1."""

    height: int
    round: int
    last_commit: Commit | None


class CheckBlock(msgspec.Struct, frozen=True):
    """Validate a proposed block against the state after height - 1; answer with
    `Core.on_block_checked`."""

    height: int
    round: int
    block: bytes
    block_id: bytes


class CommitBlock(msgspec.Struct, frozen=True):
    """Execute and store the decided block with its commit; answer with `Core.on_committed`."""

    height: int
    block: bytes
    commit: Commit


class EvidenceFound(msgspec.Struct, frozen=True):
    """A validator signed two votes for one slot: gossip it and put it in a block."""

    evidence: DuplicateVoteEvidence


class Misbehaviour(msgspec.Struct, frozen=True):
    """A validator misbehaved in a way that is not vote evidence.

    Codes: `conflicting_proposal` (two proposals for one height and round),
    `invalid_block` (its proposal failed CheckBlock).
    """

    validator: bytes
    code: str


class CatchUp(msgspec.Struct, frozen=True):
    """Others are past `height`: fetch its block and commit (block sync) and call
    `Core.on_decided`. Repeated at most once per gossip period while still behind."""

    height: int


Action = (
    Broadcast
    | ScheduleTimeout
    | PersistSigned
    | BuildBlock
    | CheckBlock
    | CommitBlock
    | EvidenceFound
    | Misbehaviour
    | CatchUp
)
