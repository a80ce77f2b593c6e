"""Blocks: a header, the txs, the commit of the previous block and evidence.

`state_root` in the header of block h is the root after executing blocks
1..h-1 (CometBFT's app_hash): a proposal is validated by comparing it with our
own root, and a block is executed once, when it is committed.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agora.blockchain.merkle import MerkleProof, merkle_proof, merkle_root
from agora.blockchain.tx import ChainId, Key32, Tx, Uint, tx_hash
from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.codec import Canonical, Codec, encode, sha256

EMPTY_HASH = sha256(b"")
DEFAULT_MAX_BLOCK_BYTES = 8 * 1024 * 1024


class Header(Canonical, frozen=True):
    chain_id: ChainId
    height: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    time: Uint  # ms since the epoch
    prev_hash: Key32  # block id of height-1; the genesis hash for height 1
    tx_root: Key32
    state_root: Key32  # root after blocks 1..height-1
    proposer: Key32
    validators_hash: Key32
    last_commit_hash: Key32  # EMPTY_HASH when there is no last commit (height 1)
    evidence_hash: Key32

    def id(self) -> bytes:
        return sha256(encode(self))


class Block(Canonical, frozen=True):
    header: Header
    txs: list[Tx]
    last_commit: Commit | None  # None only at height 1
    evidence: list[DuplicateVoteEvidence]

    @property
    def height(self) -> int:
        return self.header.height

    def id(self) -> bytes:
        return self.header.id()

    def tx_hashes(self) -> list[bytes]:
        return [tx_hash(t) for t in self.txs]


def last_commit_hash(commit: Commit | None) -> bytes:
    return EMPTY_HASH if commit is None else commit.hash()


def evidence_hash(evidence: list[DuplicateVoteEvidence]) -> bytes:
    return sha256(encode(evidence))


def tx_root(hashes: list[bytes]) -> bytes:
    return merkle_root(hashes)


def tx_proof(block: Block, index: int) -> MerkleProof:
    return merkle_proof(block.tx_hashes(), index)


_codecs: dict[int, Codec[Block]] = {}
_commit_codec = Codec(Commit, 1024 * 1024, "commit")


def encode_block(block: Block) -> bytes:
    return encode(block)


def decode_block(
    data: bytes | bytearray | memoryview, max_size: int = DEFAULT_MAX_BLOCK_BYTES
) -> Block:
    """Strict decoding; raises RemoteError (oversize, undecodable, invalid_value,
    non_canonical). Whether the block is valid is `Chain.validate_block`'s business."""
    codec = _codecs.get(max_size)
    if codec is None:
        codec = _codecs[max_size] = Codec(Block, max_size, "block")
    return codec.decode(data)


def encode_commit(commit: Commit) -> bytes:
    return encode(commit)


def decode_commit(data: bytes | bytearray | memoryview) -> Commit:
    return _commit_codec.decode(data)
