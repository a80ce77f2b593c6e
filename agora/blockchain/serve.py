"""Answering peers' STATUS_REQUEST and BLOCKS_REQUEST from the store (block sync's server).

Blocks are read through a read-only connection of this thread's own, so the
writer's transaction is never involved; a response is bounded by count and by
bytes (`wire.MAX_RESPONSE_BYTES`) and always carries the first block asked for
if it is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agora.blockchain.block import encode_block
from agora.blockchain.reader import Reader
from agora.blockchain.wire import (
    MAX_RESPONSE_BYTES,
    SyncedBlock,
    decode_blocks_request,
    encode_blocks_response,
    encode_status,
)
from agora.errors import RemoteError
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Inbound, NetCommand, Penalize, Respond

if TYPE_CHECKING:
    from agora.blockchain.chain import Chain

BAD_REQUEST_PENALTY = 100  # an honest node never sends one: undecodable is a violation


class BlockServer:
    def __init__(self, chain: Chain, db_path: Path | str) -> None:
        self.chain = chain
        self.reader = Reader(db_path)
        self.served_blocks = 0

    def answer(self, ev: Inbound) -> list[NetCommand]:
        """The commands that answer the request `ev` (or penalize its sender)."""
        chain = self.chain
        if ev.code == AppCode.STATUS_REQUEST:
            body = encode_status(chain.height, chain.last_block_id)
            return [Respond(ev.peer_id, ev.msg_id, AppCode.STATUS_RESPONSE, body)]
        if ev.code != AppCode.BLOCKS_REQUEST:
            return []
        try:
            req = decode_blocks_request(ev.body)
        except RemoteError:
            return [Penalize(ev.peer_id, "bad_blocks_request", BAD_REQUEST_PENALTY)]
        blocks = self.read(req.start, req.count)
        self.served_blocks += len(blocks)
        body = encode_blocks_response(req.start, blocks)
        return [Respond(ev.peer_id, ev.msg_id, AppCode.BLOCKS_RESPONSE, body)]

    def read(
        self, start: int, count: int, max_bytes: int = MAX_RESPONSE_BYTES
    ) -> list[SyncedBlock]:
        """Stored blocks `start`.. with their commits, consecutive, within the bounds."""
        out: list[SyncedBlock] = []
        size = 0
        top = min(start + count - 1, self.chain.height)
        for height in range(start, top + 1):
            block = self.reader.get_block(height)
            commit = self.reader.get_commit(height)
            if block is None or commit is None:
                break
            data = encode_block(block)
            size += len(data) + 200 + 100 * len(commit.signatures)
            if out and size > max_bytes:
                break
            out.append(SyncedBlock(data, commit))
        return out

    def block_id(self, height: int) -> bytes | None:
        row = self.chain.store.conn.execute(
            "SELECT id FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self.reader.close()
