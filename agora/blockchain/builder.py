"""Choosing a proposal's txs from the mempool, within the block's limits.

The mempool keeps, for every pending tx, the sender's account after it under
phase 1's rules against the current state (rechecked after every block, with
the quota refilled to the last block's time as phase 1 does), so the builder
takes whole prefixes of each sender's run and their accounts as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.blockchain.account import Account
from agora.blockchain.block import EMPTY_HASH, Block, Header, encode_block
from agora.blockchain.mempool import Entry
from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.errors import LocalError

if TYPE_CHECKING:
    from agora.blockchain.chain import Chain


def select_txs(
    chain: Chain,
    time_ms: int,
    proposer: bytes,
    last_commit: Commit | None,
    evidence: list[DuplicateVoteEvidence],
) -> tuple[list[Entry], tuple[dict[bytes, Account], int]]:
    """The txs, and phase 1's result for them (the accounts after charging, the fees)."""
    params = chain.genesis.params
    height = chain.height + 1
    if time_ms <= chain.time_ms or (height == 1 and time_ms < chain.genesis.genesis_time):
        raise LocalError(f"block time {time_ms} must follow {chain.time_ms}", code="bad_time")
    if proposer not in chain.valset:
        raise LocalError("the proposer is not a validator", code="bad_proposer")
    h0 = EMPTY_HASH
    empty = Header(chain.genesis.chain_id, height, time_ms, h0, h0, h0, h0, h0, h0, h0)
    # 5: the largest msgpack array header the tx list can grow to.
    budget = params.max_block_bytes - len(encode_block(Block(empty, [], last_commit, evidence))) - 5
    accounts: dict[bytes, Account] = {}
    skipped: set[bytes] = set()
    out: list[Entry] = []
    fees = 0
    for e in chain.mempool.ordered():
        if len(out) >= params.max_block_txs:
            break
        sender = e.tx.envelope.sender
        if sender in skipped:
            continue
        if e.size > budget:
            skipped.add(sender)  # its later nonces cannot come without this one
            continue
        accounts[sender] = e.acct
        budget -= e.size
        fees += e.tx.envelope.fee
        out.append(e)
    return out, (accounts, fees)
