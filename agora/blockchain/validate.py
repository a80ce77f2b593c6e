"""Checks of a block's header, last commit and evidence against our chain (no writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.blockchain.block import Block, evidence_hash, last_commit_hash
from agora.errors import RemoteError

if TYPE_CHECKING:
    from agora.blockchain.chain import Chain

MAX_FUTURE_MS = 10_000  # how far ahead of our clock a proposal's time may be
MAX_EVIDENCE = 100


def _bad(code: str, message: str) -> RemoteError:
    return RemoteError(message, code=code, penalty=100)


def check_header(chain: Chain, block: Block, now_ms: int | None) -> None:
    h = block.header
    g = chain.genesis
    if h.chain_id != g.chain_id:
        raise _bad("wrong_chain", f"block for chain {h.chain_id!r}, not {g.chain_id!r}")
    if h.height != chain.height + 1:
        raise _bad("bad_height", f"height {h.height}, expected {chain.height + 1}")
    if h.prev_hash != chain.last_block_id:
        raise _bad("bad_prev_hash", "prev_hash is not our last block")
    if (h.height == 1 and h.time < g.genesis_time) or (h.height > 1 and h.time <= chain.time_ms):
        raise _bad("bad_time", f"time {h.time} does not follow {chain.time_ms}")
    if now_ms is not None and h.time > now_ms + MAX_FUTURE_MS:
        raise _bad("bad_time", f"time {h.time} is ahead of our clock ({now_ms})")
    if h.state_root != chain.state_root:
        raise _bad("bad_state_root", "state_root differs from ours")
    if h.proposer not in chain.valset:
        raise _bad("bad_proposer", "the proposer is not a validator")
    if h.validators_hash != chain.valset.hash:
        raise _bad("bad_validators_hash", "validators_hash is not our validator set")
    if len(block.txs) > g.params.max_block_txs:
        raise _bad("block_too_large", f"{len(block.txs)} txs > {g.params.max_block_txs}")
    check_last_commit(chain, block)
    check_evidence(chain, block)


def check_last_commit(chain: Chain, block: Block) -> None:
    h = block.header
    lc = block.last_commit
    if h.last_commit_hash != last_commit_hash(lc):
        raise _bad("bad_last_commit", "last_commit_hash does not match last_commit")
    if h.height == 1:
        if lc is not None:
            raise _bad("bad_last_commit", "block 1 has no last commit")
        return
    if lc is None:
        raise _bad("bad_last_commit", "the last commit is missing")
    if lc.height != h.height - 1 or lc.block_id != chain.last_block_id:
        raise _bad("bad_last_commit", "the last commit is for another block")
    try:
        lc.verify(chain.genesis.chain_id, chain.valset)
    except RemoteError as e:
        raise _bad("bad_last_commit", f"last commit: {e.message}") from None


def check_evidence(chain: Chain, block: Block) -> None:
    h = block.header
    if h.evidence_hash != evidence_hash(block.evidence):
        raise _bad("bad_evidence", "evidence_hash does not match the evidence")
    if len(block.evidence) > MAX_EVIDENCE:
        raise _bad("bad_evidence", f"more than {MAX_EVIDENCE} pieces of evidence")
    seen: set[bytes] = set()
    for ev in block.evidence:
        eh = ev.hash()
        if eh in seen or chain.store.has_evidence(eh):
            raise _bad("bad_evidence", "evidence already included")
        seen.add(eh)
        if ev.vote_a.height >= h.height:
            raise _bad("bad_evidence", "evidence from the future")
        ev.verify(chain.genesis.chain_id, chain.valset)
