"""Messages on the blockchain actor's inbound channels.

The RPC actor asks with `SubmitTx` (through `Context.ask`); the blockchain
actor answers on the RPC inbox with `Answer(ticket, result=<tx hash hex>)` or
`Answer(ticket, error=<TxError>)`. The `tx_submit` calls of one JSON-RPC batch
travel together as one `SubmitTxs` and get one `Answer` with a list.

The consensus actor asks with a `ChainRequest` and gets a `ChainReply`; the
blockchain actor also hands it peer_net's answers to the sync requests
(BLOCKS_* and STATUS_* are the blockchain's codes, so their `Response` and
`RequestFailed` arrive at the blockchain actor first).
"""

from __future__ import annotations

import msgspec

from agora.blockchain.tx import Tx
from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.peer_net.messages import RequestFailed, Response


class SubmitTx(msgspec.Struct, frozen=True, tag=True):
    """A client's encoded tx for the mempool; `ticket` identifies the waiting RPC call."""

    ticket: int
    tx: bytes


class SubmitTxs(msgspec.Struct, frozen=True, tag=True):
    """A JSON-RPC batch's txs, already decoded by the RPC actor (`raw`: their bytes, for
    gossip); answered with one `Answer(ticket, result=[tx hash hex | TxError, ...])`."""

    ticket: int
    txs: list[Tx]
    raw: list[bytes]


RpcSubmit = SubmitTx | SubmitTxs


# --- consensus -> blockchain: `ChainRequest` ---


class BuildBlockReq(msgspec.Struct, frozen=True, tag=True):
    """Build a proposal for `height` from the mempool; answered with `BlockBuilt`.
    `last_commit` None: the stored commit of height - 1 (none at height 1)."""

    height: int
    round: int
    proposer: bytes
    last_commit: Commit | None


class CheckBlockReq(msgspec.Struct, frozen=True, tag=True):
    """Validate a proposed block against our last block; answered with `BlockChecked`."""

    height: int
    round: int
    block_id: bytes
    block: bytes


class CommitBlockReq(msgspec.Struct, frozen=True, tag=True):
    """Execute and store a final block with its commit; answered with `BlockCommitted`
    or `CommitFailed`. A height already stored with the same id is answered again."""

    height: int
    block: bytes
    commit: Commit


class AddEvidence(msgspec.Struct, frozen=True, tag=True):
    """Verified evidence for the pool; it goes into the next blocks built here."""

    evidence: DuplicateVoteEvidence


ChainRequest = BuildBlockReq | CheckBlockReq | CommitBlockReq | AddEvidence


# --- blockchain -> consensus: `ChainReply` (with peer_net's answers to sync requests) ---


class BlockBuilt(msgspec.Struct, frozen=True, tag=True):
    height: int
    round: int
    block: bytes


class BlockChecked(msgspec.Struct, frozen=True, tag=True):
    height: int
    round: int
    block_id: bytes
    valid: bool
    code: str = ""  # why not


class BlockCommitted(msgspec.Struct, frozen=True, tag=True):
    height: int
    block_id: bytes
    time_ms: int
    txs: int
    again: bool = False  # it was already stored


class CommitFailed(msgspec.Struct, frozen=True, tag=True):
    height: int
    code: str
    message: str


ChainReply = BlockBuilt | BlockChecked | BlockCommitted | CommitFailed | Response | RequestFailed
