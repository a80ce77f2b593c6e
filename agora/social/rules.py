"""The entry checks of every social kind: mempool and execution run the same ones.

Each returns a small plan (what it resolved: the target account, the parent
post, the mentioned accounts...) that `apply` reuses. They read only the KV,
so their verdict is consensus. A body erased by a delete arrives as None: the
tx succeeded when it first executed (a failed post is never in the KV, so it
cannot be deleted), its commit vouches for it, and only the envelope part runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Protocol

from agora.blockchain.tx import TxError
from agora.social import state as st
from agora.social.bodies import (
    Edit,
    HandleRegister,
    HandleTransfer,
    Post,
    PostRef,
    ProfileSet,
    React,
    SocialParams,
    Target,
)
from agora.social.text import (
    check_handle,
    check_reaction,
    check_url,
    decode_text,
    hashtags,
    mentions,
)


class Reads(Protocol):
    def get(self, key: bytes) -> bytes | None: ...  # a social key
    def has_account(self, key: bytes) -> bool: ...  # a core account exists


@dataclass(slots=True)
class Plan:
    text: str = ""
    target: bytes = b""  # an account (follow...) or the post's author
    post: st.PostState | None = None  # the post acted on (repost, react, edit, delete)
    parent: st.PostState | None = None
    quote: st.PostState | None = None
    mentioned: list[bytes] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    profile: tuple[str, str, str] = ("", "", "")
    raw: bytes = b""  # a KV value read by the check (reaction, repost, follow)


def _blocked(r: Reads, owner: bytes, who: bytes) -> bool:
    # Most accounts block nobody: their (cached) count spares a lookup of a key that
    # does not exist, which the state cache cannot answer without reading the table.
    if r.get(st.blocks_count_key(owner)) is None:
        return False
    return r.get(st.block_key(owner, who)) is not None


def live_post(r: Reads, post_id: bytes, what: str = "post") -> st.PostState:
    p = st.load_post(r.get(st.post_key(post_id)))
    if p is None:
        raise TxError("unknown_post", f"{what}: no such post")
    if p.deleted:
        raise TxError("post_deleted", f"{what}: the post was deleted")
    return p


def _own_post(r: Reads, post_id: bytes, sender: bytes) -> st.PostState:
    p = st.load_post(r.get(st.post_key(post_id)))
    if p is None:
        raise TxError("unknown_post", "no such post")
    if p.author != sender:
        raise TxError("not_author", "only its author may edit or delete a post")
    if p.deleted:
        raise TxError("post_deleted", "the post was deleted")
    return p


def resolve(r: Reads, t: Target) -> bytes:
    if t.key:
        if len(t.key) != 32 or t.handle:
            raise TxError("bad_target", "name an account by a 32-byte key or by a handle")
        if not r.has_account(t.key) and r.get(st.name_key(t.key)) is None:
            raise TxError("unknown_account", "no such account")
        return t.key
    owner = r.get(st.handle_key(check_handle(t.handle)))
    if owner is None:
        raise TxError("unknown_handle", f"@{t.handle} is not registered")
    return owner


@functools.lru_cache(maxsize=32_768)
def parse_post_text(raw: bytes, limit: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The text, its mentions and its hashtags. Pure, so the mempool's work is reused when
    the same body executes in a block."""
    text = decode_text(raw, "text", limit, multiline=True, code="post_too_long")
    if not text.strip():
        raise TxError("empty_post", "a post needs some text")
    return text, tuple(mentions(text)), tuple(hashtags(text))


def _mentioned(r: Reads, handles: tuple[str, ...], sender: bytes) -> list[bytes]:
    out: list[bytes] = []
    for h in handles:
        owner = r.get(st.handle_key(h))
        if owner is None:
            continue  # not a handle: just text
        if _blocked(r, owner, sender):
            raise TxError("blocked", f"@{h} blocked you: you cannot mention them")
        if owner != sender and owner not in out:
            out.append(owner)
    return out


def check_post(r: Reads, sender: bytes, body: Post, params: SocialParams) -> Plan:
    text, handles, tags = parse_post_text(body.text, params.max_post_chars)
    plan = Plan(text=text, tags=list(tags))
    if body.reply_to is not None:
        plan.parent = live_post(r, body.reply_to, "reply_to")
        if _blocked(r, plan.parent.author, sender):
            raise TxError("blocked", "the author of that post blocked you: you cannot reply")
    if body.quote_of is not None:
        plan.quote = live_post(r, body.quote_of, "quote_of")
        if _blocked(r, plan.quote.author, sender):
            raise TxError("blocked", "the author of that post blocked you: you cannot quote it")
    plan.mentioned = _mentioned(r, handles, sender)
    return plan


def check_edit(r: Reads, sender: bytes, body: Edit, params: SocialParams) -> Plan:
    text, handles, tags = parse_post_text(body.text, params.max_post_chars)
    plan = Plan(text=text, tags=list(tags), post=_own_post(r, body.post, sender))
    plan.mentioned = _mentioned(r, handles, sender)
    return plan


def check_delete(r: Reads, sender: bytes, body: PostRef) -> Plan:
    return Plan(post=_own_post(r, body.post, sender))


def check_repost(r: Reads, sender: bytes, body: PostRef) -> Plan:
    p = live_post(r, body.post)
    if _blocked(r, p.author, sender):
        raise TxError("blocked", "the author of that post blocked you")
    if r.get(st.repost_key(body.post, sender)) is not None:
        raise TxError("already_reposted", "you already reposted that post")
    return Plan(post=p, target=p.author)


def check_unrepost(r: Reads, sender: bytes, body: PostRef) -> Plan:
    raw = r.get(st.repost_key(body.post, sender))
    if raw is None:
        raise TxError("not_reposted", "you have not reposted that post")
    return Plan(raw=raw, post=st.load_post(r.get(st.post_key(body.post))))


def check_react(r: Reads, sender: bytes, body: React) -> Plan:
    check_reaction(body.reaction)
    p = live_post(r, body.post)
    if _blocked(r, p.author, sender):
        raise TxError("blocked", "the author of that post blocked you")
    if r.get(st.reaction_key(body.post, sender)) is not None:
        raise TxError("already_reacted", "one reaction per post: undo it first")
    return Plan(post=p, target=p.author)


def check_unreact(r: Reads, sender: bytes, body: PostRef) -> Plan:
    raw = r.get(st.reaction_key(body.post, sender))
    if raw is None:
        raise TxError("not_reacted", "you have not reacted to that post")
    return Plan(raw=raw, post=st.load_post(r.get(st.post_key(body.post))))


def check_follow(r: Reads, sender: bytes, body: Target) -> Plan:
    t = resolve(r, body)
    if t == sender:
        raise TxError("follow_self", "you cannot follow yourself")
    if _blocked(r, t, sender):
        raise TxError("blocked", "that account blocked you")
    if _blocked(r, sender, t):
        raise TxError("blocked", "you blocked that account: unblock it first")
    if r.get(st.follow_key(sender, t)) is not None:
        raise TxError("already_following", "you already follow that account")
    return Plan(target=t)


def check_unfollow(r: Reads, sender: bytes, body: Target) -> Plan:
    t = resolve(r, body)
    raw = r.get(st.follow_key(sender, t))
    if raw is None:
        raise TxError("not_following", "you do not follow that account")
    return Plan(target=t, raw=raw)


def check_hide(r: Reads, sender: bytes, body: Target, kind: str, on: bool) -> Plan:
    """mute/unmute (kind "mute") and block/unblock (kind "block")."""
    t = resolve(r, body)
    if t == sender:
        raise TxError("self_target", f"you cannot {kind} yourself")
    key = st.mute_key(sender, t) if kind == "mute" else st.block_key(sender, t)
    present = r.get(key) is not None
    done = "muted" if kind == "mute" else "blocked"
    if on and present:
        raise TxError(f"already_{done}", f"you already {done} that account")
    if not on and not present:
        raise TxError(f"not_{done}", f"you have not {done} that account")
    return Plan(target=t)


def check_register(
    r: Reads, sender: bytes, body: HandleRegister, fee: int, p: SocialParams
) -> Plan:
    h = check_handle(body.handle)
    if fee < p.handle_fee:
        raise TxError("handle_fee", f"registering a handle costs a fee of {p.handle_fee}")
    if r.get(st.handle_key(h)) is not None:
        raise TxError("handle_taken", f"@{h} is taken")
    if r.get(st.name_key(sender)) is not None:
        raise TxError("has_handle", "this account already has a handle")
    return Plan(text=h)


def check_transfer(r: Reads, sender: bytes, body: HandleTransfer) -> Plan:
    h = check_handle(body.handle)
    owner = r.get(st.handle_key(h))
    if owner is None:
        raise TxError("unknown_handle", f"@{h} is not registered")
    if owner != sender:
        raise TxError("not_owner", f"@{h} is not yours")
    if body.to == sender:
        raise TxError("bad_target", "a handle transfer to oneself")
    if r.get(st.name_key(body.to)) is not None:
        raise TxError("has_handle", "the recipient already has a handle")
    return Plan(text=h, target=body.to)


def check_profile(body: ProfileSet, p: SocialParams) -> Plan:
    name = decode_text(
        body.display_name, "display_name", p.max_name_chars, multiline=False, code="field_too_long"
    )
    bio = decode_text(body.bio, "bio", p.max_bio_chars, multiline=True, code="field_too_long")
    url = decode_text(
        body.avatar_url, "avatar_url", p.max_url_chars, multiline=False, code="field_too_long"
    )
    check_url(url)
    return Plan(profile=(name, bio, url))
