"""Handles, profiles, follows, mutes and blocks: their KV keys and index rows."""

from __future__ import annotations

import sqlite3
from typing import Any

from agora.blockchain.module import ApplyContext
from agora.social import schema as sc
from agora.social import state as st
from agora.social.apply import Applier
from agora.social.rules import Plan


def _unfollow(ctx: ApplyContext, c: sqlite3.Connection, a: int, b: int, fseq: int) -> None:
    c.execute("DELETE FROM social_follows WHERE follower = ? AND seq = ?", (a, fseq))
    c.execute("UPDATE social_accounts SET following = following - 1 WHERE id = ?", (a,))
    c.execute("UPDATE social_accounts SET followers = followers - 1 WHERE id = ?", (b,))


class GraphApplier(Applier):
    def handle_register(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        ctx.put(st.handle_key(plan.text), ctx.sender)
        ctx.put(st.name_key(ctx.sender), plan.text.encode())
        c = ctx.conn
        self.w.set_profile(c, self.w.account(c, ctx.sender, seq), handle=plan.text)

    def handle_transfer(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        ctx.put(st.handle_key(plan.text), plan.target)
        ctx.delete(st.name_key(ctx.sender))
        ctx.put(st.name_key(plan.target), plan.text.encode())
        c = ctx.conn
        self.w.set_profile(c, self.w.account(c, ctx.sender, seq), handle=None)
        self.w.set_profile(c, self.w.account(c, plan.target, seq), handle=plan.text)

    def profile_set(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        c = ctx.conn
        name, bio, avatar = plan.profile
        aid = self.w.account(c, ctx.sender, seq)
        self.w.set_profile(c, aid, name=name, bio=bio, avatar=avatar)

    def follow(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        ctx.put(st.follow_key(ctx.sender, plan.target), st.seq_bytes(seq))
        c = ctx.conn
        a = self.w.account(c, ctx.sender, seq)
        b = self.w.account(c, plan.target, seq)
        c.execute(
            "INSERT INTO social_follows (follower, seq, followee) VALUES (?, ?, ?)", (a, seq, b)
        )
        c.execute("UPDATE social_accounts SET following = following + 1 WHERE id = ?", (a,))
        c.execute("UPDATE social_accounts SET followers = followers + 1 WHERE id = ?", (b,))
        self.notify(ctx, seq << 8, plan.target, sc.FOLLOW, a, None, None)

    def unfollow(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        ctx.delete(st.follow_key(ctx.sender, plan.target))
        c = ctx.conn
        a = self.w.account(c, ctx.sender, seq)
        _unfollow(ctx, c, a, self.w.account(c, plan.target, seq), st.seq_from(plan.raw))

    def _hide(self, ctx: ApplyContext, plan: Plan, seq: int, kind: int, on: bool) -> None:
        sender, t = ctx.sender, plan.target
        key = st.mute_key(sender, t) if kind == sc.MUTE else st.block_key(sender, t)
        c = ctx.conn
        a = self.w.account(c, sender, seq)
        b = self.w.account(c, t, seq)
        if kind == sc.BLOCK:
            self._count_blocks(ctx, 1 if on else -1)
        if not on:
            ctx.delete(key)
            q = "DELETE FROM social_hides WHERE owner = ? AND target = ? AND kind = ?"
            c.execute(q, (a, b, kind))
            return
        ctx.put(key, b"")
        q = "INSERT INTO social_hides (owner, target, kind) VALUES (?, ?, ?)"
        c.execute(q, (a, b, kind))
        if kind == sc.BLOCK:  # a block ends the follows both ways
            for x, y, ix, iy in ((sender, t, a, b), (t, sender, b, a)):
                raw = ctx.get(st.follow_key(x, y))
                if raw is not None:
                    ctx.delete(st.follow_key(x, y))
                    _unfollow(ctx, c, ix, iy, st.seq_from(raw))

    @staticmethod
    def _count_blocks(ctx: ApplyContext, delta: int) -> None:
        key = st.blocks_count_key(ctx.sender)
        raw = ctx.get(key)
        n = (0 if raw is None else st.seq_from(raw)) + delta
        if n > 0:
            ctx.put(key, st.seq_bytes(n))
        else:
            ctx.delete(key)

    def mute(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        self._hide(ctx, plan, seq, sc.MUTE, True)

    def unmute(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        self._hide(ctx, plan, seq, sc.MUTE, False)

    def block(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        self._hide(ctx, plan, seq, sc.BLOCK, True)

    def unblock(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        self._hide(ctx, plan, seq, sc.BLOCK, False)
