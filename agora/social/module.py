"""`SocialModule`: the social tx kinds as a module of the state machine.

    chain = Chain.open(path, genesis, modules=[SocialModule()])

`check` runs in the mempool and again at execution, `apply` right after it
(the plan `check` made is reused). Both see a body of None when the tx's body
was erased by a later delete and this node received it that way. Every refusal
is raised before `apply` writes anything (see index.py: no savepoint per tx).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agora.blockchain.genesis import Genesis
from agora.blockchain.module import ApplyContext, KindSpec, StateView
from agora.blockchain.tx import MAX_INT, Tx
from agora.errors import RemoteError
from agora.social import rules
from agora.social.batch import Batch
from agora.social.bodies import KINDS, MAX_POST_CHARS_LIMIT, SocialParams
from agora.social.graph import GraphApplier
from agora.social.index import IndexWriter
from agora.social.rules import Plan, Reads
from agora.social.schema import MIGRATIONS
from agora.social.state import seq_of

NAME = "social"
_CORE_ACCOUNT = b"a/"


class _ViewReads:
    __slots__ = ("_v",)

    def __init__(self, view: StateView) -> None:
        self._v = view

    def get(self, key: bytes) -> bytes | None:
        return self._v.get(NAME, key)

    def has_account(self, key: bytes) -> bool:
        return self._v.get("core", _CORE_ACCOUNT + key) is not None


def params_of(genesis: Genesis) -> SocialParams:
    p = genesis.module_params(NAME, SocialParams)
    if not 1 <= p.max_post_chars <= MAX_POST_CHARS_LIMIT:
        msg = f"modules.social.max_post_chars must be 1..{MAX_POST_CHARS_LIMIT}"
        raise RemoteError(msg, code="bad_genesis")
    if not 0 <= p.handle_fee <= MAX_INT:
        raise RemoteError("modules.social.handle_fee out of range", code="bad_genesis")
    if (
        min(p.max_name_chars, p.max_bio_chars, p.max_url_chars) < 0
        or max(p.max_name_chars, p.max_bio_chars, p.max_url_chars) > 500
    ):
        raise RemoteError("modules.social profile limits must be 0..500", code="bad_genesis")
    return p


Check = Callable[[Reads, Tx, Any, SocialParams], Plan]

_CHECKS: dict[str, Check] = {
    "handle_register": lambda r, tx, b, p: rules.check_register(
        r, tx.envelope.sender, b, tx.envelope.fee, p
    ),
    "handle_transfer": lambda r, tx, b, p: rules.check_transfer(r, tx.envelope.sender, b),
    "profile_set": lambda r, tx, b, p: rules.check_profile(b, p),
    "post": lambda r, tx, b, p: rules.check_post(r, tx.envelope.sender, b, p),
    "edit": lambda r, tx, b, p: rules.check_edit(r, tx.envelope.sender, b, p),
    "delete": lambda r, tx, b, p: rules.check_delete(r, tx.envelope.sender, b),
    "repost": lambda r, tx, b, p: rules.check_repost(r, tx.envelope.sender, b),
    "unrepost": lambda r, tx, b, p: rules.check_unrepost(r, tx.envelope.sender, b),
    "react": lambda r, tx, b, p: rules.check_react(r, tx.envelope.sender, b),
    "unreact": lambda r, tx, b, p: rules.check_unreact(r, tx.envelope.sender, b),
    "follow": lambda r, tx, b, p: rules.check_follow(r, tx.envelope.sender, b),
    "unfollow": lambda r, tx, b, p: rules.check_unfollow(r, tx.envelope.sender, b),
    "mute": lambda r, tx, b, p: rules.check_hide(r, tx.envelope.sender, b, "mute", True),
    "unmute": lambda r, tx, b, p: rules.check_hide(r, tx.envelope.sender, b, "mute", False),
    "block": lambda r, tx, b, p: rules.check_hide(r, tx.envelope.sender, b, "block", True),
    "unblock": lambda r, tx, b, p: rules.check_hide(r, tx.envelope.sender, b, "block", False),
}
_ERASABLE = frozenset(k for k, s in KINDS.items() if s.erasable)
# Kinds that only add index rows (batch.py); any other kind may read or remove rows,
# so the block's batch is written out before it runs.
_APPEND_ONLY = frozenset({"post", "react", "repost", "follow"})


class SocialModule:
    name = NAME
    kinds: Mapping[str, KindSpec] = KINDS
    migrations: Sequence[str] = MIGRATIONS

    def __init__(self) -> None:
        self.writer = IndexWriter()
        self._applier = GraphApplier(self.writer)
        self._params: tuple[Genesis, SocialParams] | None = None
        self._last: tuple[Tx, Plan] | None = None  # the plan of the tx `check` saw last

    def params(self, genesis: Genesis) -> SocialParams:
        cached = self._params
        if cached is None or cached[0] is not genesis:
            cached = self._params = (genesis, params_of(genesis))
        return cached[1]

    def _plan(self, tx: Tx, body: Any, r: Reads, genesis: Genesis) -> Plan:
        if body is None:
            return Plan()  # erased: the commit vouches that it passed (see rules.py)
        return _CHECKS[tx.envelope.kind](r, tx, body, self.params(genesis))

    def check(self, tx: Tx, body: Any, state: StateView) -> None:
        self._last = None
        plan = self._plan(tx, body, _ViewReads(state), state.genesis)
        self._last = (tx, plan)

    def apply(self, tx: Tx, body: Any, ctx: ApplyContext) -> None:
        last, self._last = self._last, None
        if last is not None and last[0] is tx:
            plan = last[1]
        else:
            plan = self._plan(tx, body, _ViewReads(ctx.view), ctx.view.genesis)
        seq = seq_of(ctx.height, ctx.tx_index)
        batch = ctx.block.get(NAME)
        if batch is None:
            batch = ctx.block[NAME] = Batch()
            self.writer.new_block(batch)
        kind = tx.envelope.kind
        if kind not in _APPEND_ONLY or body is None:
            batch.write(ctx.conn)
        getattr(self._applier, kind)(ctx, body, plan, seq)

    def end_block(self, scratch: Batch, conn: sqlite3.Connection) -> None:
        scratch.write(conn)

    def genesis(self, genesis: Genesis, ctx: ApplyContext) -> None:
        params_of(genesis)  # refuse bad parameters before the first block


def is_erasable(kind: str) -> bool:
    return kind in _ERASABLE
