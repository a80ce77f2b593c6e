"""The social commands: act (post, reply, like, follow...) and read (feed, thread, search...).

Acting signs a tx with the keystore's key, submits it and waits until a block holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import msgspec

from agora.cli import main
from agora.cli.bench import bench, dir_option, json_option
from agora.errors import AgoraError
from agora.social import bodies as b
from agora.social.cli_common import (
    actor,
    client,
    handles_errors,
    keystore_option,
    passphrase_option,
    post_id,
    public_key,
    rpc_option,
    target,
)
from agora.social.render import (
    accounts_table,
    console,
    notifications_table,
    post_detail,
    posts_table,
    profile_table,
    result_table,
    tags_table,
    thread_table,
)


def _act(
    kind: str, body: msgspec.Struct, rpc_url: str | None, ks: Path | None, pf: Path | None,
    *, extra_fee: int = 0, wait: float = 20.0,
) -> None:  # fmt: skip
    a = actor(rpc_url, ks, pf)
    res = a.send(kind, body, extra_fee=extra_fee, wait=wait)
    console().print(result_table(kind, res))
    if res.get("code") not in ("ok", "pending"):
        raise SystemExit(1)


def acting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every acting command takes."""
    for opt in (
        click.option("--no-wait", is_flag=True, help="Do not wait for the tx to be in a block."),
        passphrase_option,
        keystore_option,
        rpc_option,
    ):
        fn = opt(fn)
    return handles_errors(fn)


def _wait(no_wait: bool) -> float:
    return 0.0 if no_wait else 20.0


# --- handles and profiles


@main.group()
def handle() -> None:
    """Register or transfer a handle (@name)."""


@handle.command("register")
@click.argument("name")
@acting
def handle_register(name: str, rpc_url: str | None, keystore_path: Path | None,
                    passphrase_file: Path | None, no_wait: bool) -> None:  # fmt: skip
    """Register NAME (3-20 of a-z, 0-9, _); it costs the handle fee."""
    fee = client(rpc_url).call("social_getInfo")["handle_fee"]
    _act("handle_register", b.HandleRegister(name.removeprefix("@")), rpc_url, keystore_path,
         passphrase_file, extra_fee=fee, wait=_wait(no_wait))  # fmt: skip


@handle.command("transfer")
@click.argument("name")
@click.argument("to")
@acting
def handle_transfer(name: str, to: str, rpc_url: str | None, keystore_path: Path | None,
                    passphrase_file: Path | None, no_wait: bool) -> None:  # fmt: skip
    """Give your handle NAME to the account TO (a 64-hex key)."""
    _act("handle_transfer", b.HandleTransfer(name.removeprefix("@"), post_id(to)), rpc_url,
         keystore_path, passphrase_file, wait=_wait(no_wait))  # fmt: skip


class _ProfileGroup(click.Group):
    """`agora profile set ...` or `agora profile @handle` (show)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_ProfileGroup)
def profile() -> None:
    """Show a profile (`agora profile @handle`) or set yours (`agora profile set`)."""


@profile.command("set")
@click.option("--name", default="", help="Display name.")
@click.option("--bio", default="")
@click.option("--avatar", default="", help="An http(s) URL.")
@acting
def profile_set(name: str, bio: str, avatar: str, rpc_url: str | None,
                keystore_path: Path | None, passphrase_file: Path | None,
                no_wait: bool) -> None:  # fmt: skip
    """Set your display name, bio and avatar URL (all three: empty clears)."""
    body = b.ProfileSet(name.encode(), bio.encode(), avatar.encode())
    _act("profile_set", body, rpc_url, keystore_path, passphrase_file, wait=_wait(no_wait))


@profile.command("show")
@click.argument("who", required=False)
@rpc_option
@keystore_option
@handles_errors
def profile_show(who: str | None, rpc_url: str | None, keystore_path: Path | None) -> None:
    """A profile with its counts (yours by default)."""
    me = None
    try:
        me = public_key(keystore_path)
    except AgoraError:  # no keystore: show the profile without the relation
        me = None
    params = {"account": who or me, "viewer": me if who else None}
    console().print(profile_table(client(rpc_url).call("social_getProfile", params)))


# --- posting


def _simple(name: str, kind: str, help_: str, make: Callable[..., msgspec.Struct],
            args: tuple[str, ...]) -> None:  # fmt: skip
    def cmd(rpc_url: str | None, keystore_path: Path | None, passphrase_file: Path | None,
            no_wait: bool, **kw: str) -> None:  # fmt: skip
        _act(kind, make(**kw), rpc_url, keystore_path, passphrase_file, wait=_wait(no_wait))

    cmd.__doc__ = help_
    fn: Any = acting(cmd)
    for a in reversed(args):
        fn = click.argument(a)(fn)
    main.command(name)(fn)


_simple("post", "post", "Post TEXT.", lambda text: b.Post(text.encode()), ("text",))
_simple(
    "reply",
    "post",
    "Reply to the post ID with TEXT.",
    lambda id, text: b.Post(text.encode(), reply_to=post_id(id)),
    ("id", "text"),
)
_simple(
    "quote",
    "post",
    "Quote the post ID with TEXT.",
    lambda id, text: b.Post(text.encode(), quote_of=post_id(id)),
    ("id", "text"),
)
_simple("repost", "repost", "Repost the post ID.", lambda id: b.PostRef(post_id(id)), ("id",))
_simple(
    "unrepost", "unrepost", "Undo your repost of ID.", lambda id: b.PostRef(post_id(id)), ("id",)
)
_simple(
    "unlike", "unreact", "Undo your reaction to ID.", lambda id: b.PostRef(post_id(id)), ("id",)
)
_simple(
    "delete",
    "delete",
    "Delete your post ID: its text is erased on every node.",
    lambda id: b.PostRef(post_id(id)),
    ("id",),
)
_simple(
    "edit",
    "edit",
    "Replace the text of your post ID (the history is kept).",
    lambda id, text: b.Edit(post_id(id), text.encode()),
    ("id", "text"),
)
for _verb in ("follow", "unfollow", "mute", "unmute", "block", "unblock"):
    _simple(_verb, _verb, f"{_verb.capitalize()} ACCOUNT (@handle or 64-hex key).",
            target, ("account",))  # fmt: skip


@main.command("like")
@click.argument("id")
@click.option("--emoji", default="like", help='A reaction emoji instead of "like".')
@acting
def like(id: str, emoji: str, rpc_url: str | None, keystore_path: Path | None,
         passphrase_file: Path | None, no_wait: bool) -> None:  # fmt: skip
    """Like the post ID (or react with --emoji)."""
    _act("react", b.React(post_id(id), emoji), rpc_url, keystore_path, passphrase_file,
         wait=_wait(no_wait))  # fmt: skip


# --- reading


def _paging(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--cursor", default=None, help="Continue after this cursor.")(fn)
    fn = click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))(fn)
    return handles_errors(rpc_option(fn))


def _more(page: dict[str, Any]) -> None:
    if page.get("cursor"):
        console().print(f"more: --cursor {page['cursor']}")


@main.command("feed")
@click.option("--account", default=None, help="Whose feed (default: yours).")
@keystore_option
@_paging
def feed(account: str | None, keystore_path: Path | None, rpc_url: str | None, limit: int,
         cursor: str | None) -> None:  # fmt: skip
    """Your home feed: posts and reposts by the accounts you follow."""
    who = account or public_key(keystore_path)
    page = client(rpc_url).call(
        "social_getFeed", {"account": who, "cursor": cursor, "limit": limit}
    )
    console().print(posts_table("feed", page["items"], feed=True))
    _more(page)


@main.command("posts")
@click.argument("account")
@_paging
def posts(account: str, rpc_url: str | None, limit: int, cursor: str | None) -> None:
    """An account's posts, replies and reposts."""
    page = client(rpc_url).call(
        "social_getPosts", {"account": account, "cursor": cursor, "limit": limit}
    )
    console().print(posts_table(f"posts by {account}", page["items"], feed=True))
    _more(page)


@main.command("thread")
@click.argument("id")
@_paging
def thread(id: str, rpc_url: str | None, limit: int, cursor: str | None) -> None:
    """A thread: its root post and every reply, newest first."""
    th = client(rpc_url).call("social_getThread", {"post": id, "cursor": cursor, "limit": limit})
    console().print(thread_table(th))
    _more(th)


@main.command("show")
@click.argument("id")
@rpc_option
@handles_errors
def show_post(id: str, rpc_url: str | None) -> None:
    """One post with its edit history and reactions."""
    for t in post_detail(client(rpc_url).call("social_getPost", {"post": id})):
        console().print(t)


@main.command("search")
@click.argument("query")
@click.option("--in", "where", type=click.Choice(["posts", "profiles", "hashtags"]),
              default="posts", show_default=True)  # fmt: skip
@_paging
def search(query: str, where: str, rpc_url: str | None, limit: int, cursor: str | None) -> None:
    """Search posts (every word), profiles, or hashtags (by prefix); #tag lists its posts."""
    c = client(rpc_url)
    if where == "posts" and query.startswith("#"):
        page = c.call("social_getHashtag", {"tag": query, "cursor": cursor, "limit": limit})
        console().print(posts_table(query, page["items"], feed=False))
    elif where == "posts":
        page = c.call("social_searchPosts", {"query": query, "cursor": cursor, "limit": limit})
        console().print(posts_table(f"posts: {query}", page["items"], feed=False))
    elif where == "profiles":
        page = c.call("social_searchProfiles", {"query": query, "cursor": cursor, "limit": limit})
        console().print(accounts_table(f"profiles: {query}", page["items"]))
    else:
        page = c.call("social_searchHashtags", {"prefix": query, "cursor": cursor, "limit": limit})
        console().print(tags_table(f"hashtags: {query}", page["items"]))
    _more(page)


@main.command("trending")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 720))
@_paging
def trending(hours: int, rpc_url: str | None, limit: int, cursor: str | None) -> None:
    """The most used hashtags lately."""
    page = client(rpc_url).call(
        "social_getTrending", {"hours": hours, "cursor": cursor, "limit": limit}
    )
    console().print(tags_table(f"trending, last {hours} h", page["items"]))
    _more(page)


@main.command("notifications")
@click.option("--account", default=None, help="Whose (default: yours).")
@keystore_option
@_paging
def notifications(account: str | None, keystore_path: Path | None, rpc_url: str | None,
                  limit: int, cursor: str | None) -> None:  # fmt: skip
    """Mentions, replies, quotes, reposts, reactions and follows."""
    who = account or public_key(keystore_path)
    page = client(rpc_url).call(
        "social_getNotifications", {"account": who, "cursor": cursor, "limit": limit}
    )
    console().print(notifications_table(page["items"]))
    _more(page)


for _name, _method in (("followers", "social_getFollowers"), ("following", "social_getFollowing")):

    def _follows(account: str, rpc_url: str | None, limit: int, cursor: str | None,
                 _m: str = _method, _n: str = _name) -> None:  # fmt: skip
        page = client(rpc_url).call(_m, {"account": account, "cursor": cursor, "limit": limit})
        console().print(accounts_table(f"{_n} of {account}", page["items"]))
        _more(page)

    _follows.__doc__ = (
        "Who follows ACCOUNT, newest first."
        if _name == "followers"
        else "Whom ACCOUNT follows, newest first."
    )
    main.command(_name)(click.argument("account")(_paging(_follows)))


@bench.command("social")
@json_option
@click.option("--posts", default=1_000_000, show_default=True, type=click.IntRange(1))
@click.option("--accounts", default=10_000, show_default=True, type=click.IntRange(2))
@click.option("--follows", default=200, show_default=True, type=click.IntRange(0))
@dir_option("SQLite files")
@click.option("--keep-db", type=click.Path(file_okay=False, path_type=Path), default=None,
              hidden=True)  # fmt: skip
def bench_social(as_json: bool, posts: int, accounts: int, follows: int,
                 workdir: Path | None, keep_db: Path | None) -> None:  # fmt: skip
    """Index N signed posts through the real execution path; time feeds, threads, search.

    The last line printed is one JSON object: posts, ingest_posts_per_s, verify_per_s,
    feed_ms_p50/p99, thread_ms_p99, search_ms_p50/p99, db_bytes_per_post, peak_rss_mb."""
    import json

    from agora.social.bench import run

    def progress(msg: str) -> None:
        if not as_json:
            click.echo(f"… {msg}", err=True)

    r = run(posts, accounts, min(follows, accounts - 1), workdir, progress, keep=keep_db)
    if not as_json:
        rows = [
            ("posts", f"{r['posts']:,}"),
            ("ingest", f"{r['ingest_posts_per_s']:,} posts/s"),
            (f"raw Ed25519 verify, {r['cores']} cores", f"{r['verify_per_s']:,}/s"),
            ("ratio ingest / verify", str(r["ratio"])),
            ("likes ingest", f"{r['ingest_likes_per_s']:,} /s"),
            ("home feed, 50 posts p50 / p99", f"{r['feed_ms_p50']} / {r['feed_ms_p99']} ms"),
            ("thread p50 / p99", f"{r['thread_ms_p50']} / {r['thread_ms_p99']} ms"),
            ("search p50 / p99", f"{r['search_ms_p50']} / {r['search_ms_p99']} ms"),
            ("database bytes per post", f"{r['db_bytes_per_post']:,}"),
            ("peak RSS", f"{r['peak_rss_mb']} MB"),
        ]
        for label, value in rows:
            click.echo(f"{label:<34}{value:>22}")
    click.echo(json.dumps(r))
