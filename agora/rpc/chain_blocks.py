"""The first topic, `chain_subscribeBlocks`: committed blocks, resumable by height.

The node publishes each block after `commit_block` returned (so it is in the
store) with `publish_block`; the past comes from the chain `Reader`. Both give
the same `BlockEvent`, whose cursor is the height.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from agora.blockchain.block import Block
from agora.blockchain.reader import Reader
from agora.blockchain.tx import tx_hash
from agora.rpc.messages import Publisher
from agora.rpc.subscriptions import Topic

STREAM = "blocks"


class BlockEvent(msgspec.Struct, frozen=True):
    """A committed block, in short; hashes and keys are hex."""

    height: int
    id: str
    time_ms: int
    prev_hash: str
    proposer: str
    tx_root: str
    state_root: str  # the root after blocks 1..height-1, as in the header
    tx_hashes: list[str]


class SubscribeBlocks(msgspec.Struct, frozen=True):
    """`cursor`: the last height the client has; blocks after it follow. None: from now."""

    cursor: int | str | None = None


def block_event(block: Block, tx_hashes: Sequence[bytes] | None = None) -> BlockEvent:
    """`tx_hashes`: the block's, if the caller has them (a commit computed them)."""
    h = block.header
    hashes = [tx_hash(tx) for tx in block.txs] if tx_hashes is None else tx_hashes
    return BlockEvent(
        height=h.height,
        id=block.id().hex(),
        time_ms=h.time,
        prev_hash=h.prev_hash.hex(),
        proposer=h.proposer.hex(),
        tx_root=h.tx_root.hex(),
        state_root=h.state_root.hex(),
        tx_hashes=[x.hex() for x in hashes],
    )


def publish_block(
    publisher: Publisher, block: Block, tx_hashes: Sequence[bytes] | None = None
) -> bool:
    """Announce a block that is already in the store; never blocks."""
    return publisher.publish(STREAM, block.height, block_event(block, tx_hashes))


class BlocksSource:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def head(self, params: Any) -> int:
        return self.reader.status().height

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        top = min(after + limit, self.reader.status().height)
        out = []
        for height in range(after + 1, top + 1):
            block = self.reader.get_block(height)
            if block is None:  # not stored: pruned, or a race with a reorg that cannot happen
                break
            out.append((height, block_event(block)))
        return out

    def matches(self, params: Any, item: Any) -> bool:
        return True


def blocks_topic(reader: Reader) -> Topic:
    return Topic(
        "chain_subscribeBlocks",
        STREAM,
        SubscribeBlocks,
        BlockEvent,
        BlocksSource(reader),
        summary="Committed blocks, from a height (the cursor) on, with no gap",
    )
