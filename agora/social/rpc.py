"""The `social_*` RPC methods and subscription topics.

    register(rpc.registry, reader, rpc.hub)      # at node start
    live.publish(publisher, commit_result)       # after each committed block

Social txs are submitted with the chain's `tx_submit`; their refusals carry
the codes in docs/social.md (JSON-RPC -32010).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from agora.rpc.codes import INVALID_PARAMS, NOT_FOUND, TX_REJECTED
from agora.rpc.methods import Context, Registry
from agora.rpc.subscriptions import Hub
from agora.rpc.topics import add_topic
from agora.social import views as v
from agora.social.live import topics
from agora.social.service import SocialReader

Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
Cursor = Annotated[str, msgspec.Meta(max_length=80)] | None
Name = Annotated[str, msgspec.Meta(max_length=80)]  # a hex key or a @handle
Query = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

# Refusals of social txs (module checks); the node maps every TxError to -32010 too.
TX_CODES = (
    "post_too_long", "invalid_utf8", "control_characters", "empty_post", "field_too_long",
    "bad_url", "bad_handle", "handle_fee", "handle_taken", "has_handle", "unknown_handle",
    "not_owner", "unknown_account", "bad_target", "follow_self", "self_target",
    "already_following", "not_following", "already_muted", "not_muted", "already_blocked",
    "not_blocked", "blocked", "unknown_post", "post_deleted", "not_author", "bad_reaction",
    "already_reacted", "not_reacted", "already_reposted", "not_reposted",
)  # fmt: skip
QUERY_CODES = ("bad_account", "bad_post_id", "bad_query", "bad_tx_hash")


class AccountParam(msgspec.Struct, frozen=True):
    account: Name


class TxHash(msgspec.Struct, frozen=True):
    hash: Name


class Paged(msgspec.Struct, frozen=True):
    account: Name
    cursor: Cursor = None
    limit: Limit = 50


class PostParam(msgspec.Struct, frozen=True):
    post: Name


class ThreadParam(msgspec.Struct, frozen=True):
    post: Name
    cursor: Cursor = None
    limit: Limit = 50


class ProfileParam(msgspec.Struct, frozen=True):
    account: Name
    viewer: Name | None = None  # adds how the viewer relates to the account


class SearchParam(msgspec.Struct, frozen=True):
    query: Query
    cursor: Cursor = None
    limit: Limit = 20


class TagParam(msgspec.Struct, frozen=True):
    tag: Query
    cursor: Cursor = None
    limit: Limit = 20


class PrefixParam(msgspec.Struct, frozen=True):
    prefix: Query
    cursor: Cursor = None
    limit: Limit = 20


class TrendingParam(msgspec.Struct, frozen=True):
    hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24
    cursor: Cursor = None
    limit: Limit = 20


def register(registry: Registry, reader: SocialReader, hub: Hub | None = None) -> None:
    """Add every social method (and, given the hub, the subscription topics)."""
    registry.errors.add(TX_REJECTED, *TX_CODES)
    registry.errors.add(INVALID_PARAMS, *QUERY_CODES)
    r = reader

    def add(name: str, params: Any, result: Any, summary: str, fn: Callable[[Any], Any]) -> None:
        def handler(ctx: Context, p: Any) -> Any:
            return fn(p)

        registry.add(
            name, handler, params=params, result=result, summary=summary, tags=("social",),
            blocking=True, errors=(NOT_FOUND, INVALID_PARAMS),
        )  # fmt: skip

    registry.add(
        "social_getInfo", lambda ctx: r.info(), result=v.SocialInfo, tags=("social",),
        summary="Chain id, height and the social parameters (post length, handle fee...)",
        blocking=True,
    )  # fmt: skip
    add(
        "social_getAccount",
        AccountParam,
        v.AccountState,
        "Balance, nonce and quota of an account (to build its next tx)",
        lambda p: r.account_state(p.account),
    )
    add(
        "social_getTxResult",
        TxHash,
        v.TxResult,
        "Where a committed tx is and whether it succeeded",
        lambda p: r.tx_result(p.hash),
    )
    add(
        "social_getFeed",
        Paged,
        v.FeedPage,
        "Home feed: posts and reposts by followed accounts, newest first",
        lambda p: r.feed(p.account, p.cursor, p.limit),
    )
    add(
        "social_getPosts",
        Paged,
        v.FeedPage,
        "An account's posts, replies and reposts, newest first",
        lambda p: r.posts(p.account, p.cursor, p.limit),
    )
    add(
        "social_getThread",
        ThreadParam,
        v.Thread,
        "A thread: its root and the reply tree, newest first",
        lambda p: r.thread(p.post, p.cursor, p.limit),
    )
    add(
        "social_getPost",
        PostParam,
        v.PostDetail,
        "A post with its edit history, reactions and quoted post",
        lambda p: r.post(p.post),
    )
    add(
        "social_getProfile",
        ProfileParam,
        v.Profile,
        "A profile with its counts (and the viewer's relation to it)",
        lambda p: r.profile(p.account, p.viewer),
    )
    add(
        "social_getFollowers",
        Paged,
        v.AccountPage,
        "Who follows an account, newest first",
        lambda p: r.followers(p.account, p.cursor, p.limit),
    )
    add(
        "social_getFollowing",
        Paged,
        v.AccountPage,
        "Whom an account follows, newest first",
        lambda p: r.following(p.account, p.cursor, p.limit),
    )
    add(
        "social_getNotifications",
        Paged,
        v.NotificationPage,
        "An account's notifications, newest first",
        lambda p: r.notifications(p.account, p.cursor, p.limit),
    )
    add(
        "social_searchPosts",
        SearchParam,
        v.PostPage,
        "Full-text search over posts (every word must match), newest first",
        lambda p: r.search_posts(p.query, p.cursor, p.limit),
    )
    add(
        "social_searchProfiles",
        SearchParam,
        v.AccountPage,
        "Search handles, names and bios (the last word as a prefix)",
        lambda p: r.search_profiles(p.query, p.cursor, p.limit),
    )
    add(
        "social_searchHashtags",
        PrefixParam,
        v.TagPage,
        "Hashtags starting with a prefix, with their post counts",
        lambda p: r.search_tags(p.prefix, p.cursor, p.limit),
    )
    add(
        "social_getHashtag",
        TagParam,
        v.PostPage,
        "Posts with a hashtag, newest first",
        lambda p: r.hashtag(p.tag, p.cursor, p.limit),
    )
    add("social_getTrending", TrendingParam, v.TagPage,
        "The most used hashtags in the last hours of block time",
        lambda p: r.trending(p.hours, p.cursor, p.limit))  # fmt: skip
    if hub is not None:
        for topic in topics(reader):
            add_topic(registry, hub, topic)
