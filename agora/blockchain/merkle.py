"""Merkle roots and inclusion proofs over tx hashes, as RFC 6962 / RFC 9162 define them.

Leaves and inner nodes are hashed with different prefixes so that a leaf can
never pass for a node. An odd node at the end of a level moves up unchanged,
which gives the same tree as RFC 6962's split at the largest power of two.
"""

from __future__ import annotations

import hashlib

from agora.codec import Canonical

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(item: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + item).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(items: list[bytes]) -> bytes:
    if not items:
        return EMPTY_ROOT
    level = [leaf_hash(i) for i in items]
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class MerkleProof(Canonical, frozen=True):
    """The audit path of leaf `index` in a tree of `size` leaves."""

    index: int
    size: int
    path: list[bytes]


def merkle_proof(items: list[bytes], index: int) -> MerkleProof:
    if not 0 <= index < len(items):
        raise IndexError(f"leaf {index} not in a tree of {len(items)}")
    path: list[bytes] = []
    level = [leaf_hash(i) for i in items]
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        nxt = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i //= 2
    return MerkleProof(index, len(items), path)


def verify_proof(root: bytes, item: bytes, proof: MerkleProof) -> bool:
    """RFC 9162 section 2.1.3.2: recompute the root from the leaf and its audit path."""
    if not 0 <= proof.index < proof.size:
        return False
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(item)
    for p in proof.path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
