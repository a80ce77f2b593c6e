"""The blockchain actor's packet bodies on peer_net: tx gossip, status and block ranges.

    TX_GOSSIP        [tx, ...]                      encoded txs, at most ~60 KiB a batch
    STATUS_REQUEST   b""
    STATUS_RESPONSE  [height, block_id]             our last block (the genesis hash at 0)
    BLOCKS_REQUEST   [start, count]                 heights start .. start+count-1
    BLOCKS_RESPONSE  [start, [[block, commit], ...]] consecutive from `start`, maybe fewer

A response holds at most `count` blocks and about `MAX_RESPONSE_BYTES`, but
always the first block if it is stored; an empty list says "not stored here".
Each block comes with the commit that made it final, so a syncing node can
check it against the validator set before executing anything.

`header_id` gives a block's id from its bytes by decoding only the header
(the consensus core's `block_id_of`); the rest is checked when the block is
validated or committed.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agora.blockchain.block import Header
from agora.blockchain.votes import Commit
from agora.codec import Canonical, Codec, sha256
from agora.errors import RemoteError

KiB = 1024
MAX_GOSSIP_BYTES = 60 * KiB  # TX_GOSSIP bodies are limited to 64 KiB in the code table
MAX_BLOCKS_PER_REQUEST = 64
MAX_RESPONSE_BYTES = 3 * 1024 * KiB  # frames are limited to 4 MiB
MAX_HEIGHT = 2**63 - 1

Height = Annotated[int, msgspec.Meta(ge=0, le=MAX_HEIGHT)]
Count = Annotated[int, msgspec.Meta(ge=1, le=MAX_BLOCKS_PER_REQUEST)]


class StatusBody(Canonical, frozen=True):
    height: Height
    block_id: bytes


class BlocksRequest(Canonical, frozen=True):
    start: Annotated[int, msgspec.Meta(ge=1, le=MAX_HEIGHT)]
    count: Count


class SyncedBlock(Canonical, frozen=True):
    block: bytes  # an encoded Block
    commit: Commit


class BlocksResponse(Canonical, frozen=True):
    start: Height
    blocks: list[SyncedBlock]


class _HeadOnly(msgspec.Struct, frozen=True, array_like=True):
    """A block's first field (the header), the rest skipped."""

    header: msgspec.Raw


_tx_batch = Codec(list[bytes], 64 * KiB, "tx batch")
_status = Codec(StatusBody, 4 * KiB, "status")
_blocks_request = Codec(BlocksRequest, 256, "blocks request")
_header = Codec(Header, 4 * KiB, "block header")
_head_only = msgspec.msgpack.Decoder(_HeadOnly)
_encoder = msgspec.msgpack.Encoder()


def encode_tx_batch(txs: list[bytes]) -> bytes:
    return _encoder.encode(txs)


def decode_tx_batch(body: bytes) -> list[bytes]:
    return _tx_batch.decode(body)


def batch_txs(txs: list[bytes], limit: int = MAX_GOSSIP_BYTES) -> list[bytes]:
    """Gossip bodies of at most about `limit` bytes each (a larger tx goes alone)."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for tx in txs:
        if chunk and size + len(tx) + 5 > limit:
            out.append(encode_tx_batch(chunk))
            chunk, size = [], 0
        chunk.append(tx)
        size += len(tx) + 5
    if chunk:
        out.append(encode_tx_batch(chunk))
    return out


def encode_status(height: int, block_id: bytes) -> bytes:
    return _encoder.encode(StatusBody(height, block_id))


def decode_status(body: bytes) -> StatusBody:
    return _status.decode(body)


def encode_blocks_request(start: int, count: int) -> bytes:
    return _encoder.encode(BlocksRequest(start, count))


def decode_blocks_request(body: bytes) -> BlocksRequest:
    return _blocks_request.decode(body)


def encode_blocks_response(start: int, blocks: list[SyncedBlock]) -> bytes:
    return _encoder.encode(BlocksResponse(start, blocks))


def blocks_codec(max_body: int) -> Codec[BlocksResponse]:
    return Codec(BlocksResponse, max_body, "blocks response")


def split_header(block: bytes) -> tuple[bytes, Header]:
    """The raw header bytes of an encoded block and the header (strict); RemoteError
    (`undecodable`, `invalid_value`, `non_canonical`) if it has no valid header."""
    try:
        raw = bytes(_head_only.decode(block).header)
    except msgspec.ValidationError as e:
        raise RemoteError(f"block: {e}", code="invalid_value", penalty=20) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        raise RemoteError(f"block: {e}", code="undecodable", penalty=20) from None
    return raw, _header.decode(raw)  # canonical: the id names exactly one header


def header_id(block: bytes) -> bytes:
    """The id of the encoded block `block`: sha256 of its canonical header."""
    return sha256(split_header(block)[0])
