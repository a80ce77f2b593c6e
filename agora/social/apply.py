"""What each social kind writes: its KV keys (the root) and its index rows, and the
events subscribers get. Runs after the kind's check passed on the same state."""

from __future__ import annotations

from typing import Any

from agora.blockchain.module import ApplyContext
from agora.social import posts, tiers
from agora.social import schema as sc
from agora.social import state as st
from agora.social.batch import REACTIONS
from agora.social.index import IndexWriter
from agora.social.rules import Plan
from agora.social.views import AccountRef, NotificationEvent, PostEvent


class Applier:
    def __init__(self, writer: IndexWriter) -> None:
        self.w = writer

    # --- helpers

    def ref(self, ctx: ApplyContext, key: bytes) -> AccountRef:
        h = ctx.get(st.name_key(key))
        return AccountRef(key.hex(), None if h is None else h.decode())

    def notify(
        self,
        ctx: ApplyContext,
        nid: int,
        recipient: bytes,
        kind: int,
        actor: int,
        subject: int | None,
        subject_id: bytes | None,
        post_id: bytes | None = None,
        reaction: str | None = None,
    ) -> None:
        rid = self.w.account(ctx.conn, recipient, nid >> 8)
        self.w.notify(nid, rid, kind, actor, subject, ctx.time_ms)
        item = NotificationEvent(
            sc.NOTIFICATION_KINDS[kind],
            recipient.hex(),
            self.ref(ctx, ctx.sender),
            ctx.time_ms,
            ctx.height,
            None if post_id is None else post_id.hex(),
            None if subject_id is None else subject_id.hex(),
            reaction,
        )
        ctx.emit("notification", nid=nid, item=item)

    # --- posts

    def post(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        sender, pid = ctx.sender, ctx.tx_hash
        ctx.put(st.post_key(pid), st.dump_post(st.PostState(sender, seq, False)))
        c = ctx.conn
        aid = self.w.account(c, sender, seq)
        if body is None:
            posts.tombstone(c, seq, pid, aid, ctx.time_ms)
            return
        parent, quote = plan.parent, plan.quote
        posts.add_post(
            self.w, c, seq, pid, aid, ctx.time_ms, plan.text,
            None if parent is None else parent.seq,
            None if quote is None else quote.seq,
            plan.tags,
        )  # fmt: skip
        me = self.ref(ctx, sender)
        ctx.emit(
            "post",
            seq=seq,
            item=PostEvent(
                "post", pid.hex(), me, ctx.time_ms, ctx.height, pid.hex(), me, plan.text,
                None if body.reply_to is None else body.reply_to.hex(),
                None if body.quote_of is None else body.quote_of.hex(),
            ),
        )  # fmt: skip
        done: set[bytes] = {sender}
        n = 0
        if parent is not None and parent.author not in done:
            self.notify(ctx, seq << 8, parent.author, sc.REPLY, aid, parent.seq, body.reply_to, pid)
            done.add(parent.author)
            n += 1
        if quote is not None and quote.author not in done:
            self.notify(
                ctx, seq << 8 | n, quote.author, sc.QUOTE, aid, quote.seq, body.quote_of, pid
            )
            done.add(quote.author)
            n += 1
        for who in plan.mentioned:
            if who not in done:
                self.notify(ctx, seq << 8 | n, who, sc.MENTION, aid, seq, pid, pid)
                done.add(who)
                n += 1

    def edit(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        if body is None:
            return  # erased with its post: nothing of it is indexed anywhere
        assert plan.post is not None
        posts.edit_post(
            self.w, ctx.conn, plan.post.seq, body.post, seq, ctx.tx_hash, ctx.time_ms,
            plan.text, plan.tags,
        )  # fmt: skip

    def delete(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        p = plan.post
        assert p is not None
        ctx.put(st.post_key(body.post), st.dump_post(st.PostState(p.author, p.seq, True)))
        ctx.erase_body(body.post)
        posts.delete_post(self.w, ctx.conn, p.seq, ctx.erase_body)

    def repost(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        p = plan.post
        assert p is not None
        sender = ctx.sender
        ctx.put(st.repost_key(body.post, sender), st.seq_bytes(seq))
        c = ctx.conn
        aid = self.w.account(c, sender, seq)
        posts.add_repost(self.w, seq, ctx.tx_hash, aid, ctx.time_ms, p.seq)
        me = self.ref(ctx, sender)
        item = PostEvent(
            "repost", ctx.tx_hash.hex(), me, ctx.time_ms, ctx.height, body.post.hex(),
            self.ref(ctx, p.author),
        )  # fmt: skip
        ctx.emit("post", seq=seq, item=item)
        if p.author != sender:
            self.notify(ctx, seq << 8, p.author, sc.REPOST, aid, p.seq, body.post, ctx.tx_hash)

    def unrepost(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        ctx.delete(st.repost_key(body.post, ctx.sender))
        assert plan.post is not None
        posts.remove_repost(ctx.conn, st.seq_from(plan.raw), plan.post.seq)

    # --- reactions

    def react(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        p = plan.post
        assert p is not None
        sender = ctx.sender
        ctx.put(st.reaction_key(body.post, sender), st.seq_bytes(seq) + body.reaction.encode())
        aid = self.w.account(ctx.conn, sender, seq)
        self.w.batch.reactions.append((p.seq, aid, body.reaction, seq))
        self.w.batch.count(p.seq, REACTIONS)
        if p.author != sender:
            self.notify(
                ctx, seq << 8, p.author, sc.REACTION, aid, p.seq, body.post, None, body.reaction
            )

    def unreact(self, ctx: ApplyContext, body: Any, plan: Plan, seq: int) -> None:
        sender = ctx.sender
        ctx.delete(st.reaction_key(body.post, sender))
        assert plan.post is not None
        c = ctx.conn
        aid = self.w.account(c, sender, seq)
        c.execute(
            "DELETE FROM social_reactions WHERE post = ? AND account = ?", (plan.post.seq, aid)
        )
        c.execute(
            "UPDATE social_posts SET reactions = reactions - 1 WHERE seq = ?", (plan.post.seq,)
        )
        nid = st.seq_from(plan.raw) << 8
        tiers.delete(c, tiers.NOTES, "id = ?", (nid,))
