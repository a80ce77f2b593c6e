"""Social tx bodies: canonical msgpack arrays a browser can build (str, bytes, int, nil).

Free text travels as UTF-8 **bytes**, not msgpack str: the module decodes it
itself, so invalid UTF-8 is refused with its own code (`invalid_utf8`) rather
than as an undecodable body. Identifiers (handles, reactions) are msgpack str:
invalid UTF-8 there is `bad_body` (the codec's `undecodable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from agora.blockchain.module import KindSpec
from agora.blockchain.tx import Key32
from agora.codec import Canonical

MAX_POST_CHARS_LIMIT = 10_000  # the genesis may not set max_post_chars above this
_TEXT_BYTES = 4 * MAX_POST_CHARS_LIMIT
Short = Annotated[str, msgspec.Meta(max_length=64)]
Text = Annotated[bytes, msgspec.Meta(max_length=_TEXT_BYTES)]
Field = Annotated[bytes, msgspec.Meta(max_length=2048)]


class HandleRegister(Canonical, frozen=True):
    handle: Short


class HandleTransfer(Canonical, frozen=True):
    handle: Short
    to: Key32


class ProfileSet(Canonical, frozen=True):
    display_name: Field
    bio: Field
    avatar_url: Field


class Post(Canonical, frozen=True):
    text: Text
    reply_to: Key32 | None = None  # post ids are tx hashes
    quote_of: Key32 | None = None


class Edit(Canonical, frozen=True):
    post: Key32
    text: Text


class PostRef(Canonical, frozen=True):
    """repost, unrepost, unreact, delete."""

    post: Key32


class React(Canonical, frozen=True):
    post: Key32
    reaction: Short  # "like" or an emoji


class Target(Canonical, frozen=True):
    """follow, unfollow, mute, unmute, block, unblock: an account by key, or by handle
    when `key` is empty (then the handle is resolved when the tx executes)."""

    key: bytes
    handle: Short = ""


class SocialParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`genesis.modules["social"]`."""

    max_post_chars: int = 1000
    handle_fee: int = 100  # the envelope fee a handle registration must pay at least
    max_name_chars: int = 50
    max_bio_chars: int = 300
    max_url_chars: int = 200


_TEXT_BODY = _TEXT_BYTES + 128
KINDS: Mapping[str, KindSpec] = {
    "handle_register": KindSpec(HandleRegister, 128, quota_cost=10),
    "handle_transfer": KindSpec(HandleTransfer, 128),
    "profile_set": KindSpec(ProfileSet, 3 * 2048 + 16),
    "post": KindSpec(Post, _TEXT_BODY, erasable=True),
    "edit": KindSpec(Edit, _TEXT_BODY, erasable=True),
    "delete": KindSpec(PostRef, 64),
    "repost": KindSpec(PostRef, 64),
    "unrepost": KindSpec(PostRef, 64),
    "react": KindSpec(React, 128),
    "unreact": KindSpec(PostRef, 64),
    "follow": KindSpec(Target, 128),
    "unfollow": KindSpec(Target, 128),
    "mute": KindSpec(Target, 128),
    "unmute": KindSpec(Target, 128),
    "block": KindSpec(Target, 128),
    "unblock": KindSpec(Target, 128),
}
