"""Checking user text and finding the mentions and hashtags in it.

Every rule here is part of consensus (it decides whether a tx fails), so it
must give the same answer on every node: only the standard library's `re` and
`unicodedata` of the pinned Python, no locale.
"""

from __future__ import annotations

import re
import unicodedata

from agora.blockchain.tx import TxError

HANDLE = re.compile(r"[a-z0-9_]{3,20}")
# C0 and C1 controls and DEL; newline and tab are allowed where `multiline`.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A literal first character lets `re` skip ahead; what may precede is checked by hand.
_MENTION = re.compile(r"@([A-Za-z0-9_]{3,20})(?![\w@])")
_HASHTAG = re.compile(r"#(\w{1,50})(?!\w)")
MAX_MENTIONS = 10
MAX_TAGS = 10
_REACTION_CATEGORIES = frozenset({"So", "Sk", "Mn", "Me", "Cf"})


def decode_text(raw: bytes, field: str, limit: int, *, multiline: bool, code: str) -> str:
    """UTF-8 text of at most `limit` characters; TxError with a specific code otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TxError("invalid_utf8", f"{field}: invalid UTF-8 at byte {e.start}") from None
    bad = (_CONTROL if multiline else _CONTROL_LINE).search(text)
    if bad is not None:
        ch = ord(bad.group())
        raise TxError("control_characters", f"{field}: control character U+{ch:04X}")
    if len(text) > limit:
        raise TxError(code, f"{field}: {len(text)} characters > {limit}")
    return text


def check_handle(handle: str) -> str:
    if HANDLE.fullmatch(handle) is None:
        raise TxError("bad_handle", "a handle is 3-20 characters of a-z, 0-9 and _")
    return handle


def check_url(url: str) -> None:
    if url and (not url.startswith(("https://", "http://")) or " " in url):
        raise TxError("bad_url", "the avatar URL must be empty or an http(s) URL without spaces")


def check_reaction(reaction: str) -> None:
    """ "like", or one emoji (up to 8 code points: ZWJ sequences, skin tones, flags)."""
    if reaction == "like":
        return
    if not 1 <= len(reaction) <= 8 or not all(
        unicodedata.category(c) in _REACTION_CATEGORIES for c in reaction
    ):
        raise TxError("bad_reaction", 'a reaction is "like" or one emoji')


def _after(text: str, i: int, marks: str) -> bool:
    """Whether position `i` follows a word character or one of `marks` (then it is not a
    mention or tag: `a@b`, `@@x`, `x#1`, `&#39;`)."""
    if i == 0:
        return False
    c = text[i - 1]
    return c in marks or c.isalnum() or c == "_"


def mentions(text: str) -> list[str]:
    """Handles mentioned with @, lowercased, first occurrence first, at most MAX_MENTIONS."""
    out: list[str] = []
    if "@" not in text:
        return out
    for m in _MENTION.finditer(text):
        if _after(text, m.start(), "@"):
            continue
        h = m.group(1).lower()
        if h not in out:
            out.append(h)
            if len(out) == MAX_MENTIONS:
                break
    return out


def hashtags(text: str) -> list[str]:
    """#tags, casefolded, first occurrence first, at most MAX_TAGS; all-digit tags are not tags."""
    out: list[str] = []
    if "#" not in text:
        return out
    for m in _HASHTAG.finditer(text):
        if _after(text, m.start(), "#&"):
            continue
        tag = m.group(1).casefold()
        if tag.isdigit() or not tag.strip("_"):
            continue
        if tag not in out:
            out.append(tag)
            if len(out) == MAX_TAGS:
                break
    return out
