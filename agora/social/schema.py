"""The social index: SQLite tables written in the block's transaction, never in the root.

Accounts are numbered in the order they first appear (from envelopes and
non-erasable bodies only), so every node numbers them alike. Post text goes to
FTS5 tables that are *contentless* (the text is kept once, in social_posts)
and *sharded* by post sequence: a delete must push the erased words out of the
full-text index (SQLite 3.40 has no FTS5 secure-delete), which takes an
'optimize' of the shard holding the post; a shard of ~65k posts is rewritten
in a few tens of milliseconds, a single index of millions would take seconds.
"""

from __future__ import annotations

SHARD_POSTS = 1 << 16
FTS_OPTIONS = "content='', columnsize=0, detail=none, tokenize='unicode61 remove_diacritics 2'"


def fts_table(k: int) -> str:
    return f"social_fts_{int(k)}"


def create_shard(k: int) -> str:
    return f"CREATE VIRTUAL TABLE {fts_table(k)} USING fts5(text, {FTS_OPTIONS})"


MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE social_accounts (
        id INTEGER PRIMARY KEY,
        key BLOB NOT NULL UNIQUE,
        handle TEXT UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        bio TEXT NOT NULL DEFAULT '',
        avatar TEXT NOT NULL DEFAULT '',
        posts INTEGER NOT NULL DEFAULT 0,
        followers INTEGER NOT NULL DEFAULT 0,
        following INTEGER NOT NULL DEFAULT 0,
        since INTEGER NOT NULL              -- seq of the tx that made the row
    );
    CREATE VIRTUAL TABLE social_profile_fts USING fts5(
        handle, name, bio, content='', columnsize=0,
        tokenize='unicode61 remove_diacritics 2');
    CREATE TABLE social_posts (
        seq INTEGER PRIMARY KEY,            -- height << 20 | tx index
        id BLOB NOT NULL,                   -- the tx hash (id -> seq is in the KV)
        author INTEGER NOT NULL,
        kind INTEGER NOT NULL,              -- 0 post, 1 repost
        time INTEGER NOT NULL,
        text TEXT,                          -- NULL for reposts and deleted posts
        parent INTEGER,                     -- the post replied to
        quote INTEGER,                      -- the post quoted (post) or reposted (repost)
        root INTEGER NOT NULL,              -- the thread's root
        deleted INTEGER NOT NULL DEFAULT 0,
        edits INTEGER NOT NULL DEFAULT 0,
        replies INTEGER NOT NULL DEFAULT 0,
        reposts INTEGER NOT NULL DEFAULT 0,
        quotes INTEGER NOT NULL DEFAULT 0,
        reactions INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX social_posts_by_author ON social_posts (author, seq);
    CREATE INDEX social_posts_by_root ON social_posts (root, seq) WHERE parent IS NOT NULL;
    CREATE TABLE social_versions (
        post INTEGER, seq INTEGER, id BLOB NOT NULL, time INTEGER NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (post, seq)) WITHOUT ROWID;
    CREATE TABLE social_follows (
        follower INTEGER, seq INTEGER, followee INTEGER NOT NULL,
        PRIMARY KEY (follower, seq)) WITHOUT ROWID;
    CREATE INDEX social_follows_by_followee ON social_follows (followee, seq);
    CREATE TABLE social_hides (                -- kind 1 mute, 2 block
        owner INTEGER, target INTEGER, kind INTEGER,
        PRIMARY KEY (owner, target, kind)) WITHOUT ROWID;
    CREATE TABLE social_reactions (
        post INTEGER, account INTEGER, reaction TEXT NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (post, account)) WITHOUT ROWID;
    CREATE TABLE social_notifications (
        id INTEGER PRIMARY KEY,             -- seq << 8 | n: the tx that caused it
        recipient INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        actor INTEGER NOT NULL,
        subject INTEGER,                    -- the post it is about
        time INTEGER NOT NULL
    );
    CREATE INDEX social_notifications_by_recipient ON social_notifications (recipient, id);
    CREATE TABLE social_tags (tag TEXT, seq INTEGER, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
    CREATE TABLE social_tag_totals (tag TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE social_tag_hours (
        hour INTEGER, tag TEXT, n INTEGER NOT NULL, PRIMARY KEY (hour, tag)) WITHOUT ROWID;
    CREATE TABLE social_fts_shards (k INTEGER PRIMARY KEY, lo INTEGER NOT NULL);
    INSERT INTO social_fts_shards VALUES (0, 0);
    {create_shard(0)};
    """,
    # v2: new notifications and hashtag rows go to recent tiers, merged into the large
    # tables in bulk (tiers.py).
    """
    CREATE TABLE social_notifications_new (
        id INTEGER PRIMARY KEY,
        recipient INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        actor INTEGER NOT NULL,
        subject INTEGER,
        time INTEGER NOT NULL
    );
    CREATE INDEX social_notifications_new_by_recipient
        ON social_notifications_new (recipient, id);
    CREATE TABLE social_tags_new (tag TEXT, seq INTEGER, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
    CREATE TABLE social_tiers (name TEXT PRIMARY KEY, since INTEGER NOT NULL);
    """,
)

# Notification kinds, as stored.
MENTION, REPLY, QUOTE, REPOST, REACTION, FOLLOW = 1, 2, 3, 4, 5, 6
NOTIFICATION_KINDS = {
    MENTION: "mention",
    REPLY: "reply",
    QUOTE: "quote",
    REPOST: "repost",
    REACTION: "reaction",
    FOLLOW: "follow",
}
MUTE, BLOCK = 1, 2
POST, REPOST_ITEM = 0, 1
