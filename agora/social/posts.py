"""Index changes of posts, reposts, edits and deletes.

A deleted post keeps a row (its place in threads and counts of replies that
still exist) without its text or links; a post whose body was already erased
when this node executed it (block sync) gets that same row at once. So the
undoing in `delete_post` happens only for a row that still has its text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from agora.social import schema as sc
from agora.social import tiers
from agora.social.batch import QUOTES, REPLIES, REPOSTS
from agora.social.index import IndexWriter
from agora.social.text import hashtags


def add_post(
    w: IndexWriter,
    c: sqlite3.Connection,
    seq: int,
    post_id: bytes,
    author: int,
    time_ms: int,
    text: str,
    parent: int | None,
    quote: int | None,
    tags: list[str],
) -> None:
    """Into the block's batch: the row, its counts, FTS and hashtags."""
    b = w.batch
    root = seq
    if parent is not None:
        known = b.roots.get(parent)  # a reply to a post of this very block
        if known is None:
            q = "SELECT root FROM social_posts WHERE seq = ?"
            known = int(c.execute(q, (parent,)).fetchone()[0])
        root = known
        b.count(parent, REPLIES)
    if quote is not None:
        b.count(quote, QUOTES)
    b.posts.append((seq, post_id, author, sc.POST, time_ms, text, parent, quote, root))
    b.roots[seq] = root
    b.author_posts[author] = b.author_posts.get(author, 0) + 1
    w.fts_add(c, seq, text, new=True)
    if tags:
        w.tags_add(seq, time_ms, tags)


def tombstone(c: sqlite3.Connection, seq: int, post_id: bytes, author: int, time_ms: int) -> None:
    """A post executed with its body already erased: the row a delete leaves."""
    c.execute(
        "INSERT INTO social_posts (seq, id, author, kind, time, root, deleted)"
        " VALUES (?, ?, ?, 0, ?, ?, 1)",
        (seq, post_id, author, time_ms, seq),
    )


def add_repost(
    w: IndexWriter, seq: int, repost_id: bytes, author: int, time_ms: int, target: int
) -> None:
    w.batch.posts.append((seq, repost_id, author, sc.REPOST_ITEM, time_ms, None, None, target, seq))
    w.batch.count(target, REPOSTS)


def remove_repost(c: sqlite3.Connection, seq: int, target: int) -> None:
    c.execute("DELETE FROM social_posts WHERE seq = ? AND kind = 1", (seq,))
    c.execute("UPDATE social_posts SET reposts = reposts - 1 WHERE seq = ?", (target,))
    tiers.delete(c, tiers.NOTES, "id = ?", (seq << 8,))


def _tags_time(c: sqlite3.Connection, seq: int, posted: int, edits: int) -> int:
    """When the current version's tags were counted (the post's or the last edit's time)."""
    if not edits:
        return posted
    q = "SELECT time FROM social_versions WHERE post = ? ORDER BY seq DESC LIMIT 1"
    return int(c.execute(q, (seq,)).fetchone()[0])


def edit_post(
    w: IndexWriter,
    c: sqlite3.Connection,
    post_seq: int,
    post_id: bytes,
    edit_seq: int,
    edit_id: bytes,
    time_ms: int,
    text: str,
    tags: list[str],
) -> None:
    old, posted, edits = c.execute(
        "SELECT text, time, edits FROM social_posts WHERE seq = ?", (post_seq,)
    ).fetchone()
    tagged = _tags_time(c, post_seq, posted, edits)
    ins = "INSERT INTO social_versions (post, seq, id, time, text) VALUES (?, ?, ?, ?, ?)"
    if not edits:
        c.execute(ins, (post_seq, post_seq, post_id, posted, old))
    c.execute(ins, (post_seq, edit_seq, edit_id, time_ms, text))
    c.execute("UPDATE social_posts SET text = ?, edits = edits + 1 WHERE seq = ?", (text, post_seq))
    w.tags_remove(c, post_seq, tagged, hashtags(old))
    w.tags_add(post_seq, time_ms, tags)
    w.fts_remove(c, post_seq, old, purge=False)
    w.fts_add(c, post_seq, text, new=False)


def delete_post(
    w: IndexWriter, c: sqlite3.Connection, seq: int, erase: Callable[[bytes], None]
) -> None:
    """Erase the post's text, links and derived rows; `erase` is given every edit's tx id."""
    row = c.execute(
        "SELECT deleted, text, parent, quote, time, edits, root, author FROM social_posts"
        " WHERE seq = ?",
        (seq,),
    ).fetchone()
    deleted, text, parent, quote, posted, edits, root, author = row
    if deleted:
        return  # executed with its body already erased: nothing of it was indexed
    for (vid,) in c.execute(
        "SELECT id FROM social_versions WHERE post = ? AND seq != ?", (seq, seq)
    ).fetchall():
        erase(bytes(vid))
    w.tags_remove(c, seq, _tags_time(c, seq, posted, edits), hashtags(text))
    w.fts_remove(c, seq, text, purge=True)
    c.execute("DELETE FROM social_versions WHERE post = ?", (seq,))
    if parent is not None:
        c.execute("UPDATE social_posts SET replies = replies - 1 WHERE seq = ?", (parent,))
    if quote is not None:
        c.execute("UPDATE social_posts SET quotes = quotes - 1 WHERE seq = ?", (quote,))
    c.execute("UPDATE social_accounts SET posts = posts - 1 WHERE id = ?", (author,))
    # Notifications it caused (reply, quote, mentions) came from its body.
    tiers.delete(c, tiers.NOTES, "id BETWEEN ? AND ?", (seq << 8, seq << 8 | 0xFF))
    if root != seq:
        _reroot(c, seq, root)
    c.execute(
        "UPDATE social_posts SET text = NULL, parent = NULL, quote = NULL, root = seq,"
        " deleted = 1, edits = 0 WHERE seq = ?",
        (seq,),
    )


def _reroot(c: sqlite3.Connection, seq: int, root: int) -> None:
    """The post's link to its parent is erased, so its replies start a thread of their own:
    as on a node that synced the post already erased."""
    rows = c.execute(
        "SELECT seq, parent FROM social_posts WHERE root = ? AND parent IS NOT NULL AND seq > ?",
        (root, seq),
    ).fetchall()
    children: dict[int, list[int]] = {}
    for s, p in rows:
        children.setdefault(p, []).append(s)
    todo, moved = [seq], []
    while todo:
        kids = children.get(todo.pop(), [])
        moved.extend(kids)
        todo.extend(kids)
    c.executemany("UPDATE social_posts SET root = ? WHERE seq = ?", [(seq, s) for s in moved])


KIND_NAMES = {sc.POST: "post", sc.REPOST_ITEM: "repost"}
