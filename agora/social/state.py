"""The social keys of the consensus KV (under `social/`, so in the state root).

Only what consensus checks need, and only from envelopes and non-erasable
bodies (docs/blockchain.md): handles, which posts exist (id -> author, seq,
deleted), follows, mutes, blocks, reactions and reposts. Everything else
(text, reply and quote links, mentions, hashtags, counts) is in the index.

    h/<handle>            -> owner key (32)
    n/<key>               -> the owner's handle (utf-8)
    p/<post id>           -> author (32) + seq (8) + deleted (1)
    f/<follower><followee> -> seq of the follow (8)
    m/<owner><target>     -> b""  (mute)
    b/<owner><target>     -> b""  (block)
    k/<owner>             -> how many accounts the owner blocks (8), absent if none
    r/<post id><account>  -> seq (8) + reaction (utf-8)
    s/<post id><account>  -> seq of the repost (8)

`seq` = height << 20 | tx index: where a tx is in the chain, the same on every node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from agora.blockchain.schema import TX_ID_BITS

Get = Callable[[bytes], bytes | None]


def seq_of(height: int, index: int) -> int:
    return height << TX_ID_BITS | index


def height_of(seq: int) -> int:
    return seq >> TX_ID_BITS


def handle_key(handle: str) -> bytes:
    return b"h/" + handle.encode()


def name_key(account: bytes) -> bytes:
    return b"n/" + account


def post_key(post_id: bytes) -> bytes:
    return b"p/" + post_id


def follow_key(a: bytes, b: bytes) -> bytes:
    return b"f/" + a + b


def mute_key(a: bytes, b: bytes) -> bytes:
    return b"m/" + a + b


def block_key(a: bytes, b: bytes) -> bytes:
    return b"b/" + a + b


def blocks_count_key(owner: bytes) -> bytes:
    return b"k/" + owner


def reaction_key(post_id: bytes, account: bytes) -> bytes:
    return b"r/" + post_id + account


def repost_key(post_id: bytes, account: bytes) -> bytes:
    return b"s/" + post_id + account


class PostState(NamedTuple):
    author: bytes
    seq: int
    deleted: bool


def dump_post(p: PostState) -> bytes:
    return p.author + p.seq.to_bytes(8, "big") + (b"\x01" if p.deleted else b"\x00")


def load_post(raw: bytes | None) -> PostState | None:
    if raw is None:
        return None
    return PostState(raw[:32], int.from_bytes(raw[32:40], "big"), raw[40] == 1)


def seq_bytes(seq: int) -> bytes:
    return seq.to_bytes(8, "big")


def seq_from(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big")
