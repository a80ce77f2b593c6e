"""Fuzzed social bodies: decoding and the module's checks either accept or refuse with a
TxError (a stable code), never anything else; text rules agree with their definition."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from social_util import Net

from agora.blockchain.tx import TxError, make_tx
from agora.codec import encode
from agora.social import bodies as b
from agora.social.bodies import KINDS
from agora.social.text import decode_text, hashtags, mentions

KNOWN = {
    "bad_body", "tx_too_large", "post_too_long", "invalid_utf8", "control_characters",
    "empty_post", "field_too_long", "bad_url", "bad_handle", "handle_fee", "handle_taken",
    "has_handle", "unknown_handle", "not_owner", "unknown_account", "bad_target",
    "follow_self", "self_target", "already_following", "not_following", "already_muted",
    "not_muted", "already_blocked", "not_blocked", "blocked", "unknown_post", "post_deleted",
    "not_author", "bad_reaction", "already_reacted", "not_reacted", "already_reposted",
    "not_reposted", "fee_too_low",
}  # fmt: skip


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Net, bytes]]:
    n = Net(Path(tmp_path_factory.mktemp("fuzz")) / "c.sqlite")
    n.handle(0, "alice")
    p = n.post(0, "a post to point at")
    yield n, p
    n.close()


def _admit(n: Net, kind: str, body: bytes) -> str:
    """The stateless checks (decoding the body) then the module's check, as the mempool
    runs them; nothing is admitted, so every example sees the same state."""
    tx = make_tx(n.users[1], "agora-test", 1, kind, body, fee=100)
    try:
        reg, value = n.chain.registry.check(tx, encode(tx.envelope))
        reg.module.check(tx, value, n.chain.view())
    except TxError as e:
        return e.code
    return "ok"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=hs.sampled_from(sorted(KINDS)), raw=hs.binary(max_size=80))
def test_random_bytes_as_bodies(shared: tuple[Net, bytes], kind: str, raw: bytes) -> None:
    code = _admit(shared[0], kind, raw)
    assert code in KNOWN or code == "ok"


_text = hs.one_of(hs.binary(max_size=60), hs.text(max_size=60).map(lambda s: s.encode()))
_key = hs.one_of(hs.none(), hs.binary(min_size=32, max_size=32))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=hs.one_of(
        hs.builds(b.Post, _text, _key, _key),
        hs.builds(b.Edit, hs.binary(min_size=32, max_size=32), _text),
        hs.builds(b.React, hs.binary(min_size=32, max_size=32), hs.text(max_size=9)),
        hs.builds(b.Target, hs.binary(max_size=33), hs.text(max_size=22)),
        hs.builds(b.HandleRegister, hs.text(max_size=22)),
        hs.builds(b.ProfileSet, _text, _text, _text),
    ),
    point=hs.booleans(),
)
def test_structured_bodies(shared: tuple[Net, bytes], body: object, point: bool) -> None:
    n, p = shared
    if point and isinstance(body, b.Post):
        body = b.Post(body.text, p, None)
    kind = {
        b.Post: "post", b.Edit: "edit", b.React: "react", b.Target: "follow",
        b.HandleRegister: "handle_register", b.ProfileSet: "profile_set",
    }[type(body)]  # fmt: skip
    code = _admit(n, kind, encode(body))
    assert code in KNOWN or code == "ok"


@settings(max_examples=300, deadline=None)
@given(raw=hs.binary(max_size=40))
def test_decode_text_matches_its_rules(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        got = decode_text(raw, "t", 30, multiline=True, code="post_too_long")
    except TxError as e:
        if text is None:
            assert e.code == "invalid_utf8"
        elif any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in text):
            assert e.code == "control_characters"
        else:
            assert e.code == "post_too_long" and len(text) > 30
        return
    assert got == text and len(got) <= 30


@settings(max_examples=200, deadline=None)
@given(hs.text(max_size=200))
def test_mentions_and_tags_are_bounded_and_normal(text: str) -> None:
    m, t = mentions(text), hashtags(text)
    assert len(m) <= 10 and len(set(m)) == len(m)
    assert all(x == x.lower() and 3 <= len(x) <= 20 for x in m)
    assert len(t) <= 10 and len(set(t)) == len(t) and all(x == x.casefold() for x in t)
