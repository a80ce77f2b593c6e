"""Driving a chain with in-process validators: for tests, the crash test and the bench.

Not a consensus: it signs precommits with every validator key it holds, which
is what a real network's +2/3 would produce.
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.signing

from agora.blockchain.block import Block
from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.genesis import Genesis, Params, dev_signing_key, make_dev_genesis
from agora.blockchain.tx import Tx, TxError
from agora.blockchain.votes import Commit, VoteType, make_commit, sign_vote

BLOCK_MS = 1000


def dev_keys(prefix: str, n: int, seed: bytes = b"agora-test") -> list[nacl.signing.SigningKey]:
    return [dev_signing_key(f"{prefix}{i}", seed) for i in range(n)]


def dev_genesis(
    validators: Sequence[nacl.signing.SigningKey],
    funded: Sequence[nacl.signing.SigningKey] = (),
    *,
    chain_id: str = "agora-test",
    amount: int = 1_000_000,
    params: Params | None = None,
    genesis_time: int = 1_700_000_000_000,
) -> Genesis:
    return make_dev_genesis(
        chain_id,
        [bytes(k.verify_key) for k in validators],
        [bytes(k.verify_key) for k in funded],
        amount=amount,
        genesis_time=genesis_time,
        params=params,
    )


class Driver:
    def __init__(self, chain: Chain, validators: Sequence[nacl.signing.SigningKey]) -> None:
        self.chain = chain
        self.validators = list(validators)
        self.last_commit: Commit | None = chain.seen_commit(chain.height)

    def next_time(self) -> int:
        return max(self.chain.time_ms, self.chain.genesis.genesis_time) + BLOCK_MS

    def propose(self, time_ms: int | None = None) -> Block:
        h = self.chain.height + 1
        proposer = self.validators[h % len(self.validators)].verify_key
        t = self.next_time() if time_ms is None else time_ms
        return self.chain.build_block(t, bytes(proposer), self.last_commit, [])

    def sign_commit(self, block: Block) -> Commit:
        bid = block.id()
        cid = self.chain.genesis.chain_id
        votes = [
            sign_vote(k, cid, block.height, 0, VoteType.PRECOMMIT, bid) for k in self.validators
        ]
        return make_commit(votes)

    def commit(self, block: Block) -> CommitResult:
        commit = self.sign_commit(block)
        result = self.chain.commit_block(block, commit)
        self.last_commit = commit
        return result

    def step(self, txs: Sequence[Tx] = (), time_ms: int | None = None) -> CommitResult:
        """Submit `txs` (refused ones raise), then build and commit one block."""
        for r in self.chain.mempool.add_batch(txs):
            if isinstance(r, TxError):
                raise r
        return self.commit(self.propose(time_ms))
