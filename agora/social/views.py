"""What queries and subscriptions return. Keys and ids are hex; times are ms since the epoch.

Subscription items (`PostEvent`, `NotificationEvent`) carry no `cursor` field:
the RPC layer puts the cursor in front of their fields. Query items carry
theirs, so both look the same to a client.
"""

from __future__ import annotations

import msgspec


class AccountRef(msgspec.Struct, frozen=True):
    key: str
    handle: str | None = None


class PostEvent(msgspec.Struct, frozen=True):
    """A new post or repost (the item of social_subscribeFeed / social_subscribePosts)."""

    kind: str  # "post" or "repost"
    id: str  # this item's tx hash
    author: AccountRef  # who posted or reposted
    time_ms: int
    height: int
    post: str  # the post shown: `id` for a post, the reposted post for a repost
    post_author: AccountRef
    text: str | None = None
    reply_to: str | None = None
    quote_of: str | None = None


class NotificationEvent(msgspec.Struct, frozen=True):
    kind: str  # mention, reply, quote, repost, reaction, follow
    recipient: str
    actor: AccountRef
    time_ms: int
    height: int
    post: str | None = None  # the post or repost that caused it
    subject: str | None = None  # the post it is about
    reaction: str | None = None


class Notification(NotificationEvent, frozen=True):
    cursor: str = ""


class PostView(msgspec.Struct, frozen=True):
    id: str
    cursor: str
    author: AccountRef
    time_ms: int
    height: int
    text: str | None  # None once deleted
    reply_to: str | None
    quote_of: str | None
    root: str  # the thread's root post
    deleted: bool
    edits: int
    replies: int
    reposts: int
    quotes: int
    reactions: int


class FeedItem(msgspec.Struct, frozen=True):
    cursor: str
    kind: str  # "post" or "repost"
    id: str  # this item's tx hash
    by: AccountRef  # the author, or who reposted
    time_ms: int
    post: PostView


class FeedPage(msgspec.Struct, frozen=True):
    items: list[FeedItem]
    cursor: str | None  # pass it back for the next (older) page; None: no more


class PostPage(msgspec.Struct, frozen=True):
    items: list[PostView]
    cursor: str | None


class Version(msgspec.Struct, frozen=True):
    id: str  # the post's or the edit's tx hash
    time_ms: int
    height: int
    text: str


class PostDetail(msgspec.Struct, frozen=True):
    post: PostView
    versions: list[Version]  # oldest first; empty if never edited
    reactions: dict[str, int]  # reaction -> count
    quoted: PostView | None


class Thread(msgspec.Struct, frozen=True):
    root: PostView
    items: list[PostView]  # the replies, newest first; rebuild the tree with reply_to
    cursor: str | None


class Relation(msgspec.Struct, frozen=True):
    following: bool  # the viewer follows this account
    followed_by: bool
    muted: bool
    blocked: bool
    blocked_by: bool


class Profile(msgspec.Struct, frozen=True):
    key: str
    handle: str | None
    name: str
    bio: str
    avatar_url: str
    posts: int
    followers: int
    following: int
    since_height: int
    relation: Relation | None = None


class AccountItem(msgspec.Struct, frozen=True):
    cursor: str
    account: AccountRef
    name: str
    bio: str


class AccountPage(msgspec.Struct, frozen=True):
    items: list[AccountItem]
    cursor: str | None


class NotificationPage(msgspec.Struct, frozen=True):
    items: list[Notification]
    cursor: str | None


class TagCount(msgspec.Struct, frozen=True):
    tag: str
    posts: int


class TagPage(msgspec.Struct, frozen=True):
    items: list[TagCount]
    cursor: str | None


class AccountState(msgspec.Struct, frozen=True):
    """The chain's view of an account, for clients that build txs."""

    key: str
    handle: str | None
    balance: int
    nonce: int  # of its last tx: the next one carries nonce + 1
    quota: float  # actions left now (at the last block's time)


class TxResult(msgspec.Struct, frozen=True):
    hash: str
    height: int
    index: int
    kind: str
    code: str  # "ok", or why its module refused it
    message: str
    cursor: str


class SocialInfo(msgspec.Struct, frozen=True):
    chain_id: str
    height: int
    time_ms: int
    max_post_chars: int
    handle_fee: int
    min_fee: int
    fee_per_byte: int
    kinds: dict[str, int]  # kind -> quota cost
